//! Command-line arguments (clap derive).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Send test hits to Matomo and find out why hits don't arrive.
///
/// The token is read from MATOMO_TOKEN_AUTH or --token-file and is never printed.
#[derive(Debug, Parser)]
#[command(name = "matomo-cli", version, after_help = crate::exit::TABLE)]
pub struct Cli {
    /// Print what happens on the way (connections, answers) to standard error; never the token
    #[arg(long, short, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum Command {
    /// Send one test hit (or many with --bulk) and say what Matomo made of it.
    #[command(after_help = SEND_EXAMPLES)]
    Send(SendArgs),
    /// Walk the path a hit takes (URL, DNS, TCP, TLS, tracker, site id, token) and stop at the
    /// first broken step, saying what is wrong and what to do.
    #[command(after_help = CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// Run a local Matomo stand-in that prints each hit it receives and warns about what real
    /// Matomo would refuse.
    #[command(after_help = LISTEN_EXAMPLES)]
    Listen(ListenArgs),
}

const SEND_EXAMPLES: &str = "\
EXAMPLES:
  matomo-cli send --url https://matomo.example.org/matomo.php --site-id 1
  matomo-cli send --kind event --event-category Video --event-action Play --dry-run
  MATOMO_TOKEN_AUTH=... matomo-cli send --ip 203.0.113.9 --json
  printf 'idsite=1&rec=1&url=https%3A%2F%2Fa.example%2F\\n' | matomo-cli send --bulk

EXIT CODES: see `matomo-cli --help`.";

const CHECK_EXAMPLES: &str = "\
EXAMPLES:
  matomo-cli check --url https://matomo.example.org/matomo.php --site-id 1
  MATOMO_TOKEN_AUTH=... matomo-cli check --ca-file internal-ca.pem
  matomo-cli check --no-hit --json

The test hit is an event with category \"matomo-cli\" and action \"check\" (Behaviour > Events).

EXIT CODES: see `matomo-cli --help`.";

const LISTEN_EXAMPLES: &str = "\
EXAMPLES:
  matomo-cli listen --port 8089
  matomo-cli listen --site 1 --site 2 --json
Then point your tracker at http://127.0.0.1:8089/matomo.php.";

/// Where Matomo is, and how to reach it.
#[derive(Debug, Args)]
pub struct Target {
    /// The tracker endpoint, e.g. https://matomo.example.org/matomo.php
    #[arg(long, env = "MATOMO_URL", hide_env_values = true)]
    pub url: Option<String>,
    /// The site id (Matomo > Administration > Websites > Manage)
    #[arg(long, env = "MATOMO_SITE_ID", hide_env_values = true)]
    pub site_id: Option<String>,
    /// Read the token from this file (else MATOMO_TOKEN_AUTH); never printed
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// A PEM file of extra root certificates (an internal CA)
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// An HTTP proxy to reach Matomo through, or `none` to connect directly; unset, HTTPS_PROXY,
    /// HTTP_PROXY and NO_PROXY decide
    #[arg(long, env = "MATOMO_PROXY", value_name = "URL|none")]
    pub proxy: Option<String>,
    /// Seconds to wait for Matomo
    #[arg(long, default_value = "10", value_name = "SECONDS")]
    pub timeout: f64,
    /// Print machine-readable JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    /// A page view
    Pageview,
    /// An event (needs --event-category and --event-action)
    Event,
    /// A goal conversion (needs --goal-id)
    Goal,
    /// A site search (needs --search)
    Search,
    /// An outlink (needs --link)
    Outlink,
    /// A download (needs --link)
    Download,
    /// A ping
    Ping,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub target: Target,
    /// What to send
    #[arg(long, value_enum, default_value = "pageview")]
    pub kind: Kind,
    /// The page URL the hit is about
    #[arg(long, default_value = "https://matomo-cli.test/", value_name = "URL")]
    pub page_url: String,
    /// The action name (page title)
    #[arg(long, default_value = "matomo-cli test hit")]
    pub action_name: String,
    /// Event category
    #[arg(long)]
    pub event_category: Option<String>,
    /// Event action
    #[arg(long)]
    pub event_action: Option<String>,
    /// Event name
    #[arg(long)]
    pub event_name: Option<String>,
    /// Event value
    #[arg(long)]
    pub event_value: Option<f64>,
    /// Goal id
    #[arg(long)]
    pub goal_id: Option<u32>,
    /// Revenue (goal)
    #[arg(long)]
    pub revenue: Option<f64>,
    /// Site search keyword
    #[arg(long)]
    pub search: Option<String>,
    /// Site search category
    #[arg(long)]
    pub search_category: Option<String>,
    /// Site search result count
    #[arg(long)]
    pub search_count: Option<u64>,
    /// Link of an outlink or download
    #[arg(long)]
    pub link: Option<String>,
    /// Visitor id (16 hex digits), sent as cid
    #[arg(long, value_name = "HEX")]
    pub visitor_id: Option<String>,
    /// User id (uid)
    #[arg(long)]
    pub user_id: Option<String>,
    /// Visitor IP (cip); needs a token
    #[arg(long)]
    pub ip: Option<String>,
    /// User agent (ua)
    #[arg(long, default_value = concat!("matomo-cli/", env!("CARGO_PKG_VERSION")))]
    pub user_agent: String,
    /// Custom dimension, as ID=VALUE (repeatable)
    #[arg(long = "dimension", value_name = "ID=VALUE")]
    pub dimensions: Vec<String>,
    /// Print what would be sent (token shown as ***) and send nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Read hits from standard input, one query string or JSON object per line, and send them in bulk
    #[arg(long)]
    pub bulk: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub target: Target,
    /// Do not send the test hit (checks stop at "is it Matomo's tracker")
    #[arg(long)]
    pub no_hit: bool,
}

#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Port on 127.0.0.1 (0 picks a free one)
    #[arg(long, default_value = "8089")]
    pub port: u16,
    /// Site ids the stand-in knows (repeatable; default 1)
    #[arg(long = "site")]
    pub sites: Vec<u32>,
    /// The token the stand-in accepts, from this file (else MATOMO_TOKEN_AUTH)
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Print one JSON object per hit
    #[arg(long)]
    pub json: bool,
    /// Exit after this many hits (1 or more)
    #[arg(long, value_name = "N")]
    pub max_hits: Option<usize>,
}
