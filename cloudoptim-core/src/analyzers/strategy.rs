//! Rightsizing strategies: how usage samples become a CPU and memory request.
//!
//! Both built-ins stream samples into a log-linear histogram (the exponent and the top five
//! mantissa bits of the `f64`: at most 1/32 ≈ 3 % relative bucket width, one shift and one add
//! per sample), so memory per container is constant however long the history is, and a
//! percentile is read as the upper edge of its bucket (never below the true value).
//!
//! - `percentile` (default; KRR's "simple"): CPU at a percentile (P95) of every sample, memory at
//!   the peak plus a buffer (15 %).
//! - `vpa` (the VPA recommender's constants): samples weighted by an exponential decay with a
//!   24-hour half-life; CPU at the weighted P90, memory at the weighted P90 of daily peaks, both
//!   plus a 15 % safety margin.

use std::sync::Arc;

use crate::model::ContainerUsage;

/// Sub-bucket bits: 2^5 buckets per power of two.
const SUB_BITS: u32 = 5;
/// Smallest exponent kept (2^-30 ≈ 1e-9; anything smaller counts as the first bucket).
const MIN_EXP: i64 = -30;
/// Largest exponent kept (2^50 ≈ 1e15 bytes).
const MAX_EXP: i64 = 50;
const BUCKETS: usize = ((MAX_EXP - MIN_EXP + 1) as usize) << SUB_BITS;

/// A log-linear histogram of non-negative values with weights.
#[derive(Debug, Clone)]
pub struct Histogram {
    weights: Vec<f64>,
    total: f64,
    max: f64,
    count: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            weights: vec![0.0; BUCKETS],
            total: 0.0,
            max: 0.0,
            count: 0,
        }
    }
}

#[inline]
fn bucket(v: f64) -> usize {
    if v <= 0.0 || v.is_nan() {
        return 0;
    }
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64 - 1023;
    if exp < MIN_EXP {
        return 0;
    }
    if exp > MAX_EXP {
        return BUCKETS - 1;
    }
    let sub = ((bits >> (52 - SUB_BITS)) & ((1 << SUB_BITS) - 1)) as usize;
    (((exp - MIN_EXP) as usize) << SUB_BITS) | sub
}

/// The upper edge of a bucket.
fn upper(b: usize) -> f64 {
    let exp = (b >> SUB_BITS) as i64 + MIN_EXP;
    let sub = (b & ((1 << SUB_BITS) - 1)) as f64;
    2f64.powi(exp as i32) * (1.0 + (sub + 1.0) / (1u64 << SUB_BITS) as f64)
}

impl Histogram {
    /// Adds a value with a weight.
    #[inline]
    pub fn add(&mut self, v: f64, w: f64) {
        self.weights[bucket(v)] += w;
        self.total += w;
        self.count += 1;
        if v > self.max {
            self.max = v;
        }
    }

    /// Adds many values with weight 1 (the hot loop of rightsizing).
    pub fn add_all(&mut self, values: impl IntoIterator<Item = f64>) {
        let mut max = self.max;
        let mut n = 0u64;
        for v in values {
            self.weights[bucket(v)] += 1.0;
            n += 1;
            if v > max {
                max = v;
            }
        }
        self.max = max;
        self.count += n;
        self.total += n as f64;
    }

    /// The value at or below which `p` (0–1) of the weight lies, as the upper edge of its bucket,
    /// and never above the largest value seen.
    pub fn percentile(&self, p: f64) -> f64 {
        if self.total <= 0.0 {
            return 0.0;
        }
        let target = self.total * p.clamp(0.0, 1.0);
        let mut acc = 0.0;
        for (b, w) in self.weights.iter().enumerate() {
            acc += w;
            if acc >= target && *w > 0.0 {
                return upper(b).min(self.max);
            }
        }
        self.max
    }

