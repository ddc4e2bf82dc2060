//! The built-in solver: LP-priced best-fit-decreasing construction, then local search (bin
//! elimination and right-sizing), with every scheduling constraint checked on every move.

use std::collections::{BTreeMap, HashMap};

use microlp::{ComparisonOp, OptimizationDirection, Problem as Lp};

use super::model::Scope;
use super::model::{R, add, fits, node_ok, sub};
use super::{
    Assignment, BlockedNode, Mode, Move, PackingConfig, PackingError, Plan, PlanNode, Problem,
    Result, Solver, Step, Unplaced,
};
use crate::cost::HOURS_PER_MONTH;
use crate::model::Taint;

/// The built-in solver.
#[derive(Debug, Clone, Copy, Default)]
pub struct GreedySolver;

struct Bin<'p> {
    name: String,
    zone: &'p str,
    labels: &'p BTreeMap<String, String>,
    taints: &'p [Taint],
    cap: R,
    used: R,
    pods: Vec<usize>,
    price: f64,
    existing: Option<usize>,
    offer: Option<usize>,
    open: bool,
    fixed: bool,
    misses: u32,
}

struct State<'p> {
    prob: &'p Problem,
    bins: Vec<Bin<'p>>,
    assign: Vec<Option<usize>>,
    zone_pods: HashMap<&'p str, Vec<usize>>,
    /// Whether any pod has a zone-level rule (else per-zone lists are not kept).
    track_zones: bool,
}

fn anti_hits(a: &super::PPod, b: &super::PPod, scope: Scope) -> bool {
    a.anti.iter().any(|(s, sel, nss)| {
        *s == scope
            && (if nss.is_empty() {
                a.namespace == b.namespace
            } else {
                nss.contains(&b.namespace)
            })
            && sel.matches(&b.labels)
    })
}

