//! Spot risk: `risk = 0.60·rate + 0.25·volatility + 0.10·gap + 0.05·time`, each term in [0, 1].
//!
//! - **rate**: the Spot Advisor's interruption bucket for the type in the region, as the bucket's
//!   midpoint over the top bucket's (`<5%` → 0.1, `5-10%` → 0.3, `10-15%` → 0.5, `15-20%` → 0.7,
//!   `>20%` → 1.0); an unknown type counts as 1.0.
//! - **volatility**: the coefficient of variation of the spot price per zone over the history
//!   window, averaged over zones, divided by 0.2 and capped at 1 (a 20 % swing is the worst);
//!   without history 0.5, said so.
//! - **gap**: how close spot sits to on-demand, spot ÷ on-demand capped at 1 (spot near
//!   on-demand means the pool is tight); from the history's latest price when given, else from the
//!   Advisor's average saving.
//! - **time**: how recently the price moved, `exp(−days since the last change ÷ 7)`: a price
//!   that moved today is a pool in motion; without history 0.5.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cost::Pricing;
use crate::model::SpotPricePoint;

/// Weights of the four terms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RiskWeights {
    /// Interruption rate.
    pub rate: f64,
    /// Price volatility.
    pub volatility: f64,
    /// Spot-to-on-demand gap.
    pub gap: f64,
    /// Recency of price changes.
    pub time: f64,
}

impl Default for RiskWeights {
    fn default() -> Self {
        RiskWeights {
            rate: 0.60,
            volatility: 0.25,
            gap: 0.10,
            time: 0.05,
        }
    }
}

/// The risk of one instance type in a region, with its terms and an explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SpotScore {
    /// Instance type.
    pub instance_type: String,
    /// Region.
    pub region: String,
    /// Risk in [0, 1]; lower is safer.
    pub risk: f64,
    /// Interruption-rate term.
    pub rate: f64,
    /// Volatility term.
    pub volatility: f64,
    /// Gap term.
    pub gap: f64,
    /// Recency term.
    pub time: f64,
    /// Advisor interruption bucket (`<5%` …), if known.
    pub interruption: Option<String>,
    /// Spot USD per hour (latest history price, else the Advisor estimate).
    pub spot_hourly: Option<f64>,
    /// On-demand USD per hour.
    pub on_demand_hourly: Option<f64>,
    /// Saving over on-demand.
    pub savings_ratio: Option<f64>,
    /// Whether price history informed the score.
    pub from_history: bool,
    /// The score in words.
    pub explanation: String,
}

/// Scores spot risk.
pub trait SpotRiskScorer: Send + Sync {
    /// Name.
    fn name(&self) -> &str;
    /// The score of a type.
    fn score(
        &self,
        instance_type: &str,
        pricing: &Pricing,
        history: &[SpotPricePoint],
    ) -> SpotScore;
}

/// The default scorer with the weights above.
#[derive(Debug, Clone, Default)]
pub struct SeedScorer {
    /// Weights.
    pub weights: RiskWeights,
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n;
    (m, var.sqrt())
}

impl SpotRiskScorer for SeedScorer {
    fn name(&self) -> &str {
        "seed"
    }