    /// The largest value seen.
    pub fn max(&self) -> f64 {
        self.max
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// A rightsizing strategy.
pub trait RightsizingStrategy: Send + Sync {
    /// Name (`percentile`, `vpa`).
    fn name(&self) -> &str;
    /// A (CPU cores, memory bytes) target from the usage series of a workload's containers;
    /// `now` is the end of the history (unix seconds).
    fn recommend(&self, series: &[&ContainerUsage], now: i64) -> (f64, f64);
    /// How the target was computed, for the explanation.
    fn describe(&self) -> String;
}

/// KRR's "simple" strategy: CPU at a percentile of all samples, memory at the peak plus a buffer.
#[derive(Debug, Clone)]
pub struct PercentileStrategy {
    /// CPU percentile, 0–100 (default 95).
    pub cpu_percentile: f64,
    /// Memory buffer over the peak (default 0.15).
    pub memory_buffer: f64,
}

impl Default for PercentileStrategy {
    fn default() -> Self {
        PercentileStrategy {
            cpu_percentile: 95.0,
            memory_buffer: 0.15,
        }
    }
}

impl RightsizingStrategy for PercentileStrategy {
    fn name(&self) -> &str {
        "percentile"
    }

    fn recommend(&self, series: &[&ContainerUsage], _now: i64) -> (f64, f64) {
        let mut h = Histogram::default();
        let mut peak: f64 = 0.0;
        for s in series {
            h.add_all(s.cpu.iter().map(|x| x.1));
            for m in &s.memory {
                peak = peak.max(m.1);
            }
        }
        (
            h.percentile(self.cpu_percentile / 100.0),
            peak * (1.0 + self.memory_buffer),
        )
    }

    fn describe(&self) -> String {
        format!(
            "CPU at P{} of every sample, memory at the peak + {:.0}%",
            self.cpu_percentile,
            self.memory_buffer * 100.0
        )
    }
}

/// The VPA recommender's estimator with its default constants.
#[derive(Debug, Clone)]
pub struct VpaStrategy {
    /// Half-life of sample weights, seconds (default 24 h).
    pub half_life_s: f64,
    /// Target percentile, 0–1 (default 0.9).
    pub percentile: f64,
    /// Safety margin (default 0.15).
    pub safety_margin: f64,
}

impl Default for VpaStrategy {
    fn default() -> Self {
        VpaStrategy {
            half_life_s: 86_400.0,
            percentile: 0.9,
            safety_margin: 0.15,
        }
    }
}

impl RightsizingStrategy for VpaStrategy {
    fn name(&self) -> &str {
        "vpa"
    }

    fn recommend(&self, series: &[&ContainerUsage], now: i64) -> (f64, f64) {
        let weight = |t: i64| 2f64.powf((t - now) as f64 / self.half_life_s);
        let mut cpu = Histogram::default();
        let mut mem = Histogram::default();
        for s in series {
            for &(t, v) in &s.cpu {
                cpu.add(v, weight(t));
            }
            // memory: the peak of each 24-hour window
            let mut day_peak: std::collections::BTreeMap<i64, f64> =
                std::collections::BTreeMap::new();
            for &(t, v) in &s.memory {
                let e = day_peak.entry(t.div_euclid(86_400)).or_insert(0.0);
                *e = e.max(v);
            }
            for (day, v) in day_peak {
                mem.add(v, weight(day * 86_400 + 43_200));
            }
        }
        let m = 1.0 + self.safety_margin;
        (
            cpu.percentile(self.percentile) * m,
            mem.percentile(self.percentile) * m,
        )
    }

    fn describe(&self) -> String {
        format!(
            "VPA's estimator: samples decayed with a {:.0} h half-life, CPU at the weighted P{:.0}, memory at the weighted P{:.0} of daily peaks, + {:.0}% margin",
            self.half_life_s / 3600.0,
            self.percentile * 100.0,
            self.percentile * 100.0,
            self.safety_margin * 100.0
        )
    }
}

/// A built-in strategy by name: `percentile` or `vpa`.
pub fn strategy_by_name(name: &str) -> Option<Arc<dyn RightsizingStrategy>> {
    match name {
        "percentile" | "simple" => Some(Arc::new(PercentileStrategy::default())),
        "vpa" => Some(Arc::new(VpaStrategy::default())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_percentiles_are_close_and_never_low() {
        let mut h = Histogram::default();
        let values: Vec<f64> = (1..=10_000).map(|i| i as f64 / 1000.0).collect();
        h.add_all(values.iter().copied());
        for p in [0.5, 0.9, 0.95, 0.99] {
            let exact = values[(p * values.len() as f64).ceil() as usize - 1];
            let got = h.percentile(p);
            assert!(
                got >= exact && got <= exact * 1.04,
                "p{p}: {got} vs {exact}"
            );
        }
        assert_eq!(h.percentile(1.0), 10.0);
        assert_eq!(h.count(), 10_000);
        assert_eq!(Histogram::default().percentile(0.5), 0.0);
    }

    #[test]
    fn memory_is_constant_per_container() {
        let mut h = Histogram::default();
        h.add_all((0..100_000).map(|i| i as f64));
        assert_eq!(
            h.weights.len(),
            BUCKETS,
            "adding samples never grows the histogram"
        );
        const { assert!(BUCKETS * 8 < 32 * 1024) };
    }

    #[test]
    fn vpa_weights_recent_samples_more() {
        let now = 10 * 86_400;
        // old high usage, recent low usage
        let s = ContainerUsage {
            cpu: (0..10 * 24)
                .map(|h| (h * 3600, if h < 5 * 24 { 2.0 } else { 0.5 }))
                .collect(),
            memory: (0..10 * 24).map(|h| (h * 3600, 1e9)).collect(),
        };
        let (vpa_cpu, vpa_mem) = VpaStrategy::default().recommend(&[&s], now);
        let (p_cpu, _) = PercentileStrategy::default().recommend(&[&s], now);
        assert!(
            vpa_cpu < p_cpu,
            "decay favours recent usage: {vpa_cpu} vs {p_cpu}"
        );
        assert!((vpa_mem / 1e9 - 1.15).abs() < 0.05);
        assert!(strategy_by_name("vpa").is_some() && strategy_by_name("nope").is_none());
    }
}
