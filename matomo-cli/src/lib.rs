//! `matomo-cli`'s library: argument parsing, the commands, and the parsers of outside input (the
//! lines `send --bulk` reads), so they can be tested and fuzzed.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[allow(missing_docs)]
pub mod args;
pub mod bulk;
pub mod check;
pub mod exit;
pub mod listen;
pub mod send;
pub mod setup;