impl<'p> State<'p> {
    fn new(prob: &'p Problem) -> State<'p> {
        let track_zones = prob
            .pods
            .iter()
            .any(|x| !x.spread.is_empty() || x.anti.iter().any(|(s, ..)| *s == Scope::Zone));
        State {
            prob,
            bins: vec![],
            assign: vec![None; prob.pods.len()],
            zone_pods: HashMap::new(),
            track_zones,
        }
    }

    fn add_existing(&mut self, i: usize, open: bool) -> usize {
        let n = &self.prob.nodes[i];
        self.bins.push(Bin {
            name: n.name.clone(),
            zone: &n.zone,
            labels: &n.labels,
            taints: &n.taints,
            cap: sub(n.cap, n.overhead),
            used: [0; 5],
            pods: vec![],
            price: n.price,
            existing: Some(i),
            offer: None,
            open,
            fixed: false,
            misses: 0,
        });
        self.bins.len() - 1
    }

    fn add_offer(&mut self, o: usize, seq: usize) -> usize {
        let of = &self.prob.offers[o];
        self.bins.push(Bin {
            name: format!("new-{}-{}-{seq}", of.instance_type, of.zone),
            zone: &of.zone,
            labels: &of.labels,
            taints: &of.taints,
            cap: sub(of.cap, of.overhead),
            used: [0; 5],
            pods: vec![],
            price: of.price,
            existing: None,
            offer: Some(o),
            open: true,
            fixed: false,
            misses: 0,
        });
        self.bins.len() - 1
    }

    /// Hostname-level topology spread for a pod placed in bin `b` (zone spread is in `zone_ok`).
    fn spread_ok(&self, p: usize, b: usize) -> bool {
        let pod = &self.prob.pods[p];
        for (scope, skew, sel) in &pod.spread {
            if *scope != Scope::Host {
                continue;
            }
            let counts_self = i64::from(sel.matches(&pod.labels));
            let count = |bi: usize| {
                self.bins[bi]
                    .pods
                    .iter()
                    .filter(|&&q| {
                        q != p
                            && self.prob.pods[q].namespace == pod.namespace
                            && sel.matches(&self.prob.pods[q].labels)
                    })
                    .count() as i64
            };
            let min = self
                .bins
                .iter()
                .enumerate()
                .filter(|(_, x)| x.open && node_ok(pod, x.labels, x.taints, &x.name))
                .map(|(i, _)| count(i))
                .min()
                .unwrap_or(0);
            if count(b) + counts_self - min > i64::from(*skew) {
                return false;
            }
        }
        true
    }

    /// Zone-level rules (zone anti-affinity, zone spread) for a pod placed in `zone`.
    fn zone_ok(&self, p: usize, zone: &str) -> bool {
        let pod = &self.prob.pods[p];
        let zone_anti = pod.anti.iter().any(|(s, ..)| *s == Scope::Zone);
        if let Some(zp) = self.zone_pods.get(zone) {
            for &q in zp {
                if self.assign[q].is_none() || q == p {
                    continue;
                }
                let qp = &self.prob.pods[q];
                if (zone_anti && anti_hits(pod, qp, Scope::Zone)) || anti_hits(qp, pod, Scope::Zone)
                {
                    return false;
                }
            }
        }
        for (scope, skew, sel) in &pod.spread {
            if *scope != Scope::Zone {
                continue;
            }
            let counts_self = i64::from(sel.matches(&pod.labels));
            let count = |z: &str| {
                self.zone_pods
                    .get(z)
                    .map(|v| {
                        v.iter()
                            .filter(|&&q| {
                                q != p
                                    && self.assign[q].is_some()
                                    && self.prob.pods[q].namespace == pod.namespace
                                    && sel.matches(&self.prob.pods[q].labels)
                            })
                            .count() as i64
                    })
                    .unwrap_or(0)
            };
            let min = self.prob.zones.iter().map(|z| count(z)).min().unwrap_or(0);
            if count(zone) + counts_self - min > i64::from(*skew) {
                return false;
            }
        }
        true
    }

    fn can_place(&self, p: usize, b: usize) -> bool {
        let bin = &self.bins[b];
        let pod = &self.prob.pods[p];
        if !bin.open || !fits(bin.used, pod.req, bin.cap) {
            return false;
        }
        if !node_ok(pod, bin.labels, bin.taints, &bin.name) {
            return false;
        }
        for &q in &bin.pods {
            let qp = &self.prob.pods[q];
            if anti_hits(pod, qp, Scope::Host) || anti_hits(qp, pod, Scope::Host) {
                return false;
            }
        }
        if self.track_zones && !self.zone_ok(p, bin.zone) {
            return false;
        }
        pod.spread.is_empty() || self.spread_ok(p, b)
    }

    fn place(&mut self, p: usize, b: usize) {
        let req = self.prob.pods[p].req;
        let bin = &mut self.bins[b];
        bin.used = add(bin.used, req);
        bin.pods.push(p);
        self.assign[p] = Some(b);
        let z = bin.zone;
        if self.track_zones {
            self.zone_pods.entry(z).or_default().push(p);
        }
    }

    fn unplace(&mut self, p: usize) {
        if let Some(b) = self.assign[p].take() {
            let req = self.prob.pods[p].req;
            let bin = &mut self.bins[b];
            bin.used = sub(bin.used, req);
            bin.pods.retain(|&x| x != p);
            let z = bin.zone;
            if let Some(v) = self.zone_pods.get_mut(z) {
                v.retain(|&x| x != p);
            }
        }
    }
}

/// Per-dimension scale so that LP coefficients are of similar size: cores, GiB, pods, GPUs, GiB.
const SCALE: [f64; 5] = [1000.0, 1024.0, 1.0, 1.0, 1024.0];

/// The LP lower bound of the replace problem and the shadow price of each resource.
///
/// min Σ price·x over offers and existing nodes (existing ≤ 1) such that capacity covers the
/// movable pods' demand beyond what pinned nodes still have free. Integrality, fragmentation,
/// zones and inter-pod rules are relaxed, so no plan can cost less.
fn lower_bound(prob: &Problem, fixed: &[bool]) -> Result<(f64, [f64; 5])> {
    let mut demand = [0f64; 5];
    let mut fixed_cost = 0.0;
    let mut free = [0f64; 5];
    for (i, n) in prob.nodes.iter().enumerate() {
        if fixed[i] {
            fixed_cost += n.price;
            let net = sub(n.cap, n.overhead);
            for d in 0..5 {
                free[d] += net[d] as f64;
            }
        }
    }
    for p in &prob.pods {
        let pinned = p.blocker.is_some() && p.node.is_some_and(|n| fixed[n]);
        for d in 0..5 {
            if pinned {
                free[d] -= p.req[d] as f64;
            } else {
                demand[d] += p.req[d] as f64;
            }
        }
    }
    let need: Vec<f64> = (0..5)
        .map(|d| ((demand[d] - free[d].max(0.0)) / SCALE[d]).max(0.0))
        .collect();
    if need.iter().all(|x| *x <= 0.0) {
        return Ok((fixed_cost, [0.0; 5]));
    }
    let mut cols: Vec<(R, f64, f64)> = prob
        .offers
        .iter()
        .map(|o| (sub(o.cap, o.overhead), o.price, f64::INFINITY))
        .collect();
    for (i, n) in prob.nodes.iter().enumerate() {
        if !fixed[i] {
            cols.push((sub(n.cap, n.overhead), n.price, 1.0));
        }
    }
    let mut lp = Lp::new(OptimizationDirection::Minimize);
    let vars: Vec<_> = cols
        .iter()
        .map(|(_, price, ub)| lp.add_var(*price, (0.0, *ub)))
        .collect();
    for d in 0..5 {
        if need[d] <= 0.0 {
            continue;
        }
        let expr: Vec<(microlp::Variable, f64)> = vars
            .iter()
            .zip(&cols)
            .map(|(v, (cap, ..))| (*v, (cap[d].max(0) as f64) / SCALE[d]))
            .collect();
        lp.add_constraint(expr, ComparisonOp::Ge, need[d]);
    }
    let bound = match lp.solve() {
        Ok(microlp::SolveOutcome::Solution(s)) => s.objective(),
        Ok(_) => return Err(PackingError::Lp("the LP solve was interrupted".into())),
        Err(microlp::Error::Infeasible) => f64::INFINITY,
        Err(e) => return Err(PackingError::Lp(e.to_string())),
    };
    // shadow prices from the dual: max need·y s.t. capᵀy ≤ price over unbounded columns
    let mut dual = Lp::new(OptimizationDirection::Maximize);
    let ys: Vec<_> = (0..5)
        .map(|d| dual.add_var(need[d], (0.0, f64::INFINITY)))
        .collect();
    for (cap, price, _) in &cols {
        let expr: Vec<(microlp::Variable, f64)> = (0..5)
            .map(|d| (ys[d], (cap[d].max(0) as f64) / SCALE[d]))
            .collect();
        dual.add_constraint(expr, ComparisonOp::Le, *price);
    }
    let mut y = [0.0; 5];
    if let Ok(microlp::SolveOutcome::Solution(s)) = dual.solve() {
        for d in 0..5 {
            y[d] = s.var_value(ys[d]) / SCALE[d];
        }
    }
    Ok((fixed_cost + if bound.is_finite() { bound } else { 0.0 }, y))
}

fn value(req: R, y: &[f64; 5], fallback: &[f64; 5]) -> f64 {
    let v: f64 = (0..5).map(|d| req[d] as f64 * y[d]).sum();
    if v > 0.0 {
        v
    } else {
        (0..5).map(|d| req[d] as f64 * fallback[d]).sum()
    }
}

const LOOKAHEAD: usize = 48;

impl Solver for GreedySolver {
    fn name(&self) -> &str {
        "lp-priced-bfd+local-search"
    }

