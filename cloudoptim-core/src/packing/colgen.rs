//! The configuration LP of the replace problem, by column generation: a lower bound that
//! knows pods are indivisible (the aggregate LP only counts resources), and the patterns the
//! construction starts from.
//!
//! Pods are grouped into classes (same requests and node rules), bins into kinds (an offer, a
//! group of interchangeable existing nodes, or the room left on a pinned node). A pattern is
//! how many pods of each class one bin of a kind holds. The master LP chooses how many bins of
//! each pattern to open so that every class is covered at least cost. Its dual, one price per
//! class, is what microlp solves: each new pattern is a new row, re-optimized from the last
//! basis. Pricing is a bounded multi-dimensional knapsack per kind, solved by depth-first
//! branch and bound under a node budget. The Lagrangian bound of a dual point is valid whatever
//! the pricing finds, because it uses the knapsack's upper bound; dual smoothing (Wentges)
//! keeps the points priced near the best one so far.

use microlp::{ComparisonOp, OptimizationDirection, Problem as Lp, Variable};

use super::model::R;

/// Pods with the same requests and node rules.
#[derive(Debug, Clone)]
pub(super) struct Class {
    /// Requests of one pod.
    pub req: R,
    /// How many pods.
    pub n: i64,
}

/// Bins that hold the same pods for the same price.
#[derive(Debug, Clone)]
pub(super) struct Kind {
    /// Room for pods.
    pub cap: R,
    /// USD per hour.
    pub price: f64,
    /// How many bins of the kind there are (`None`: as many as wanted).
    pub limit: Option<i64>,
    /// Which classes its node rules allow.
    pub elig: Vec<bool>,
}

/// One bin's pods: (class, count).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Pattern {
    /// Kind of the bin.
    pub kind: usize,
    /// Pods per class.
    pub items: Vec<(usize, i64)>,
}

/// What the column generation found.
#[derive(Debug, Clone)]
pub(super) struct Outcome {
    /// Every pattern generated.
    pub patterns: Vec<Pattern>,
    /// Bins of each pattern in the last master LP.
    pub lambda: Vec<f64>,
    /// Lagrangian lower bound on the cost of the bins, USD per hour.
    pub bound: f64,
}

/// Work limits (deterministic: no clocks).
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Master iterations.
    pub iterations: usize,
    /// Branch-and-bound nodes per knapsack.
    pub knapsack_nodes: usize,
    /// A search that finds nothing is retried with ten times the nodes, up to this many times
    /// the base budget (and so is the last bound).
    pub certify_factor: usize,
    /// Knapsack nodes in all.
    pub total_nodes: usize,
}

/// Patterns a knapsack returns (its last incumbents).
const PATTERNS_PER_KIND: usize = 4;

/// Weight of the best dual point so far in the point priced next (Wentges smoothing).
const SMOOTHING: f64 = 0.5;

/// A dimension of at most this many units is kept whole in the knapsack bounds.
const DP_MAX: i64 = 64;

#[derive(Debug, Clone)]
struct Item {
    class: usize,
    req: R,
    value: f64,
    max: i64,
    /// Surrogate weight of one pod.
    w: f64,
}

/// A bounded multi-dimensional knapsack: the most valuable pods one bin holds.
struct Knapsack {
    items: Vec<Item>,
    /// Prefix sums over `items` of weight × max and value × max.
    pw: Vec<f64>,
    pv: Vec<f64>,
    /// Suffix sums over `items` of the Lagrangian profit at `mu_l`.
    sl: Vec<f64>,
    /// The dimension kept whole, and the best Lagrangian profit of items `i..` with `g` of it
    /// left, at `dp[i * (cap + 1) + g]`.
    dstar: Option<usize>,
    dp: Vec<f64>,
    /// Prices of the other dimensions in `dp`.
    mu_dp: [f64; 5],
    mu_l: [f64; 5],
    mu: [f64; 5],
    best: f64,
    best_counts: Vec<i64>,
    /// Every incumbent, in the order found (the best last).
    incumbents: Vec<Vec<i64>>,
    cur: Vec<i64>,
    nodes: usize,
    budget: usize,
    complete: bool,
}