    fn score(&self, t: &str, pricing: &Pricing, history: &[SpotPricePoint]) -> SpotScore {
        let w = self.weights;
        let region = pricing.region().to_string();
        let advisor = pricing.advisor().linux(&region, t);
        let rate = match &advisor {
            Some(a) => [0.1, 0.3, 0.5, 0.7, 1.0][(a.range.index as usize).min(4)],
            None => 1.0,
        };
        let od = pricing.on_demand(t).map(|p| p.hourly);
        let mut by_zone: BTreeMap<&str, Vec<&SpotPricePoint>> = BTreeMap::new();
        for p in history.iter().filter(|p| {
            p.instance_type == t && (p.product.is_empty() || p.product.starts_with("Linux/UNIX"))
        }) {
            by_zone.entry(p.zone.as_str()).or_default().push(p);
        }
        let from_history = !by_zone.is_empty();
        let (volatility, time, latest) = if from_history {
            let mut cvs = Vec::new();
            let mut latest_ts = jiff::Timestamp::UNIX_EPOCH;
            let mut last_change = jiff::Timestamp::UNIX_EPOCH;
            let mut latest_prices = Vec::new();
            for pts in by_zone.values_mut() {
                pts.sort_by_key(|p| p.timestamp);
                let prices: Vec<f64> = pts.iter().map(|p| p.price).collect();
                let (m, sd) = mean_sd(&prices);
                if m > 0.0 {
                    cvs.push(sd / m);
                }
                for win in pts.windows(2) {
                    if (win[1].price - win[0].price).abs() > 1e-12 && win[1].timestamp > last_change
                    {
                        last_change = win[1].timestamp;
                    }
                }
                if let Some(l) = pts.last() {
                    latest_ts = latest_ts.max(l.timestamp);
                    latest_prices.push(l.price);
                }
            }
            let cv = cvs.iter().sum::<f64>() / cvs.len().max(1) as f64;
            let days = if last_change == jiff::Timestamp::UNIX_EPOCH {
                f64::INFINITY
            } else {
                (latest_ts.as_second() - last_change.as_second()) as f64 / 86_400.0
            };
            let latest = latest_prices.iter().sum::<f64>() / latest_prices.len().max(1) as f64;
            ((cv / 0.2).min(1.0), (-days / 7.0).exp(), Some(latest))
        } else {
            (0.5, 0.5, None)
        };
        let spot = latest.or_else(|| pricing.spot(t, None).map(|p| p.hourly));
        let gap = match (spot, od) {
            (Some(s), Some(o)) if o > 0.0 => (s / o).min(1.0),
            _ => 1.0,
        };
        let risk = (w.rate * rate + w.volatility * volatility + w.gap * gap + w.time * time)
            / (w.rate + w.volatility + w.gap + w.time).max(1e-9);
        let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
        let explanation = format!(
            "{t} in {region}: interruption {} (rate {:.2}); {}; spot {} is {:.0}% of on-demand (gap {:.2}); {} — risk {:.2}{}.",
            advisor
                .as_ref()
                .map(|a| a.range.label.clone())
                .unwrap_or_else(|| "unknown to the Spot Advisor".into()),
            rate,
            if from_history {
                format!(
                    "prices vary {:.1}% across the history (volatility {:.2})",
                    volatility * 20.0,
                    volatility
                )
            } else {
                "no price history: volatility 0.50 assumed".into()
            },
            spot.map(|s| format!("${s:.4}/h"))
                .unwrap_or_else(|| "price unknown".into()),
            gap * 100.0,
            gap,
            if from_history {
                format!("last price move weighs {time:.2}")
            } else {
                "price recency unknown (0.50)".into()
            },
            risk,
            if risk < 0.3 {
                ", low"
            } else if risk < 0.55 {
                ", medium"
            } else {
                ", high"
            }
        );
        SpotScore {
            instance_type: t.to_string(),
            region,
            risk: r3(risk),
            rate: r3(rate),
            volatility: r3(volatility),
            gap: r3(gap),
            time: r3(time),
            interruption: advisor.map(|a| a.range.label),
            spot_hourly: spot.map(|s| (s * 10_000.0).round() / 10_000.0),
            on_demand_hourly: od,
            savings_ratio: match (spot, od) {
                (Some(s), Some(o)) if o > 0.0 => Some(r3(1.0 - s / o)),
                _ => None,
            },
            from_history,
            explanation,
        }
    }
}

/// Scores every type matching a pattern (`m5.*`, `*.xlarge`), lowest risk first, then cheapest.
pub fn score_types(
    pattern: &str,
    pricing: &Pricing,
    history: &[SpotPricePoint],
    scorer: &dyn SpotRiskScorer,
) -> Vec<SpotScore> {
    let mut out: Vec<SpotScore> = pricing
        .catalog()
        .iter()
        .filter(|t| {
            crate::packing::type_matches(pattern, &t.name) && t.od_price_us_east_1.is_some()
        })
        .map(|t| scorer.score(&t.name, pricing, history))
        .collect();
    out.sort_by(|a, b| {
        a.risk
            .total_cmp(&b.risk)
            .then(
                a.spot_hourly
                    .unwrap_or(f64::MAX)
                    .total_cmp(&b.spot_hourly.unwrap_or(f64::MAX)),
            )
            .then(a.instance_type.cmp(&b.instance_type))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_and_weights() {
        let pricing = Pricing::new("us-east-1");
        let s = SeedScorer::default().score("m5.large", &pricing, &[]);
        assert!(!s.from_history);
        assert_eq!((s.volatility, s.time), (0.5, 0.5));
        let expected = 0.6 * s.rate + 0.25 * 0.5 + 0.1 * s.gap + 0.05 * 0.5;
        assert!((s.risk - expected).abs() < 1e-3, "{} vs {expected}", s.risk);
        assert!(s.explanation.contains("m5.large") && s.explanation.contains("no price history"));
        let unknown = SeedScorer::default().score("x9.nothing", &pricing, &[]);
        assert_eq!(unknown.rate, 1.0);
    }

    #[test]
    fn history_sets_volatility_gap_and_recency() {
        let pricing = Pricing::new("us-east-1");
        let t0: jiff::Timestamp = "2021-02-01T00:00:00Z".parse().unwrap();
        let pts: Vec<SpotPricePoint> = (0..10)
            .map(|i| SpotPricePoint {
                instance_type: "m5.large".into(),
                zone: "us-east-1a".into(),
                product: "Linux/UNIX".into(),
                price: if i % 2 == 0 { 0.04 } else { 0.05 },
                timestamp: t0 + jiff::SignedDuration::from_hours(24 * i),
            })
            .collect();
        let s = SeedScorer::default().score("m5.large", &pricing, &pts);
        assert!(s.from_history);
        assert!(s.volatility > 0.5, "a 11% CV is volatile: {}", s.volatility);
        assert!(
            (s.time - 1.0).abs() < 1e-9,
            "the last sample changed the price"
        );
        assert_eq!(s.spot_hourly, Some(0.05));
        let calm: Vec<SpotPricePoint> = pts
            .iter()
            .map(|p| SpotPricePoint {
                price: 0.04,
                ..p.clone()
            })
            .collect();
        let c = SeedScorer::default().score("m5.large", &pricing, &calm);
        assert_eq!(c.volatility, 0.0);
        assert!(c.risk < s.risk);
    }
}
