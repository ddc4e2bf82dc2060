//! The built-in solver: LP-priced best-fit-decreasing construction, then local search (bin
//! elimination and right-sizing), with every scheduling constraint checked on every move.
//!
//! Open bins are kept in an index ordered by the LP value of their free capacity, so best fit
//! looks at the bins that could hold a pod from the tightest up instead of scanning them all;
//! node-side rules (taints, nodeSelector, node affinity) are evaluated once per pod class and
//! node label set and cached; existing nodes that only differ by name are priced once when the
//! construction chooses what to open.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

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
    /// Whether a taint keeps pods without a toleration off.
    hard_taints: bool,
    /// Label class for the node-rule cache: the node's index, or nodes + the offer's index.
    lclass: u32,
    cap: R,
    used: R,
    pods: Vec<usize>,
    /// The pods on it that have hostname anti-affinity.
    anti_pods: Vec<usize>,
    price: f64,
    existing: Option<usize>,
    offer: Option<usize>,
    open: bool,
    fixed: bool,
}

/// A pod's node-rule class is not cached (it matches on node names).
const NO_CLASS: u32 = u32::MAX;

struct State<'p> {
    prob: &'p Problem,
    bins: Vec<Bin<'p>>,
    assign: Vec<Option<usize>>,
    zone_pods: HashMap<&'p str, Vec<usize>>,
    /// Whether any pod has a zone-level rule (else per-zone lists are not kept).
    track_zones: bool,
    /// Linear value of a resource vector: the LP's shadow prices (or the fallback).
    w: [f64; 5],
    /// Open bins by the value of their free capacity.
    index: BTreeSet<(i64, usize)>,
    /// Each open bin's key in `index`.
    key: Vec<i64>,
    /// Pods without nodeSelector and required node affinity.
    simple: Vec<bool>,
    /// Pods with hostname anti-affinity.
    host_anti: Vec<bool>,
    /// Pods' node-rule classes (tolerations, nodeSelector, node affinity).
    pclass: Vec<u32>,
    /// Each pod's requests valued at `w`.
    pval: Vec<f64>,
    /// (pod class, label class) → node rules allow it.
    ok_cache: RefCell<HashMap<(u32, u32), bool>>,
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