/// An upper bound on the knapsack by surrogate relaxation (one constraint, weights `mu`) and
/// LP relaxation; items must be sorted by value per surrogate weight.
fn surrogate_bound(items: &[Item], cap: R, mu: &[f64; 5]) -> f64 {
    let mut room: f64 = (0..5).map(|d| mu[d] * cap[d].max(0) as f64).sum();
    let mut v = 0.0;
    for it in items {
        if it.w <= 0.0 {
            v += it.value * it.max as f64;
            continue;
        }
        let take = (room / it.w).min(it.max as f64);
        if take <= 0.0 {
            break;
        }
        v += take * it.value;
        room -= take * it.w;
    }
    v
}

fn sort_by_density(items: &mut [Item], mu: &[f64; 5]) {
    for it in items.iter_mut() {
        it.w = (0..5).map(|d| mu[d] * it.req[d] as f64).sum();
    }
    // weightless items first, then by value per weight
    items.sort_by(|a, b| {
        let da = if a.w <= 0.0 {
            f64::INFINITY
        } else {
            a.value / a.w
        };
        let db = if b.w <= 0.0 {
            f64::INFINITY
        } else {
            b.value / b.w
        };
        db.total_cmp(&da).then(a.class.cmp(&b.class))
    });
}

/// The Lagrangian bound of the knapsack at resource prices `mu`:
/// `mu·cap + Σ max · (value − mu·req)⁺`, valid for any `mu ≥ 0` (weak duality).
fn lagrangian(items: &[Item], cap: R, mu: &[f64; 5]) -> f64 {
    let base: f64 = (0..5).map(|d| mu[d] * cap[d].max(0) as f64).sum();
    base + items
        .iter()
        .map(|it| {
            let r: f64 = (0..5).map(|d| mu[d] * it.req[d] as f64).sum();
            it.max as f64 * (it.value - r).max(0.0)
        })
        .sum::<f64>()
}

/// Resource prices that (nearly) minimize the Lagrangian bound, by coordinate descent: each
/// dimension's price in turn set where the bound's slope changes sign.
fn lagrangian_prices(items: &[Item], cap: R) -> [f64; 5] {
    let mut mu = [0.0f64; 5];
    let dims: Vec<usize> = (0..5)
        .filter(|&d| items.iter().any(|it| it.req[d] > 0))
        .collect();
    let mut bps: Vec<(f64, f64)> = Vec::with_capacity(items.len());
    for _ in 0..6 {
        for &d in &dims {
            // items' break points: the price of d where each stops paying for itself
            bps.clear();
            let mut demand = 0.0;
            for it in items {
                let rest: f64 = (0..5)
                    .filter(|&e| e != d)
                    .map(|e| mu[e] * it.req[e] as f64)
                    .sum();
                let margin = it.value - rest;
                if margin <= 0.0 || it.req[d] <= 0 {
                    continue;
                }
                let use_d = it.max as f64 * it.req[d] as f64;
                bps.push((margin / it.req[d] as f64, use_d));
                demand += use_d;
            }
            let c = cap[d].max(0) as f64;
            if demand <= c {
                mu[d] = 0.0;
                continue;
            }
            bps.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut t = 0.0;
            for &(b, u) in &bps {
                t = b;
                demand -= u;
                if demand <= c {
                    break;
                }
            }
            mu[d] = t;
        }
    }
    mu
}

/// The best Lagrangian profit (other dimensions priced at `mu`) of items `i..` with `g` units
/// of dimension `ds` left, at `[i * (kc + 1) + g]`: a dynamic program over that dimension.
fn dp_table(items: &[Item], kc: usize, ds: usize, mu: &[f64; 5]) -> Vec<f64> {
    let w = kc + 1;
    let mut dp = vec![0.0; (items.len() + 1) * w];
    for i in (0..items.len()).rev() {
        let it = &items[i];
        let r: f64 = (0..5)
            .filter(|&d| d != ds)
            .map(|d| mu[d] * it.req[d] as f64)
            .sum();
        let p = (it.value - r).max(0.0);
        let g = it.req[ds].max(0) as usize;
        for room in 0..=kc {
            let next = (i + 1) * w;
            let v = if g == 0 {
                it.max as f64 * p + dp[next + room]
            } else {
                let mut v = dp[next + room];
                let mut c = 1;
                while c as i64 <= it.max && c * g <= room {
                    v = v.max(c as f64 * p + dp[next + room - c * g]);
                    c += 1;
                }
                v
            };
            dp[i * w + room] = v;
        }
    }
    dp
}

