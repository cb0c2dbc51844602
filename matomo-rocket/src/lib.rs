//! Rocket 0.5 integration for [`matomo_core`]: every request tracked in Matomo, server-side, without
//! slowing the response.
//!
//! One table in `Rocket.toml` and one `.attach(...)`:
//!
//! ```toml
//! [default.matomo]
//! url = "https://matomo.example.org/matomo.php"
//! site_id = 1
//! ignore_paths = ["/health"]
//! ```
//!
//! ```no_run
//! # #[macro_use] extern crate rocket;
//! use matomo_rocket::MatomoFairing;
//!
//! #[get("/")]
//! fn index() -> &'static str { "hello" }
//!
//! #[launch]
//! fn rocket() -> _ {
//!     rocket::build().mount("/", routes![index]).attach(MatomoFairing::new())
//! }
//! ```
//!
//! - **Configuration** comes from Rocket's own figment: the `matomo` table of `Rocket.toml`
//!   (`[default.matomo]`, `[release.matomo]`, ...), `ROCKET_MATOMO='{url="…",site_id=1}'`, and the
//!   core's per-key `MATOMO_*` variables. Every key of [`matomo_core::TrackerConfig`] works. A bad
//!   config aborts launch with a message that names the key; `enabled = false` turns tracking off
//!   without removing the fairing.
//! - **Each response** becomes an [`HttpExchange`](matomo_core::HttpExchange) (method, path, query,
//!   status, headers, peer, server time, route name and URI template, and the page title of small
//!   HTML bodies) and is handed to the [`Tracker`](matomo_core::Tracker) with a non-blocking
//!   `try_send`: the response never waits for Matomo. Streamed bodies are never buffered; sized HTML
//!   bodies up to [`MAX_TITLE_BODY`] bytes are read for their `<title>` and handed back intact.
//! - **Server errors** (status 500-599, including handler panics, which Rocket answers with 500) are
//!   also sent as an event: category `HTTP Error`, action the status code, name the path; find them
//!   in Matomo under Behaviour > Events.
//! - **Handlers** use the [`Visit`] guard to set the user id or the action name, add custom
//!   dimensions, and send events, goals, site searches and ecommerce hits for the same visitor. The
//!   [`Tracker`](matomo_core::Tracker) itself is managed state (`&State<Tracker>`).
//! - **Shutdown** flushes within Rocket's shutdown grace period and logs what it could not deliver.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod capture;
mod fairing;
mod visit;

pub use fairing::{config_from_figment, MatomoFairing, MAX_TITLE_BODY};
pub use visit::Visit;

pub use matomo_core as core;

/// The READMEs' examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
