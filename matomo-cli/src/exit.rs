//! Exit codes: one per thing that can be wrong, so scripts can tell them apart.

use matomo_core::{RejectReason, TransportError};
use std::process::ExitCode;

/// What the command found; each has its own exit code (see `--help` and README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything worked.
    Ok = 0,
    /// Something else failed.
    Failed = 1,
    /// Bad usage or configuration (also clap's own code for usage errors).
    Usage = 2,
    /// The host name does not resolve.
    Dns = 3,
    /// The TCP connection failed (refused, reset, unreachable).
    Connect = 4,
    /// No connection or no answer in time.
    Timeout = 5,
    /// TLS failed (untrusted or mismatched certificate).
    Tls = 6,
    /// The URL answers, but not as a Matomo tracker (login page, 404, another app).
    NotMatomo = 7,
    /// Matomo refused the site id.
    SiteRejected = 8,
    /// Matomo refused the token (wrong, or without write access).
    TokenRejected = 9,
    /// Another HTTP error (5xx, 403, ...) or an unreadable answer.
    Http = 10,
    /// Matomo refused hits for a reason it does not name.
    Rejected = 11,
}

/// The exit-code table for `--help` and the README.
pub const TABLE: &str = "\
EXIT CODES:
   0  all good
   1  another failure
   2  bad usage or configuration (unparsable URL, site id 0, unreadable token file, bad input)
   3  DNS: the host name does not resolve
   4  connection failed (refused: nothing listens on that port)
   5  timeout: no connection or no answer in time
   6  TLS: the certificate is not trusted or not valid for the host (--ca-file adds a root)
   7  not a Matomo tracker at that URL (login page, 404, another application)
   8  Matomo refused the site id
   9  Matomo refused the token (wrong, or without write access to the site)
  10  another HTTP error (5xx, 403, ...) or an unreadable answer
  11  Matomo refused hits without saying why (send a token to learn which)";

impl Outcome {
    /// The process exit code.
    pub fn code(self) -> ExitCode {
        ExitCode::from(self as u8)
    }

    /// Classifies a delivery error; `token_hit` tells whether the hit needed the token.
    pub fn of(error: &TransportError, token_hit: bool) -> Outcome {
        match error {
            TransportError::Dns { .. } => Outcome::Dns,
            TransportError::Connect { .. } => Outcome::Connect,
            TransportError::Timeout { .. } => Outcome::Timeout,
            TransportError::Tls { .. } => Outcome::Tls,
            TransportError::NotMatomo { .. } => Outcome::NotMatomo,
            TransportError::Rejected { reason, .. } => match reason {
                RejectReason::LikelyBadToken => Outcome::TokenRejected,
                RejectReason::SiteIdOrToken if token_hit => Outcome::TokenRejected,
                RejectReason::SiteIdOrToken => Outcome::SiteRejected,
                _ => Outcome::Rejected,
            },
            TransportError::Status { .. } | TransportError::Protocol { .. } => Outcome::Http,
            _ => Outcome::Failed,
        }
    }

    /// What to do about it, in plain words.
    pub fn advice(self) -> &'static str {
        match self {
            Outcome::Ok => "",
            Outcome::Failed => "see the message above",
            Outcome::Usage => "fix the flag or setting named above",
            Outcome::Dns => "check the host name in --url and this machine's DNS",
            Outcome::Connect => "check host and port in --url, and that Matomo's web server runs and a firewall lets you through",
            Outcome::Timeout => "Matomo (or something in between) does not answer in time: check the network path, or raise --timeout",
            Outcome::Tls => "if Matomo uses an internal CA, pass its certificate with --ca-file; otherwise fix the server's certificate",
            Outcome::NotMatomo => "see the message above: a wrong path in --url, or something other than Matomo serving it",
            Outcome::SiteRejected => "check --site-id against Matomo > Administration > Websites > Manage",
            Outcome::TokenRejected => "check MATOMO_TOKEN_AUTH: the token must belong to a user with write access to the site",
            Outcome::Http => "Matomo or a proxy in front of it failed; look at its error log",
            Outcome::Rejected => "send the hits with a token to learn which were refused",
        }
    }
}