/// A knapsack's result: the best value found, the best patterns (class, count), an upper bound
/// on the best value there is, and the search nodes used.
type Found = (f64, Vec<Vec<(usize, i64)>>, f64, usize);

impl Knapsack {
    /// The best pattern found and an upper bound on the best there is.
    pub(super) fn solve(
        classes: &[Class],
        kind: &Kind,
        values: &[f64],
        hint: &[f64; 5],
        budget: usize,
    ) -> Found {
        let cap = kind.cap;
        let mut items: Vec<Item> = classes
            .iter()
            .enumerate()
            .filter(|(s, _)| kind.elig[*s] && values[*s] > 1e-12)
            .filter_map(|(s, c)| {
                let max = (0..5)
                    .filter(|&d| c.req[d] > 0)
                    .map(|d| cap[d].max(0) / c.req[d])
                    .fold(c.n, i64::min);
                (max > 0).then_some(Item {
                    class: s,
                    req: c.req,
                    value: values[s],
                    max,
                    w: 0.0,
                })
            })
            .collect();
        if items.is_empty() {
            return (0.0, vec![], 0.0, 0);
        }
        // resource prices for the Lagrangian bound; surrogate weights: each dimension alone,
        // the LP's shadow prices and those prices; the tightest bound counts
        let mu_l = lagrangian_prices(&items, cap);
        let mut ub = lagrangian(&items, cap, &mu_l);
        let mut cands: Vec<[f64; 5]> = Vec::new();
        for d in 0..5 {
            if cap[d] > 0 && items.iter().any(|it| it.req[d] > 0) {
                let mut mu = [0.0; 5];
                mu[d] = 1.0 / cap[d] as f64;
                cands.push(mu);
            }
        }
        if hint.iter().any(|h| *h > 0.0) {
            cands.push(*hint);
        }
        if mu_l.iter().any(|m| *m > 0.0) {
            cands.push(mu_l);
        }
        let mut mu_best = cands.first().copied().unwrap_or([0.0; 5]);
        let mut best_s = f64::INFINITY;
        for mu in &cands {
            sort_by_density(&mut items, mu);
            let b = surrogate_bound(&items, cap, mu);
            if b < best_s {
                best_s = b;
                mu_best = *mu;
            }
        }
        ub = ub.min(best_s);
        // the search goes by value per weight of the tightest surrogate, and bounds each node by
        // that surrogate and by the Lagrangian
        // the dimension with the fewest pods per bin, when few (GPUs): kept whole, by dynamic
        // programming over what is left of it, the others priced at the Lagrangian prices
        let dstar = (0..5)
            .filter(|&d| cap[d] > 0 && cap[d] <= DP_MAX && items.iter().any(|it| it.req[d] > 0))
            .min_by_key(|&d| {
                let unit = items
                    .iter()
                    .filter(|it| it.req[d] > 0)
                    .map(|it| it.req[d])
                    .min()
                    .unwrap_or(1);
                cap[d] / unit
            });
        sort_by_density(&mut items, &mu_best);
        let mut pw = vec![0.0; items.len() + 1];
        let mut pv = vec![0.0; items.len() + 1];
        for (i, it) in items.iter().enumerate() {
            pw[i + 1] = pw[i] + it.w * it.max as f64;
            pv[i + 1] = pv[i] + it.value * it.max as f64;
        }
        // suffix sums of the Lagrangian profits
        let mut sl = vec![0.0; items.len() + 1];
        for i in (0..items.len()).rev() {
            let r: f64 = (0..5).map(|d| mu_l[d] * items[i].req[d] as f64).sum();
            sl[i] = sl[i + 1] + items[i].max as f64 * (items[i].value - r).max(0.0);
        }
        let mut dp = Vec::new();
        let mut mu_dp = mu_l;
        if let Some(ds) = dstar {
            mu_dp[ds] = 0.0;
            dp = dp_table(&items, cap[ds] as usize, ds, &mu_dp);
            let base: f64 = (0..5)
                .filter(|&d| d != ds)
                .map(|d| mu_dp[d] * cap[d].max(0) as f64)
                .sum();
            ub = ub.min(base + dp[cap[ds] as usize]);
        }
        let n = items.len();
        let mut k = Knapsack {
            items,
            pw,
            pv,
            sl,
            dstar,
            dp,
            mu_dp,
            mu_l,
            mu: mu_best,
            // only patterns worth more than the bin's price matter: search above it
            best: kind.price,
            best_counts: vec![0; n],
            incumbents: vec![],
            cur: vec![0; n],
            nodes: 0,
            budget,
            complete: true,
        };
        k.dfs(0, cap, 0.0);
        // complete: nothing beats `best` (which starts at the price)
        let ub = if k.complete { k.best } else { ub.max(k.best) };
        // the best few patterns found, best first
        let patterns = k
            .incumbents
            .iter()
            .rev()
            .take(PATTERNS_PER_KIND)
            .map(|cur| {
                cur.iter()
                    .zip(&k.items)
                    .filter(|(c, _)| **c > 0)
                    .map(|(c, it)| (it.class, *c))
                    .collect()
            })
            .collect();
        (k.best, patterns, ub, k.nodes)
    }

