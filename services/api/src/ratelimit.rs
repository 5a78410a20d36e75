//! Per-token rate limits: every bearer token has its own bucket (GCRA, as `governor` keeps
//! it), refilled at `per_second` and holding at most `burst` requests. A request over it is
//! answered 429 with `Retry-After`, before the request does any work, and kept in the access
//! audit like every other answer.
//!
//! The buckets are per process: behind several API processes a token may send the limit to
//! each. Tokens are bounded (registered agencies × roles × 20), so the buckets are too.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::Error;

/// How fast one token may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per second, sustained.
    pub per_second: NonZeroU32,
    /// Requests that may come at once after a quiet spell.
    pub burst: NonZeroU32,
}

impl RateLimit {
    /// 20 requests per second sustained, bursts of 100: far above what an agency's staff or
    /// system sends, far below what fills a disk.
    pub const DEFAULT: RateLimit = RateLimit {
        per_second: NonZeroU32::new(20).expect("non-zero"),
        burst: NonZeroU32::new(100).expect("non-zero"),
    };

    /// The limit from its settings; `per_second = 0` turns limiting off.
    pub fn from_settings(per_second: u32, burst: u32) -> Result<Option<RateLimit>, String> {
        let Some(per_second) = NonZeroU32::new(per_second) else {
            return Ok(None);
        };
        let burst = NonZeroU32::new(burst).ok_or_else(|| {
            "http.rate_limit_burst must be at least 1 when http.rate_limit_per_second is set"
                .to_owned()
        })?;
        Ok(Some(RateLimit { per_second, burst }))
    }
}

/// The buckets of one API service.
pub struct Limiter {
    limit: Option<RateLimit>,
    buckets: Option<DefaultKeyedRateLimiter<String>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// Buckets of `limit`, or none at all.
    pub fn new(limit: Option<RateLimit>) -> Self {
        let buckets =
            limit.map(|l| RateLimiter::keyed(Quota::per_second(l.per_second).allow_burst(l.burst)));
        Self { limit, buckets }
    }

    pub fn limit(&self) -> Option<RateLimit> {
        self.limit
    }

    /// Takes one request from `token`'s bucket, or says how long to wait.
    pub fn admit(&self, token: &str) -> Result<(), Error> {
        let (Some(buckets), Some(limit)) = (&self.buckets, self.limit) else {
            return Ok(());
        };
        match buckets.check_key(&token.to_owned()) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Err(Error::RateLimited {
                    retry_after: retry_after_seconds(wait),
                    detail: format!(
                        "token {token} sent more than {} requests per second (bursts of {}); retry after the time in Retry-After",
                        limit.per_second, limit.burst
                    ),
                })
            }
        }
    }
}

/// Whole seconds to wait, at least one (Retry-After has no fractions).
fn retry_after_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_second: u32, burst: u32) -> RateLimit {
        RateLimit::from_settings(per_second, burst)
            .expect("valid")
            .expect("on")
    }

    #[test]
    fn a_burst_passes_and_the_next_request_waits() {
        let limiter = Limiter::new(Some(limit(1, 3)));
        for _ in 0..3 {
            assert!(limiter.admit("t1").is_ok());
        }
        match limiter.admit("t1") {
            Err(Error::RateLimited { retry_after, .. }) => assert_eq!(retry_after, 1),
            other => panic!("expected a rate limit, got {other:?}"),
        }
    }

    #[test]
    fn tokens_have_their_own_buckets() {
        let limiter = Limiter::new(Some(limit(1, 1)));
        assert!(limiter.admit("t1").is_ok());
        assert!(limiter.admit("t1").is_err());
        assert!(limiter.admit("t2").is_ok());
    }

    #[test]
    fn zero_per_second_turns_limiting_off() {
        assert_eq!(RateLimit::from_settings(0, 0), Ok(None));
        let limiter = Limiter::new(None);
        for _ in 0..1000 {
            assert!(limiter.admit("t1").is_ok());
        }
        assert!(RateLimit::from_settings(5, 0).is_err());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(10)), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_seconds(Duration::from_millis(2001)), 3);
    }
}
