//! Benchmarks: each prints its figures and writes them as JSON, with ratios against limits
//! measured in the same run. Never assertions on time: CI runs them small, as smoke tests.
//!
//! Each benchmark works in a database of its own, created for the run and dropped after.

pub mod api_postgres;
pub mod api_sqlite;
pub mod bus;
pub mod cpu;
pub mod pages;
pub mod pg_raw;
pub mod queries;
pub mod timers;

/// The value at quantile `q` (0..=1) of `sorted` (ascending), nearest rank; 0 when empty.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

#[cfg(test)]
mod tests {
    #[test]
    fn percentiles_take_the_nearest_rank() {
        let sorted: Vec<f64> = (1..=1000).map(f64::from).collect();
        assert_eq!(super::percentile(&sorted, 0.5), 501.0);
        assert_eq!(super::percentile(&sorted, 0.99), 990.0);
        assert_eq!(super::percentile(&sorted, 0.999), 999.0);
        assert_eq!(super::percentile(&[], 0.99), 0.0);
    }
}
