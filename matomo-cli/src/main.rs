//! `matomo-cli`: send test hits to Matomo and find out why hits don't arrive.
#![forbid(unsafe_code)]

use clap::Parser;
use matomo_cli::args::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.verbose {
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime ({error})");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Send(args) => matomo_cli::send::run(args).await,
            Command::Check(args) => matomo_cli::check::run(args).await,
            Command::Listen(args) => matomo_cli::listen::run(args).await,
        }
    });
    // Don't wait for connections the stand-in or the client still hold.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    outcome.code()
}