fn hard(taints: &[Taint]) -> bool {
    taints
        .iter()
        .any(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
}

impl<'p> State<'p> {
    fn new(prob: &'p Problem, w: [f64; 5]) -> State<'p> {
        let track_zones = prob
            .pods
            .iter()
            .any(|x| !x.spread.is_empty() || x.anti.iter().any(|(s, ..)| *s == Scope::Zone));
        let mut classes: HashMap<String, u32> = HashMap::new();
        let pclass = prob
            .pods
            .iter()
            .map(|p| {
                if p.node_required.iter().any(|t| !t.match_fields.is_empty()) {
                    return NO_CLASS;
                }
                if p.tolerations.is_empty()
                    && p.node_selector.is_empty()
                    && p.node_required.is_empty()
                {
                    return 0;
                }
                let k = format!(
                    "{:?}|{:?}|{:?}",
                    p.tolerations, p.node_selector, p.node_required
                );
                let n = classes.len() as u32 + 1;
                *classes.entry(k).or_insert(n)
            })
            .collect();
        State {
            prob,
            bins: vec![],
            assign: vec![None; prob.pods.len()],
            zone_pods: HashMap::new(),
            track_zones,
            w,
            index: BTreeSet::new(),
            key: vec![],
            simple: prob
                .pods
                .iter()
                .map(|p| p.node_selector.is_empty() && p.node_required.is_empty())
                .collect(),
            host_anti: prob
                .pods
                .iter()
                .map(|p| p.anti.iter().any(|(s, ..)| *s == Scope::Host))
                .collect(),
            pclass,
            pval: prob
                .pods
                .iter()
                .map(|p| (0..5).map(|d| p.req[d] as f64 * w[d]).sum())
                .collect(),
            ok_cache: RefCell::new(HashMap::new()),
        }
    }

    fn add_existing(&mut self, i: usize) -> usize {
        let n = &self.prob.nodes[i];
        self.bins.push(Bin {
            name: n.name.clone(),
            zone: &n.zone,
            labels: &n.labels,
            taints: &n.taints,
            hard_taints: hard(&n.taints),
            lclass: i as u32,
            cap: sub(n.cap, n.overhead),
            used: [0; 5],
            pods: vec![],
            anti_pods: vec![],
            price: n.price,
            existing: Some(i),
            offer: None,
            open: false,
            fixed: false,
        });
        self.key.push(0);
        self.bins.len() - 1
    }

    /// A new bin of offer `o`, open.
    fn add_offer(&mut self, o: usize, seq: usize) -> usize {
        let of = &self.prob.offers[o];
        self.bins.push(Bin {
            name: format!("new-{}-{}-{seq}", of.instance_type, of.zone),
            zone: &of.zone,
            labels: &of.labels,
            taints: &of.taints,
            hard_taints: hard(&of.taints),
            lclass: (self.prob.nodes.len() + o) as u32,
            cap: sub(of.cap, of.overhead),
            used: [0; 5],
            pods: vec![],
            anti_pods: vec![],
            price: of.price,
            existing: None,
            offer: Some(o),
            open: false,
            fixed: false,
        });
        self.key.push(0);
        let b = self.bins.len() - 1;
        self.open_bin(b);
        b
    }

    fn value(&self, r: R) -> f64 {
        (0..5).map(|d| r[d] as f64 * self.w[d]).sum()
    }

    fn key_of(&self, r: R) -> i64 {
        (self.value(r) * 1e9).round() as i64
    }

    /// Index key of a bin: the value of its free capacity (overcommitted dimensions count 0).
    fn free_key(&self, b: usize) -> i64 {
        let free = sub(self.bins[b].cap, self.bins[b].used);
        self.key_of(std::array::from_fn(|d| free[d].max(0)))
    }

    fn open_bin(&mut self, b: usize) {
        if !self.bins[b].open {
            self.bins[b].open = true;
            let k = self.free_key(b);
            self.key[b] = k;
            self.index.insert((k, b));
        }
    }

    fn close_bin(&mut self, b: usize) {
        if self.bins[b].open {
            self.bins[b].open = false;
            self.index.remove(&(self.key[b], b));
        }
    }

    fn reindex(&mut self, b: usize) {
        if self.bins[b].open {
            self.index.remove(&(self.key[b], b));
            let k = self.free_key(b);
            self.key[b] = k;
            self.index.insert((k, b));
        }
    }

    /// Node-side rules (taints, nodeSelector, node affinity) for pod `p` on a node with these
    /// labels, cached per pod class and label class.
    fn node_fits(
        &self,
        p: usize,
        lclass: u32,
        labels: &BTreeMap<String, String>,
        taints: &[Taint],
        hard_taints: bool,
        name: &str,
    ) -> bool {
        if self.simple[p] && !hard_taints {
            return true;
        }
        let pod = &self.prob.pods[p];
        let c = self.pclass[p];
        if c == NO_CLASS {
            return node_ok(pod, labels, taints, name);
        }
        if let Some(&v) = self.ok_cache.borrow().get(&(c, lclass)) {
            return v;
        }
        let v = node_ok(pod, labels, taints, name);
        self.ok_cache.borrow_mut().insert((c, lclass), v);
        v
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
        if !self.track_zones {
            return true;
        }
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
        if !self.node_fits(
            p,
            bin.lclass,
            bin.labels,
            bin.taints,
            bin.hard_taints,
            &bin.name,
        ) {
            return false;
        }
        if self.host_anti[p] {
            for &q in &bin.pods {
                let qp = &self.prob.pods[q];
                if anti_hits(pod, qp, Scope::Host) || anti_hits(qp, pod, Scope::Host) {
                    return false;
                }
            }
        } else {
            for &q in &bin.anti_pods {
                if anti_hits(&self.prob.pods[q], pod, Scope::Host) {
                    return false;
                }
            }
        }
        if !self.zone_ok(p, bin.zone) {
            return false;
        }
        pod.spread.is_empty() || self.spread_ok(p, b)
    }

    fn place(&mut self, p: usize, b: usize) {
        let req = self.prob.pods[p].req;
        let bin = &mut self.bins[b];
        bin.used = add(bin.used, req);
        bin.pods.push(p);
        if self.host_anti[p] {
            bin.anti_pods.push(p);
        }
        self.assign[p] = Some(b);
        let z = bin.zone;
        if self.track_zones {
            self.zone_pods.entry(z).or_default().push(p);
        }
        self.reindex(b);
    }

    fn unplace(&mut self, p: usize) {
        if let Some(b) = self.assign[p].take() {
            let req = self.prob.pods[p].req;
            let bin = &mut self.bins[b];
            bin.used = sub(bin.used, req);
            if let Some(i) = bin.pods.iter().rposition(|&x| x == p) {
                bin.pods.remove(i);
            }
            if self.host_anti[p] {
                bin.anti_pods.retain(|&x| x != p);
            }
            let z = bin.zone;
            if let Some(v) = self.zone_pods.get_mut(z)
                && let Some(i) = v.iter().rposition(|&x| x == p)
            {
                v.swap_remove(i);
            }
            self.reindex(b);
        }
    }

    /// Best fit: the open bin where the pod leaves the least value free. Open bins are
    /// indexed by free value, so the first that can take the pod, from the pod's own value up,
    /// is the best.
    fn best_fit(&self, p: usize) -> Option<usize> {
        let lo = self.key_of(self.prob.pods[p].req) - 1_000;
        self.index
            .range((lo, 0)..)
            .map(|&(_, b)| b)
            .find(|&b| self.can_place(p, b))
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
        // shadow prices, with a little of the fallback so that no dimension is free
        let w: [f64; 5] = if y.iter().any(|v| *v > 0.0) {
            std::array::from_fn(|d| y[d] + 1e-3 * fallback[d])
        } else {
            fallback
        };
        let mut st = State::new(prob, w);
        for (i, f) in fixed.iter().enumerate() {
            st.add_existing(i);
            st.bins[i].fixed = *f;
            st.open_bin(i);
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
            Mode::Remove => remove(&mut st, config, &mut steps),
            Mode::Replace => replace(&mut st, config, &mut seq, &mut steps),
        }
        // pods that were pending and are still unplaced: try to place them now
        let mut unplaced = Vec::new();
        for &pi in &pending {
            if st.assign[pi].is_none()
                && let Some(b) = st.best_fit(pi)
            {
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

/// A step; disruption as Karpenter counts it: one per removed node plus each moved pod's
/// eviction cost.
fn make_step(
    prob: &Problem,
    action: &str,
    removed: Vec<String>,
    added: Vec<String>,
    moved: &[(usize, String, String)],
    saving: f64,
) -> Step {
    let disruption = removed.len() as f64
        + moved
            .iter()
            .map(|(p, ..)| prob.pods[*p].disruption.max(0.0))
            .sum::<f64>();
    Step {
        action: action.into(),
        removed,
        added,
        moves: moved
            .iter()
            .map(|(p, from, to)| Move {
                pod: prob.pods[*p].id.clone(),
                from: from.clone(),
                to: to.clone(),
            })
            .collect(),
        hourly_saving: round4(saving),
        monthly_saving: round4(saving * HOURS_PER_MONTH),
        disruption_cost: (disruption * 1000.0).round() / 1000.0,
        score: 0.0,
        approved: false,
    }
}

/// Takes the pods off bin `c`, closes it and places them elsewhere by best fit, largest
/// first; on failure puts everything back. Returns where each pod went.
fn evacuate(st: &mut State<'_>, c: usize) -> Option<Vec<(usize, usize)>> {
    let pods = st.bins[c].pods.clone();
    let mut sorted = pods.clone();
    sorted.sort_by(|&a, &b| st.pval[b].total_cmp(&st.pval[a]).then(a.cmp(&b)));
    st.close_bin(c);
    for &p in &sorted {
        st.unplace(p);
    }
    let mut moved = Vec::with_capacity(sorted.len());
    for &p in &sorted {
        match st.best_fit(p) {
            Some(b) => {
                st.place(p, b);
                moved.push((p, b));
            }
            None => {
                for (q, _) in moved {
                    st.unplace(q);
                }
                st.open_bin(c);
                for &q in &pods {
                    st.place(q, c);
                }
                return None;
            }
        }
    }
    Some(moved)
}

fn remove(st: &mut State<'_>, config: &PackingConfig, steps: &mut Vec<Step>) {
    let n = st.prob.nodes.len();
    let util: Vec<f64> = (0..n)
        .map(|b| st.value(st.bins[b].used) / st.bins[b].price.max(1e-9))
        .collect();
    let mut order: Vec<usize> = (0..n).filter(|&b| !st.bins[b].fixed).collect();
    order.sort_by(|&a, &b| {
        (st.bins[a].pods.len().min(1))
            .cmp(&st.bins[b].pods.len().min(1))
            .then(util[a].total_cmp(&util[b]))
            .then(st.bins[b].price.total_cmp(&st.bins[a].price))
    });
    let mut open_count = n;
    let mut empties = Vec::new();
    for c in order {
        if open_count <= config.min_nodes {
            break;
        }
        if st.bins[c].pods.is_empty() {
            st.close_bin(c);
            open_count -= 1;
            empties.push(c);
            continue;
        }
        if let Some(moved) = evacuate(st, c) {
            open_count -= 1;
            let moves: Vec<(usize, String, String)> = moved
                .iter()
                .map(|&(p, b)| (p, st.bins[c].name.clone(), st.bins[b].name.clone()))
                .collect();
            let s = make_step(
                st.prob,
                "remove",
                vec![st.bins[c].name.clone()],
                vec![],
                &moves,
                st.bins[c].price,
            );
            steps.push(s);
        }
    }
    if !empties.is_empty() {
        let saving: f64 = empties.iter().map(|&b| st.bins[b].price).sum();
        let names = empties.iter().map(|&b| st.bins[b].name.clone()).collect();
        steps.insert(0, make_step(st.prob, "remove", names, vec![], &[], saving));
    }
}

/// Closed existing nodes, grouped by everything the pods' rules can tell apart (type, zone,
/// capacity type, price, capacity, group, taints and the labels some pod selects on; the name
/// only when a pod matches on names), each group's nodes in reverse index order.
fn node_classes(st: &State<'_>) -> Vec<Vec<usize>> {
    let prob = st.prob;
    let mut keys: BTreeSet<&str> = BTreeSet::new();
    let mut by_name = false;
    for p in &prob.pods {
        keys.extend(p.node_selector.keys().map(String::as_str));
        for t in &p.node_required {
            keys.extend(t.match_expressions.iter().map(|r| r.key.as_str()));
            by_name |= !t.match_fields.is_empty();
        }
    }
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, n) in prob.nodes.iter().enumerate() {
        if st.bins[i].open || st.bins[i].fixed {
            continue;
        }
        let selected: Vec<(&str, Option<&String>)> =
            keys.iter().map(|k| (*k, n.labels.get(*k))).collect();
        let k = format!(
            "{}|{}|{}|{}|{:?}|{:?}|{:?}|{:?}|{}",
            n.instance_type,
            n.zone,
            n.capacity_type,
            n.price.to_bits(),
            sub(n.cap, n.overhead),
            n.group,
            n.taints,
            selected,
            if by_name { n.name.as_str() } else { "" }
        );
        groups.entry(k).or_default().push(i);
    }
    groups
        .into_values()
        .map(|mut v| {
            v.reverse();
            v
        })
        .collect()
}

enum Choice {
    Node(usize),
    Offer(usize),
}

/// Value per dollar of the lookahead pods that a new bin of this kind would hold (first fit in
/// order), if the pod `p` itself may go there.
#[allow(clippy::too_many_arguments)]
fn score(
    st: &State<'_>,
    p: usize,
    look: &[usize],
    cap: R,
    price: f64,
    lclass: u32,
    labels: &BTreeMap<String, String>,
    taints: &[Taint],
    zone: &str,
) -> Option<f64> {
    let prob = st.prob;
    let hard_taints = hard(taints);
    if !fits([0; 5], prob.pods[p].req, cap)
        || !st.node_fits(p, lclass, labels, taints, hard_taints, "new")
        || !st.zone_ok(p, zone)
    {
        return None;
    }
    let mut used = [0; 5];
    let mut v = 0.0;
    for &q in look {
        let req = prob.pods[q].req;
        if fits(used, req, cap) && st.node_fits(q, lclass, labels, taints, hard_taints, "new") {
            used = add(used, req);
            v += st.pval[q];
        }
    }
    Some(v / price.max(1e-9))
}

/// LP-priced best-fit decreasing: each pod goes to the open bin where it leaves the least value
/// free; when none can take it, open the existing node or offer that packs the most value per
/// dollar of the next pods.
fn construct(st: &mut State<'_>, order: &[usize], seq: &mut usize) {
    let prob = st.prob;
    let mut classes = node_classes(st);
    let mut k = 0;
    while k < order.len() {
        let p = order[k];
        if let Some(b) = st.best_fit(p) {
            st.place(p, b);
            k += 1;
            continue;
        }
        let look = &order[k..order.len().min(k + LOOKAHEAD)];
        let mut best: Option<(f64, Choice)> = None;
        for (ci, list) in classes.iter().enumerate() {
            let Some(&i) = list.last() else { continue };
            let n = &prob.nodes[i];
            // keeping an existing node avoids churn: a small bonus
            if let Some(e) = score(
                st,
                p,
                look,
                sub(n.cap, n.overhead),
                n.price,
                i as u32,
                &n.labels,
                &n.taints,
                &n.zone,
            ) && best.as_ref().is_none_or(|(b, _)| e * 1.02 > *b)
            {
                best = Some((e * 1.02, Choice::Node(ci)));
            }
        }
        for (o, of) in prob.offers.iter().enumerate() {
            if let Some(e) = score(
                st,
                p,
                look,
                sub(of.cap, of.overhead),
                of.price,
                (prob.nodes.len() + o) as u32,
                &of.labels,
                &of.taints,
                &of.zone,
            ) && best.as_ref().is_none_or(|(b, _)| e > *b)
            {
                best = Some((e, Choice::Offer(o)));
            }
        }
        let (nb, class) = match best {
            Some((_, Choice::Node(ci))) => {
                let Some(i) = classes[ci].pop() else {
                    k += 1;
                    continue;
                };
                st.open_bin(i);
                (i, Some(ci))
            }
            Some((_, Choice::Offer(o))) => {
                *seq += 1;
                (st.add_offer(o, *seq), None)
            }
            None => {
                k += 1; // nothing can take it: left unplaced
                continue;
            }
        };
        // the pod itself may still be refused by inter-pod rules on the new bin
        if st.can_place(p, nb) {
            st.place(p, nb);
        } else if let Some(b) = st.best_fit(p) {
            st.place(p, b);
        } else if st.bins[nb].pods.is_empty() {
            st.close_bin(nb);
            if let Some(ci) = class {
                classes[ci].push(nb);
            }
        }
        k += 1;
    }
}

/// Local search: eliminate bins whose pods fit elsewhere (least value per dollar first), then
/// right-size each bin to the cheapest offer in its zone that holds its pods.
fn improve(st: &mut State<'_>, config: &PackingConfig, seq: &mut usize) {
    let prob = st.prob;
    for _ in 0..config.improve_passes {
        let mut improved = false;
        // 1. eliminate bins whose pods fit elsewhere, emptiest first
        let mut cands: Vec<(f64, usize)> = (0..st.bins.len())
            .filter(|&b| st.bins[b].open && !st.bins[b].fixed)
            .map(|b| (st.value(st.bins[b].used) / st.bins[b].price.max(1e-9), b))
            .collect();
        cands.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (_, c) in cands.into_iter().take(512) {
            if evacuate(st, c).is_some() {
                improved = true;
            }
        }
        // 2. right-size: the cheapest offer in the same zone that still fits the bin's pods
        for b in 0..st.bins.len() {
            if !st.bins[b].open || st.bins[b].fixed || st.bins[b].pods.is_empty() {
                continue;
            }
            let used = st.bins[b].used;
            let zone = st.bins[b].zone;
            let price = st.bins[b].price;
            let mut best: Option<(f64, usize)> = None;
            for (o, of) in prob.offers.iter().enumerate() {
                if of.zone != zone
                    || of.price >= price - 1e-9
                    || best.is_some_and(|(p, _)| of.price >= p)
                {
                    continue;
                }
                let lclass = (prob.nodes.len() + o) as u32;
                let hard_taints = hard(&of.taints);
                if fits([0; 5], used, sub(of.cap, of.overhead))
                    && st.bins[b].pods.iter().all(|&q| {
                        st.node_fits(q, lclass, &of.labels, &of.taints, hard_taints, "new")
                    })
                {
                    best = Some((of.price, o));
                }
            }
            if let Some((_, o)) = best {
                *seq += 1;
                let nb = st.add_offer(o, *seq);
                let pods = st.bins[b].pods.clone();
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
                    st.close_bin(b);
                    improved = true;
                } else {
                    for &q in &pods {
                        st.unplace(q);
                    }
                    st.close_bin(nb);
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
}

fn replace(st: &mut State<'_>, config: &PackingConfig, seq: &mut usize, steps: &mut Vec<Step>) {
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
            st.close_bin(b);
        }
    }
    // pods not running anywhere yet are packed too: the plan must make room for them
    let mut order: Vec<usize> = movable.clone();
    order.extend(
        (0..prob.pods.len()).filter(|&p| prob.pods[p].node.is_none() && st.assign[p].is_none()),
    );
    order.sort_by(|&a, &b| st.pval[b].total_cmp(&st.pval[a]).then(a.cmp(&b)));
    construct(st, &order, seq);
    improve(st, config, seq);
    // bins left empty cost money and hold nothing
    for b in 0..st.bins.len() {
        if st.bins[b].open && !st.bins[b].fixed && st.bins[b].pods.is_empty() {
            st.close_bin(b);
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
            st.open_bin(b);
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
    let moves: Vec<(usize, String, String)> = movable
        .iter()
        .filter_map(|&p| {
            let from = origin[p]?;
            let to = st.assign[p]?;
            (from != to).then(|| (p, st.bins[from].name.clone(), st.bins[to].name.clone()))
        })
        .collect();
    let before: f64 = prob.nodes.iter().map(|n| n.price).sum();
    let after: f64 = st.bins.iter().filter(|b| b.open).map(|b| b.price).sum();
    if !removed.is_empty() || !added.is_empty() {
        steps.push(make_step(
            prob,
            "replace",
            removed,
            added,
            &moves,
            before - after,
        ));
    }
}
