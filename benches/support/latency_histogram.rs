//! A fixed-size latency histogram: recording costs no allocation, and any quantile comes out
//! within 1/64 (about 1.6%) of the true value.
//!
//! Values below 128 ns each have a bucket; above, every power of two is cut into 64 equal
//! buckets. A quantile is reported as the middle of the bucket it falls in.

use std::time::Duration;

/// Buckets per power of two, as a power of two.
const SUB_BITS: u32 = 6;
const SUB_BUCKETS: usize = 1 << SUB_BITS;
/// Enough buckets for any `u64` number of nanoseconds.
const BUCKETS: usize = (64 - SUB_BITS as usize) * SUB_BUCKETS + 2 * SUB_BUCKETS;

/// Counts of latencies, in nanoseconds.
#[derive(Debug)]
pub(crate) struct LatencyHistogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
    sum_nanos: u128,
    max_nanos: u64,
}

impl LatencyHistogram {
    /// An empty histogram.
    pub(crate) fn new() -> Self {
        Self {
            counts: Box::new([0; BUCKETS]),
            total: 0,
            sum_nanos: 0,
            max_nanos: 0,
        }
    }

    /// Counts one latency.
    pub(crate) fn record(&mut self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.counts[bucket_of(nanos)] += 1;
        self.total += 1;
        self.sum_nanos += u128::from(nanos);
        self.max_nanos = self.max_nanos.max(nanos);
    }

    /// The latency that a `fraction` (0 to 1) of the counted ones do not exceed, in microseconds;
    /// 0 when nothing was counted.
    pub(crate) fn quantile_us(&self, fraction: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = ((self.total as f64 * fraction).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (bucket, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, width) = bounds_of(bucket);
                let middle = low as f64 + width as f64 / 2.0;
                return middle.min(self.max_nanos as f64) / 1000.0;
            }
        }
        self.max_nanos as f64 / 1000.0
    }

    /// The mean latency in microseconds; 0 when nothing was counted.
    pub(crate) fn mean_us(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        self.sum_nanos as f64 / self.total as f64 / 1000.0
    }

    /// The largest latency in microseconds.
    pub(crate) fn max_us(&self) -> f64 {
        self.max_nanos as f64 / 1000.0
    }
}

fn bucket_of(nanos: u64) -> usize {
    if nanos < 2 * SUB_BUCKETS as u64 {
        return nanos as usize;
    }
    let top_bit = 63 - nanos.leading_zeros();
    let shift = top_bit - SUB_BITS;
    shift as usize * SUB_BUCKETS + (nanos >> shift) as usize
}

/// The lowest value of `bucket` and how many values it holds.
fn bounds_of(bucket: usize) -> (u64, u64) {
    if bucket < 2 * SUB_BUCKETS {
        return (bucket as u64, 1);
    }
    let shift = (bucket / SUB_BUCKETS - 1) as u32;
    let mantissa = (bucket - shift as usize * SUB_BUCKETS) as u64;
    (mantissa << shift, 1 << shift)
}
