//! Logging through `tracing`. Filter from `GATEHOUSE_LOG` (or `RUST_LOG`), human or JSON lines.
//!
//! Nothing that is logged may contain a secret, password, code or token: request handlers log
//! client ids and outcomes, never request bodies or credentials.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(filter: Option<&str>, format: LogFormat) {
    let filter = EnvFilter::try_new(filter.unwrap_or("info")).unwrap_or_else(|e| {
        eprintln!("warning: ignoring invalid log filter ({e}); using \"info\"");
        EnvFilter::new("info")
    });
    use std::io::IsTerminal as _;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // A second init (tests running several commands in one process) is harmless; ignore it.
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
