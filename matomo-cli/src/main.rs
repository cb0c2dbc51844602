//! `matomo-cli`: send test hits to Matomo and find out why hits don't arrive.
//!
//! The `send`, `check` and `listen` commands arrive with the `matomo-cli` issue; this binary already
//! says so plainly instead of pretending to work.
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "matomo-cli {}: no commands yet (send, check and listen are being built); \
         use the matomo-core crate from Rust meanwhile",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::from(2)
}