    /// Bound on what items `i..` add to a bin with `room` left.
    fn tail_bound(&self, i: usize, room: R) -> f64 {
        let lag: f64 = (0..5)
            .map(|d| self.mu_l[d] * room[d].max(0) as f64)
            .sum::<f64>()
            + self.sl[i];
        let mut b = lag.min(self.surrogate_tail(i, room));
        if let Some(ds) = self.dstar {
            let kc = (self.dp.len() / (self.items.len() + 1)).saturating_sub(1);
            let g = (room[ds].max(0) as usize).min(kc);
            let base: f64 = (0..5)
                .filter(|&d| d != ds)
                .map(|d| self.mu_dp[d] * room[d].max(0) as f64)
                .sum();
            b = b.min(base + self.dp[i * (kc + 1) + g]);
        }
        b
    }

    fn surrogate_tail(&self, i: usize, room: R) -> f64 {
        let s: f64 = (0..5).map(|d| self.mu[d] * room[d].max(0) as f64).sum();
        // the last j with pw[j] - pw[i] <= s: items i..j fit whole (in surrogate terms)
        let (mut lo, mut hi) = (i, self.items.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if self.pw[mid] - self.pw[i] <= s {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let mut v = self.pv[lo] - self.pv[i];
        if lo < self.items.len() {
            let it = &self.items[lo];
            let left = s - (self.pw[lo] - self.pw[i]);
            if it.w > 0.0 {
                v += (left / it.w).min(it.max as f64) * it.value;
            }
        }
        v
    }

    /// Depth-first over multisets: each node adds one more pod of an item at or after the last
    /// one added, so a path is as long as the bin holds pods.
    fn dfs(&mut self, start: usize, room: R, v: f64) {
        if self.nodes >= self.budget {
            self.complete = false;
            return;
        }
        self.nodes += 1;
        if v > self.best + 1e-12 {
            self.best = v;
            self.best_counts.clone_from(&self.cur);
            self.incumbents.push(self.cur.clone());
        }
        for j in start..self.items.len() {
            let it = &self.items[j];
            if self.cur[j] >= it.max || (0..5).any(|d| it.req[d] > 0 && it.req[d] > room[d]) {
                continue;
            }
            if v + self.tail_bound(j, room) <= self.best + 1e-12 {
                break; // the bound only shrinks further on
            }
            let (req, value) = (it.req, it.value);
            self.cur[j] += 1;
            let r: R = std::array::from_fn(|d| room[d] - req[d]);
            self.dfs(j, r, v + value);
            self.cur[j] -= 1;
            if !self.complete {
                return;
            }
        }
    }
}

/// Prices every kind at the class prices `pi`: the Lagrangian bound there (with `pi` scaled
/// down by `theta` so that no kind without a limit prices above its cost), the patterns found,
/// and `theta`.
fn price(
    classes: &[Class],
    kinds: &[Kind],
    pricing: &[usize],
    pi: &[f64],
    hint: &[f64; 5],
    budget: usize,
) -> (f64, Vec<Pattern>, f64, usize) {
    let mut theta = 1.0f64;
    let mut nodes = 0;
    let mut found: Vec<Pattern> = Vec::new();
    let mut ubs: Vec<(usize, f64)> = Vec::new();
    for &k in pricing {
        let (_, pats, ub, n) = Knapsack::solve(classes, &kinds[k], pi, hint, budget);
        nodes += n;
        ubs.push((k, ub));
        found.extend(pats.into_iter().map(|items| Pattern { kind: k, items }));
    }
    for &(k, ub) in &ubs {
        if kinds[k].limit.is_none() {
            theta = theta.max(ub / kinds[k].price);
        }
    }
    let mut limited_term = 0.0;
    for &(k, ub) in &ubs {
        if let Some(u) = kinds[k].limit {
            limited_term += u as f64 * (kinds[k].price - ub / theta).min(0.0);
        }
    }
    let lb: f64 = classes
        .iter()
        .zip(pi)
        .map(|(c, p)| c.n as f64 * p / theta)
        .sum::<f64>()
        + limited_term;
    (lb, found, theta, nodes)
}

/// The primal master: bins of each pattern (fractional) covering `demand` per class at least
/// cost, with at most `limits` bins of each limited kind. `None` when infeasible.
pub(super) fn primal(
    patterns: &[Pattern],
    kinds: &[Kind],
    demand: &[i64],
    limits: &[Option<i64>],
) -> Option<Vec<f64>> {
    let mut lp = Lp::new(OptimizationDirection::Minimize);
    let lam: Vec<Variable> = patterns
        .iter()
        .map(|p| lp.add_var(kinds[p.kind].price, (0.0, f64::INFINITY)))
        .collect();
    let mut cover: Vec<Vec<(Variable, f64)>> = vec![vec![]; demand.len()];
    let mut per_kind: Vec<Vec<(Variable, f64)>> = vec![vec![]; kinds.len()];
    for (j, p) in patterns.iter().enumerate() {
        for &(s, c) in &p.items {
            if demand[s] > 0 {
                cover[s].push((lam[j], c.min(demand[s]) as f64));
            }
        }
        per_kind[p.kind].push((lam[j], 1.0));
    }
    for (s, e) in cover.into_iter().enumerate() {
        if demand[s] > 0 {
            lp.add_constraint(e, ComparisonOp::Ge, demand[s] as f64);
        }
    }
    for (k, e) in per_kind.into_iter().enumerate() {
        if let Some(u) = limits[k]
            && !e.is_empty()
        {
            lp.add_constraint(e, ComparisonOp::Le, u.max(0) as f64);
        }
    }
    match lp.solve() {
        Ok(microlp::SolveOutcome::Solution(s)) => {
            Some(lam.iter().map(|v| s.var_value(*v)).collect())
        }
        _ => None,
    }
}

/// Runs the column generation. `hint` weighs resources (the aggregate LP's shadow prices) for
/// the knapsack bounds. `None` when the LP solver fails.
pub(super) fn solve(
    classes: &[Class],
    kinds: &[Kind],
    hint: &[f64; 5],
    limits: Limits,
) -> Option<Outcome> {
    let ns = classes.len();
    if ns == 0 {
        return Some(Outcome {
            patterns: vec![],
            lambda: vec![],
            bound: 0.0,
        });
    }
    // every class needs a kind without a limit (the caller leaves other pods out)
    let unlimited: Vec<usize> = (0..kinds.len())
        .filter(|&k| kinds[k].limit.is_none())
        .collect();
    if unlimited.iter().any(|&k| kinds[k].price <= 0.0) {
        return None;
    }
    // pricing kinds: unlimited kinds with the same room and rules price alike, the cheapest wins
    let mut pricing: Vec<usize> = Vec::new();
    for k in 0..kinds.len() {
        let dup = kinds[k].limit.is_none()
            && pricing.iter().any(|&j| {
                kinds[j].limit.is_none()
                    && kinds[j].cap == kinds[k].cap
                    && kinds[j].elig == kinds[k].elig
            });
        if dup {
            if let Some(j) = pricing.iter_mut().find(|j| {
                kinds[**j].limit.is_none()
                    && kinds[**j].cap == kinds[k].cap
                    && kinds[**j].elig == kinds[k].elig
            }) && kinds[k].price < kinds[*j].price
            {
                *j = k;
            }
        } else {
            pricing.push(k);
        }
    }
    // classes only limited kinds can hold stay out (their price is held at zero)
    let active: Vec<bool> = (0..ns)
        .map(|s| unlimited.iter().any(|&k| kinds[k].elig[s]))
        .collect();
    // first patterns: each class alone, as many as fit, on its cheapest kind per pod
    let mut patterns: Vec<Pattern> = Vec::new();
    for (s, c) in classes.iter().enumerate() {
        if !active[s] {
            continue;
        }
        let mut best: Option<(f64, usize, i64)> = None;
        for &k in &pricing {
            let kd = &kinds[k];
            if kd.limit.is_some() || !kd.elig[s] {
                continue;
            }
            let mut m = c.n;
            for d in 0..5 {
                if c.req[d] > 0 {
                    m = m.min(kd.cap[d].max(0) / c.req[d]);
                }
            }
            if m > 0 && best.is_none_or(|(r, ..)| kd.price / (m as f64) < r) {
                best = Some((kd.price / m as f64, k, m));
            }
        }
        let (_, k, m) = best?;
        patterns.push(Pattern {
            kind: k,
            items: vec![(s, m)],
        });
    }
    // the dual master: max Σ n·π + Σ u·σ, one row per pattern
    let mut lp = Lp::new(OptimizationDirection::Maximize);
    let pi: Vec<Variable> = classes
        .iter()
        .zip(&active)
        .map(|(c, &a)| {
            if a {
                lp.add_var(c.n as f64, (0.0, f64::INFINITY))
            } else {
                lp.add_var(0.0, (0.0, 0.0))
            }
        })
        .collect();
    let sigma: Vec<Option<Variable>> = kinds
        .iter()
        .map(|k| {
            k.limit
                .map(|u| lp.add_var(u as f64, (f64::NEG_INFINITY, 0.0)))
        })
        .collect();
    let row = |p: &Pattern| -> Vec<(Variable, f64)> {
        let mut e: Vec<(Variable, f64)> = p.items.iter().map(|&(s, c)| (pi[s], c as f64)).collect();
        if let Some(v) = sigma[p.kind] {
            e.push((v, 1.0));
        }
        e
    };
    for p in &patterns {
        lp.add_constraint(row(p), ComparisonOp::Le, kinds[p.kind].price);
    }
    let mut sol = match lp.solve() {
        Ok(microlp::SolveOutcome::Solution(s)) => s,
        _ => return None,
    };
    let mut best_lb = 0.0f64;
    let mut center: Option<Vec<f64>> = None;
    let mut alpha = SMOOTHING;
    let mut budget = limits.knapsack_nodes;
    let mut work = 0usize;
    let max_budget = limits.knapsack_nodes.saturating_mul(limits.certify_factor);
    for _ in 0..limits.iterations {
        let master = sol.objective();
        let p_rmp: Vec<f64> = pi.iter().map(|v| sol.var_value(*v).max(0.0)).collect();
        let s_rmp: Vec<f64> = sigma
            .iter()
            .map(|v| v.map_or(0.0, |v| sol.var_value(v)))
            .collect();
        let p_sep: Vec<f64> = match &center {
            Some(c) if alpha > 0.0 => (0..ns)
                .map(|s| alpha * c[s] + (1.0 - alpha) * p_rmp[s])
                .collect(),
            _ => p_rmp.clone(),
        };
        // pricing at the smoothed point; the Lagrangian bound there
        let (lb, found, theta, nodes) = price(classes, kinds, &pricing, &p_sep, hint, budget);
        work += nodes;
        if lb > best_lb || center.is_none() {
            best_lb = best_lb.max(lb);
            center = Some(p_sep.iter().map(|v| v / theta).collect());
        }
        // new rows: patterns that price out at the master's own point
        let mut added = 0;
        for p in found {
            let kd = &kinds[p.kind];
            let v: f64 = p
                .items
                .iter()
                .map(|&(s, c)| c as f64 * p_rmp[s])
                .sum::<f64>()
                + s_rmp[p.kind];
            if v > kd.price * (1.0 + 1e-9) + 1e-12 && !patterns.contains(&p) {
                let r = row(&p);
                sol = match sol.add_constraint(r, ComparisonOp::Le, kd.price) {
                    Ok(microlp::SolveOutcome::Solution(s)) => s,
                    _ => return None,
                };
                patterns.push(p);
                added += 1;
            }
        }
        if master - best_lb <= 1e-7 * master.abs().max(1.0) || work >= limits.total_nodes {
            break;
        }
        if added == 0 {
            if alpha > 0.0 && center.is_some() {
                alpha = 0.0; // mispriced: price the master's own point next
                continue;
            }
            if budget < max_budget {
                budget = budget.saturating_mul(10).min(max_budget); // search harder
                continue;
            }
            break;
        }
        alpha = SMOOTHING;
        budget = limits.knapsack_nodes;
    }
    let master = sol.objective();
    // certify: the master's last dual point, priced with a larger search budget
    if master - best_lb > 1e-7 * master.abs().max(1.0) {
        let p_rmp: Vec<f64> = pi.iter().map(|v| sol.var_value(*v).max(0.0)).collect();
        let (lb, _, _, _) = price(
            classes,
            kinds,
            &pricing,
            &p_rmp,
            hint,
            limits.knapsack_nodes.saturating_mul(limits.certify_factor),
        );
        best_lb = best_lb.max(lb);
    }
    // the primal master for the pattern counts
    let demand: Vec<i64> = classes
        .iter()
        .zip(&active)
        .map(|(c, &a)| if a { c.n } else { 0 })
        .collect();
    let limits_left: Vec<Option<i64>> = kinds.iter().map(|k| k.limit).collect();
    let lambda = primal(&patterns, kinds, &demand, &limits_left)?;
    Some(Outcome {
        patterns,
        lambda,
        bound: best_lb,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knapsack_is_exact_on_a_small_case() {
        // cap 10 cpu; items 6 (value 5), 5 (value 4) x2, 3 (value 2) x3
        let classes = vec![
            Class {
                req: [6, 0, 0, 0, 0],
                n: 1,
            },
            Class {
                req: [5, 0, 0, 0, 0],
                n: 2,
            },
            Class {
                req: [3, 0, 0, 0, 0],
                n: 3,
            },
        ];
        let kind = Kind {
            cap: [10, 0, 0, 0, 0],
            price: 1.0,
            limit: None,
            elig: vec![true; 3],
        };
        let (v, pats, ub, _) = Knapsack::solve(&classes, &kind, &[5.0, 4.0, 2.0], &[0.0; 5], 1000);
        let counts = &pats[0];
        assert!((v - 8.0).abs() < 1e-9, "{v} {counts:?}"); // 5+5 or 6+3 (7) → 8
        assert!((ub - v).abs() < 1e-9);
    }

    #[test]
    fn the_bound_counts_indivisible_pods() {
        // pods of 600m on bins of 1000m at $1: one per bin, the aggregate LP would say 0.6 each
        let classes = vec![Class {
            req: [600, 0, 1, 0, 0],
            n: 10,
        }];
        let kinds = vec![Kind {
            cap: [1000, 0, 10, 0, 0],
            price: 1.0,
            limit: None,
            elig: vec![true],
        }];
        let o = solve(
            &classes,
            &kinds,
            &[0.0; 5],
            Limits {
                iterations: 50,
                knapsack_nodes: 1000,
                certify_factor: 10,
                total_nodes: 1_000_000,
            },
        )
        .unwrap();
        assert!((o.bound - 10.0).abs() < 1e-6, "{o:?}");
    }
}
