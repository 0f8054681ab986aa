//! Structured JSON logs, one object per line, which CloudWatch Logs Insights queries by field.

use tracing_subscriber::EnvFilter;

const DEFAULT_LEVEL: &str = "info";

/// Installs the JSON log subscriber. The level comes from `LOG_LEVEL` (default `info`; any
/// `tracing` filter such as `info,shared=debug` works; an invalid one falls back to `info` with a
/// warning rather than leaving the function without logs). Call once, first thing in `main`.
pub fn init() {
    let requested = std::env::var("LOG_LEVEL")
        .ok()
        .filter(|level| !level.trim().is_empty());
    let parsed = requested.as_deref().map(EnvFilter::try_new);
    let filter = match &parsed {
        Some(Ok(filter)) => filter.clone(),
        _ => EnvFilter::new(DEFAULT_LEVEL),
    };
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .init();
    if let Some(Err(error)) = parsed {
        tracing::warn!(%error, "LOG_LEVEL is not a valid filter; logging at info");
    }
}