    fn plan(&self, prob: &Problem, config: &PackingConfig) -> Result<Plan> {
        // nodes pinned by a pod that may not move
        let mut fixed = vec![false; prob.nodes.len()];
        let mut blocked = Vec::new();
        for p in &prob.pods {
            if let (Some(b), Some(n)) = (&p.blocker, p.node) {
                fixed[n] = true;
                blocked.push(BlockedNode {
                    node: prob.nodes[n].name.clone(),
                    pod: p.id.clone(),
                    reason: b.reason(),
                });
            }
        }
        let (bound, y) = lower_bound(prob, &fixed)?;
        let total_cap: [f64; 5] = prob.nodes.iter().fold([0.0; 5], |mut a, n| {
            for (d, v) in a.iter_mut().enumerate() {
                *v += n.cap[d].max(1) as f64;
            }
            a
        });
        let avg_price = prob.nodes.iter().map(|n| n.price).sum::<f64>().max(1e-9);
        let fallback: [f64; 5] = std::array::from_fn(|d| avg_price / total_cap[d].max(1.0) / 2.0);
        let mut st = State::new(prob);
        for (i, f) in fixed.iter().enumerate() {
            st.add_existing(i, true);
            st.bins[i].fixed = *f;
        }
        // every pod where it runs now
        let mut pending = Vec::new();
        for (pi, p) in prob.pods.iter().enumerate() {
            match p.node {
                Some(n) => st.place(pi, n),
                None => pending.push(pi),
            }
        }
        let before: f64 = prob.nodes.iter().map(|n| n.price).sum();
        let mut steps = Vec::new();
        let mut seq = 0usize;
        match config.mode {
            Mode::Remove => remove(&mut st, config, &y, &fallback, &mut steps),
            Mode::Replace => replace(&mut st, config, &y, &fallback, &mut seq, &mut steps),
        }
        // pods that were pending: try to place them now
        let mut unplaced = Vec::new();
        for &pi in &pending {
            if let Some(b) = (0..st.bins.len()).find(|&b| st.can_place(pi, b)) {
                st.place(pi, b);
            }
        }
        for (pi, p) in prob.pods.iter().enumerate() {
            if st.assign[pi].is_none() {
                let any_type = prob.offers.iter().any(|o| {
                    fits([0; 5], p.req, sub(o.cap, o.overhead))
                        && node_ok(p, &o.labels, &o.taints, "new")
                });
                unplaced.push(Unplaced {
                    pod: p.id.clone(),
                    reason: if any_type {
                        "no node with room that its scheduling constraints allow".into()
                    } else {
                        "no allowed instance type satisfies its requests and node constraints"
                            .into()
                    },
                });
            }
        }
        let after: f64 = st.bins.iter().filter(|b| b.open).map(|b| b.price).sum();
        let total_disruption: f64 =
            prob.nodes.len() as f64 + prob.pods.iter().map(|p| p.disruption.max(0.0)).sum::<f64>();
        for s in &mut steps {
            let save_share = s.hourly_saving / before.max(1e-9);
            let dis_share = s.disruption_cost / total_disruption.max(1e-9);
            s.score = if dis_share > 0.0 {
                (save_share / dis_share * 1000.0).round() / 1000.0
            } else {
                f64::INFINITY.min(1e9)
            };
            s.approved = s.hourly_saving > 0.0
                && (config.balanced_k == 0.0
                    || s.disruption_cost <= 0.0
                    || s.score >= 1.0 / config.balanced_k);
        }
        let nodes: Vec<PlanNode> = st
            .bins
            .iter()
            .filter(|b| b.open)
            .map(|b| match (b.existing, b.offer) {
                (Some(i), _) => {
                    let n = &prob.nodes[i];
                    PlanNode {
                        name: n.name.clone(),
                        instance_type: n.instance_type.clone(),
                        zone: n.zone.clone(),
                        capacity_type: n.capacity_type.clone(),
                        hourly_cost: round4(n.price),
                        new: false,
                        group: n.group.clone(),
                    }
                }
                (None, Some(o)) => {
                    let of = &prob.offers[o];
                    PlanNode {
                        name: b.name.clone(),
                        instance_type: of.instance_type.clone(),
                        zone: of.zone.clone(),
                        capacity_type: of.capacity_type.clone(),
                        hourly_cost: round4(of.price),
                        new: true,
                        group: of.group.clone(),
                    }
                }
                _ => PlanNode {
                    name: b.name.clone(),
                    instance_type: String::new(),
                    zone: String::new(),
                    capacity_type: String::new(),
                    hourly_cost: 0.0,
                    new: true,
                    group: None,
                },
            })
            .collect();
        let removed: Vec<String> = st
            .bins
            .iter()
            .filter(|b| !b.open && b.existing.is_some())
            .map(|b| b.name.clone())
            .collect();
        let assignments = prob
            .pods
            .iter()
            .enumerate()
            .filter_map(|(pi, p)| {
                st.assign[pi].map(|b| Assignment {
                    pod: p.id.clone(),
                    node: st.bins[b].name.clone(),
                })
            })
            .collect();
        let gap = if bound > 0.0 {
            ((after - bound) / bound * 10_000.0).round() / 10_000.0
        } else {
            0.0
        };
        Ok(Plan {
            mode: match config.mode {
                Mode::Remove => "remove".into(),
                Mode::Replace => "replace".into(),
            },
            cost_before_hourly: round4(before),
            cost_after_hourly: round4(after),
            lower_bound_hourly: round4(bound),
            gap_to_bound: gap,
            nodes,
            removed,
            assignments,
            unplaced,
            blocked,
            steps,
            solver: self.name().into(),
        })
    }
}

fn round4(v: f64) -> f64 {
    let r = (v * 10_000.0).round() / 10_000.0;
    if r == 0.0 { 0.0 } else { r }
}

/// Best fit: the open bin (other than `skip`) where the pod leaves the least value unused.
fn best_fit(
    st: &State<'_>,
    p: usize,
    skip: &[usize],
    y: &[f64; 5],
    fb: &[f64; 5],
    candidates: &[usize],
) -> Option<usize> {
    let mut best: Option<(f64, usize)> = None;
    for &b in candidates {
        if skip.contains(&b) || !st.can_place(p, b) {
            continue;
        }
        let bin = &st.bins[b];
        let left = value(sub(sub(bin.cap, bin.used), st.prob.pods[p].req), y, fb);
        if best.is_none_or(|(l, _)| left < l) {
            best = Some((left, b));
        }
    }
    best.map(|(_, b)| b)
}

fn step_for(
    st: &State<'_>,
    action: &str,
    removed: Vec<String>,
    added: Vec<String>,
    moves: Vec<Move>,
    saving: f64,
) -> Step {
    let prob = st.prob;
    let idx: HashMap<&str, usize> = prob
        .pods
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    let disruption = removed.len() as f64
        + moves
            .iter()
            .map(|m| {
                idx.get(m.pod.as_str())
                    .map(|&i| prob.pods[i].disruption.max(0.0))
                    .unwrap_or(1.0)
            })
            .sum::<f64>();
    Step {
        action: action.into(),
        removed,
        added,
        moves,
        hourly_saving: round4(saving),
        monthly_saving: round4(saving * HOURS_PER_MONTH),
        disruption_cost: (disruption * 1000.0).round() / 1000.0,
        score: 0.0,
        approved: false,
    }
}

fn remove(
    st: &mut State<'_>,
    config: &PackingConfig,
    y: &[f64; 5],
    fb: &[f64; 5],
    steps: &mut Vec<Step>,
) {
    let n = st.prob.nodes.len();
    let mut order: Vec<usize> = (0..n).filter(|&b| !st.bins[b].fixed).collect();
    let util =
        |st: &State<'_>, b: usize| value(st.bins[b].used, y, fb) / st.bins[b].price.max(1e-9);
    order.sort_by(|&a, &b| {
        (st.bins[a].pods.len().min(1))
            .cmp(&st.bins[b].pods.len().min(1))
            .then(util(st, a).total_cmp(&util(st, b)))
            .then(st.bins[b].price.total_cmp(&st.bins[a].price))
    });
    let mut open_count = n;
    let mut empties = Vec::new();
    for c in order {
        if open_count <= config.min_nodes {
            break;
        }
        let pods = st.bins[c].pods.clone();
        if pods.is_empty() {
            st.bins[c].open = false;
            open_count -= 1;
            empties.push(c);
            continue;
        }
        let mut sorted = pods.clone();
        sorted.sort_by(|&a, &b| {
            value(st.prob.pods[b].req, y, fb).total_cmp(&value(st.prob.pods[a].req, y, fb))
        });
        st.bins[c].open = false;
        for &p in &sorted {
            st.unplace(p);
        }
        let candidates: Vec<usize> = (0..st.bins.len())
            .filter(|&b| b != c && st.bins[b].open)
            .collect();
        let mut moved = Vec::new();
        let mut ok = true;
        for &p in &sorted {
            match best_fit(st, p, &[c], y, fb, &candidates) {
                Some(b) => {
                    st.place(p, b);
                    moved.push((p, b));
                }
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            open_count -= 1;
            let moves = moved
                .iter()
                .map(|&(p, b)| Move {
                    pod: st.prob.pods[p].id.clone(),
                    from: st.bins[c].name.clone(),
                    to: st.bins[b].name.clone(),
                })
                .collect();
            let s = step_for(
                st,
                "remove",
                vec![st.bins[c].name.clone()],
                vec![],
                moves,
                st.bins[c].price,
            );
            steps.push(s);
        } else {
            for (p, _) in moved {
                st.unplace(p);
            }
            st.bins[c].open = true;
            for &p in &pods {
                st.place(p, c);
            }
        }
    }
    if !empties.is_empty() {
        let saving: f64 = empties.iter().map(|&b| st.bins[b].price).sum();
        let names = empties.iter().map(|&b| st.bins[b].name.clone()).collect();
        steps.insert(0, step_for(st, "remove", names, vec![], vec![], saving));
    }
}

fn replace(
    st: &mut State<'_>,
    config: &PackingConfig,
    y: &[f64; 5],
    fb: &[f64; 5],
    seq: &mut usize,
    steps: &mut Vec<Step>,
) {
    let prob = st.prob;
    let origin: Vec<Option<usize>> = st.assign.clone();
    // take every movable pod off; close every node that no pod pins
    let movable: Vec<usize> = (0..prob.pods.len())
        .filter(|&p| prob.pods[p].blocker.is_none() && st.assign[p].is_some())
        .collect();
    for &p in &movable {
        st.unplace(p);
    }
    for b in 0..prob.nodes.len() {
        if !st.bins[b].fixed {
            st.bins[b].open = false;
        }
    }
    // pods not running anywhere yet are packed too: the plan must make room for them
    let mut order: Vec<usize> = movable.clone();
    order.extend(
        (0..prob.pods.len()).filter(|&p| prob.pods[p].node.is_none() && st.assign[p].is_none()),
    );
    order.sort_by(|&a, &b| {
        value(prob.pods[b].req, y, fb)
            .total_cmp(&value(prob.pods[a].req, y, fb))
            .then(a.cmp(&b))
    });
    // active bins: pinned nodes and recently opened bins; a bin that keeps missing retires
    let mut active: Vec<usize> = (0..prob.nodes.len())
        .filter(|&b| st.bins[b].fixed)
        .collect();
    let mut k = 0;
    while k < order.len() {
        let p = order[k];
        if let Some(b) = best_fit(st, p, &[], y, fb, &active) {
            st.place(p, b);
            k += 1;
            continue;
        }
        for &b in &active {
            st.bins[b].misses += 1;
        }
        active.retain(|&b| st.bins[b].fixed || st.bins[b].misses < 64);
        // open the option that packs the most value per dollar of the next pods
        let look: Vec<usize> = order[k..order.len().min(k + LOOKAHEAD)].to_vec();
        let pod = &prob.pods[p];
        let mut best: Option<(f64, bool, usize)> = None; // (value per $, existing, index)
        let mut consider = |price: f64,
                            cap: R,
                            labels: &BTreeMap<String, String>,
                            taints: &[Taint],
                            zone: &str,
                            existing: bool,
                            idx: usize| {
            if !fits([0; 5], pod.req, cap)
                || !node_ok(pod, labels, taints, "new")
                || !st.zone_ok(p, zone)
            {
                return;
            }
            let mut used = [0; 5];
            let mut v = 0.0;
            for &q in &look {
                let qp = &prob.pods[q];
                if fits(used, qp.req, cap) && node_ok(qp, labels, taints, "new") {
                    used = add(used, qp.req);
                    v += value(qp.req, y, fb);
                }
            }
            // keeping an existing node avoids churn: a small bonus
            let eff = v / price.max(1e-9) * if existing { 1.02 } else { 1.0 };
            if best.is_none_or(|(e, ..)| eff > e) {
                best = Some((eff, existing, idx));
            }
        };
        for (i, n) in prob.nodes.iter().enumerate() {
            if !st.bins[i].open && !st.bins[i].fixed {
                consider(
                    n.price,
                    sub(n.cap, n.overhead),
                    &n.labels,
                    &n.taints,
                    &n.zone,
                    true,
                    i,
                );
            }
        }
        for (o, of) in prob.offers.iter().enumerate() {
            consider(
                of.price,
                sub(of.cap, of.overhead),
                &of.labels,
                &of.taints,
                &of.zone,
                false,
                o,
            );
        }
        match best {
            Some((_, true, i)) => {
                st.bins[i].open = true;
                st.bins[i].misses = 0;
                active.push(i);
            }
            Some((_, false, o)) => {
                *seq += 1;
                let b = st.add_offer(o, *seq);
                active.push(b);
            }
            None => {
                k += 1; // nothing can take it: left unplaced
                continue;
            }
        }
        // the pod itself may still be refused by inter-pod rules on the new bin
        let newest = *active.last().unwrap_or(&0);
        if st.can_place(p, newest) {
            st.place(p, newest);
            k += 1;
        } else if let Some(b) = (0..st.bins.len())
            .filter(|&b| st.bins[b].open)
            .find(|&b| st.can_place(p, b))
        {
            st.place(p, b);
            k += 1;
        } else {
            st.bins[newest].open =
                st.bins[newest].existing.is_some() && !st.bins[newest].pods.is_empty();
            k += 1;
        }
    }
    // local search
    for _ in 0..config.improve_passes {
        let mut improved = false;
        // 1. eliminate bins whose pods fit elsewhere, emptiest first
        let mut cands: Vec<usize> = (0..st.bins.len())
            .filter(|&b| st.bins[b].open && !st.bins[b].fixed)
            .collect();
        cands.sort_by(|&a, &b| {
            (value(st.bins[a].used, y, fb) / st.bins[a].price.max(1e-9))
                .total_cmp(&(value(st.bins[b].used, y, fb) / st.bins[b].price.max(1e-9)))
        });
        for c in cands.into_iter().take(512) {
            let pods = st.bins[c].pods.clone();
            st.bins[c].open = false;
            for &p in &pods {
                st.unplace(p);
            }
            let others: Vec<usize> = (0..st.bins.len()).filter(|&b| st.bins[b].open).collect();
            let mut moved = Vec::new();
            let mut ok = true;
            for &p in &pods {
                match best_fit(st, p, &[c], y, fb, &others) {
                    Some(b) => {
                        st.place(p, b);
                        moved.push(p);
                    }
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                improved = true;
            } else {
                for p in moved {
                    st.unplace(p);
                }
                st.bins[c].open = true;
                for &p in &pods {
                    st.place(p, c);
                }
            }
        }
        // 2. right-size: the cheapest offer in the same zone that still fits the bin's pods
        for b in 0..st.bins.len() {
            if !st.bins[b].open || st.bins[b].fixed || st.bins[b].pods.is_empty() {
                continue;
            }
            let used = st.bins[b].used;
            let zone = st.bins[b].zone;
            let pods = st.bins[b].pods.clone();
            let mut best: Option<(f64, usize)> = None;
            for (o, of) in prob.offers.iter().enumerate() {
                if of.zone != zone
                    || of.price >= st.bins[b].price - 1e-9
                    || best.is_some_and(|(p, _)| of.price >= p)
                {
                    continue;
                }
                if fits([0; 5], used, sub(of.cap, of.overhead))
                    && pods
                        .iter()
                        .all(|&q| node_ok(&prob.pods[q], &of.labels, &of.taints, "new"))
                {
                    best = Some((of.price, o));
                }
            }
            if let Some((_, o)) = best {
                *seq += 1;
                let nb = st.add_offer(o, *seq);
                for &q in &pods {
                    st.unplace(q);
                }
                let mut ok = true;
                for &q in &pods {
                    if st.can_place(q, nb) {
                        st.place(q, nb);
                    } else {
                        ok = false;
                        break;
                    }
                }
                if ok {
                    st.bins[b].open = false;
                    improved = true;
                } else {
                    for &q in &pods {
                        st.unplace(q);
                    }
                    st.bins[nb].open = false;
                    for &q in &pods {
                        st.place(q, b);
                    }
                }
            }
        }
        if !improved {
            break;
        }
    }
    // bins left empty cost money and hold nothing
    for b in 0..st.bins.len() {
        if st.bins[b].open && !st.bins[b].fixed && st.bins[b].pods.is_empty() {
            st.bins[b].open = false;
        }
    }
    // min nodes: reopen the cheapest closed existing nodes if the plan went below it
    let mut open = st.bins.iter().filter(|b| b.open).count();
    if open < config.min_nodes {
        let mut closed: Vec<usize> = (0..prob.nodes.len())
            .filter(|&b| !st.bins[b].open)
            .collect();
        closed.sort_by(|&a, &b| st.bins[a].price.total_cmp(&st.bins[b].price));
        for b in closed {
            if open >= config.min_nodes {
                break;
            }
            st.bins[b].open = true;
            open += 1;
        }
    }
    let removed: Vec<String> = (0..prob.nodes.len())
        .filter(|&b| !st.bins[b].open)
        .map(|b| st.bins[b].name.clone())
        .collect();
    let added: Vec<String> = st.bins[prob.nodes.len()..]
        .iter()
        .filter(|b| b.open)
        .map(|b| b.name.clone())
        .collect();
    let moves: Vec<Move> = movable
        .iter()
        .filter_map(|&p| {
            let from = origin[p]?;
            let to = st.assign[p]?;
            (from != to).then(|| Move {
                pod: prob.pods[p].id.clone(),
                from: st.bins[from].name.clone(),
                to: st.bins[to].name.clone(),
            })
        })
        .collect();
    let before: f64 = prob.nodes.iter().map(|n| n.price).sum();
    let after: f64 = st.bins.iter().filter(|b| b.open).map(|b| b.price).sum();
    if !removed.is_empty() || !added.is_empty() {
        steps.push(step_for(
            st,
            "replace",
            removed,
            added,
            moves,
            before - after,
        ));
    }
}
