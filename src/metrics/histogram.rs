//! A histogram of durations in atomics: one counter per bucket, the count and the sum.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Observations of durations in fixed buckets (upper bounds in seconds, ascending).
///
/// The sum is kept in whole microseconds, so observing is a few atomic additions.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// A histogram read at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Upper bound and the cumulative count at or below it; the last bound is infinite.
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    /// Seconds.
    pub sum: f64,
}

impl Histogram {
    /// An empty histogram over `bounds` (seconds, ascending).
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Records one duration.
    pub fn observe(&self, d: Duration) {
        let seconds = d.as_secs_f64();
        let index = self
            .bounds
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(self.bounds.len());
        if let Some(bucket) = self.buckets.get(index) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The cumulative buckets, count and sum. Read while others observe, the count may run a
    /// little ahead of the `+Inf` bucket; it is set to the `+Inf` count so the two agree.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut total = 0;
        let mut buckets = Vec::with_capacity(self.buckets.len());
        for (i, bucket) in self.buckets.iter().enumerate() {
            total += bucket.load(Ordering::Relaxed);
            let bound = self.bounds.get(i).copied().unwrap_or(f64::INFINITY);
            buckets.push((bound, total));
        }
        let micros = self.sum_micros.load(Ordering::Relaxed);
        HistogramSnapshot {
            buckets,
            count: total,
            sum: Duration::from_micros(micros).as_secs_f64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_end_in_infinity() {
        let h = Histogram::new(&[0.1, 1.0]);

        h.observe(Duration::from_millis(50));
        h.observe(Duration::from_millis(100));
        h.observe(Duration::from_millis(500));
        h.observe(Duration::from_secs(7));
        let snap = h.snapshot();

        assert_eq!(snap.buckets, vec![(0.1, 2), (1.0, 3), (f64::INFINITY, 4)]);
        assert_eq!(snap.count, 4);
        assert!((snap.sum - 7.65).abs() < 1e-9, "{}", snap.sum);
    }
}
