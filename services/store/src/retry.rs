//! The one retry policy: every loop that retries a transient failure (a lost database or
//! broker connection, a serialisation conflict) waits by it.

use std::time::Duration;

use backon::ExponentialBuilder;

/// Exponential backoff from 50 ms to 5 s with jitter and no limit on attempts; a caller that
/// must give up adds `with_max_times`.
pub fn policy() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .without_max_times()
}
