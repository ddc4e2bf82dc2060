//! The built-in solver: LP-priced best-fit-decreasing construction, then local search (bin
//! elimination, right-sizing, repacking groups of up to three bins onto cheaper offers, and on
//! small problems ruin and recreate, on the smallest a search over cheaper mixes of node types
//! by annealing, see `retype`), with every scheduling constraint checked on every move.
//! When the replace problem has few pod classes with many pods each, the configuration LP
//! (column generation, see `colgen`) tightens the lower bound and a second plan is built from
//! its patterns; the better plan wins.
//!
//! Open bins are kept in an index ordered by their bottleneck (the least free CPU or memory, in
//! average pods), so best fit looks at the bins that could hold a pod from the tightest up
//! instead of scanning them all;
//! node-side rules (taints, nodeSelector, node affinity) are evaluated once per pod class and
//! node label set and cached; existing nodes that only differ by name are priced once when the
//! construction chooses what to open.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use microlp::{ComparisonOp, OptimizationDirection, Problem as Lp};

use super::anneal::{self, Rng};
use super::colgen;
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

#[derive(Clone)]
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

/// A fast hasher for the solver's integer keys (the multiply-and-rotate of FxHash): the keys
/// come from the problem, not from an adversary, so SipHash's protection is not needed.
#[derive(Debug, Default, Clone, Copy)]
struct FastHasher(u64);

impl FastHasher {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.add(u64::from(b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_i64(&mut self, n: i64) {
        self.add(n as u64);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;

/// A pod's node-rule class is not cached (it matches on node names).
const NO_CLASS: u32 = u32::MAX;

#[derive(Clone)]
struct State<'p> {
    prob: &'p Problem,
    bins: Vec<Bin<'p>>,
    assign: Vec<Option<usize>>,
    zone_pods: HashMap<&'p str, Vec<usize>>,
    /// Whether any pod has a zone-level rule (else per-zone lists are not kept).
    track_zones: bool,
    /// Linear value of a resource vector: the LP's shadow prices (or the fallback).
    w: [f64; 5],
    /// Open bins: free capacity and the value of it, for best fit.
    index: FitIndex,
    /// Pods without nodeSelector and required node affinity.
    simple: Vec<bool>,
    /// Pods with hostname anti-affinity.
    host_anti: Vec<bool>,
    /// Pods' node-rule classes (tolerations, nodeSelector, node affinity).
    pclass: Vec<u32>,
    /// Each pod's requests valued at `w`.
    pval: Vec<f64>,
    /// (pod class, label class) → node rules allow it.
    ok_cache: RefCell<FastMap<(u32, u32), bool>>,
    /// Pods that best fit treats alike (same requests and node rules, no inter-pod rules),
    /// numbered; `NO_CLASS` for pods that are not.
    fit_class: Vec<u32>,
    /// What the last best-fit query left behind, while the state has not changed since
    /// except by placing that pod where the query said.
    memo: Option<FitMemo>,
}

/// Best fit remembers where its last query stopped: every open bin before `cursor` in the
/// index's order refuses pods of `class`, except `extra` (the bin it chose, or a bin opened
/// since). When the next query is for a pod of the same class and nothing changed in between
/// but that bin, only `extra` and the bins from `cursor` on need a look, which is the same
/// answer as a full scan; runs of identical pods then cost one scan instead of one each.
#[derive(Debug, Clone, Copy)]
struct FitMemo {
    class: u32,
    /// The pod queried.
    pod: usize,
    /// `None`: every bin but `extra` refuses the class.
    cursor: Option<(i64, usize)>,
    extra: Option<usize>,
    /// Whether the pod has since been placed in `extra`.
    placed: bool,
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
            .collect::<Vec<u32>>();
        // with inter-pod rules anywhere, a bin's answer depends on more than requests and
        // node rules: no pod is treated alike then
        let inter_pod = track_zones || prob.pods.iter().any(|x| !x.anti.is_empty());
        let mut fit_classes: FastMap<(R, u32), u32> = FastMap::default();
        let fit_class = prob
            .pods
            .iter()
            .zip(&pclass)
            .map(|(p, &c)| {
                if inter_pod || c == NO_CLASS || !p.spread.is_empty() {
                    return NO_CLASS;
                }
                let n = fit_classes.len() as u32;
                *fit_classes.entry((p.req, c)).or_insert(n)
            })
            .collect();
        // a dimension every pod asks for: bins with less free than the smallest request
        // refuse every pod, and stay out of the index
        let floor: R = std::array::from_fn(|d| {
            let min = prob.pods.iter().map(|p| p.req[d]).min().unwrap_or(0);
            if min > 0 { min } else { i64::MIN }
        });
        State {
            prob,
            bins: vec![],
            assign: vec![None; prob.pods.len()],
            zone_pods: HashMap::new(),
            track_zones,
            w,
            index: FitIndex {
                scale: {
                    let n = prob.pods.len().max(1) as f64;
                    let mean = |d: usize| {
                        prob.pods
                            .iter()
                            .map(|p| p.req[d].max(0) as f64)
                            .sum::<f64>()
                            / n
                    };
                    [1.0 / mean(0).max(1.0), 1.0 / mean(1).max(1.0)]
                },
                floor,
                ..FitIndex::default()
            },
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
            ok_cache: RefCell::new(FastMap::default()),
            fit_class,
            memo: None,
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
        self.bins.len() - 1
    }

    /// Drops closed bins of new nodes (existing nodes keep their index), renumbering the rest.
    fn compact(&mut self) {
        let n = self.prob.nodes.len();
        let keep: Vec<bool> = (0..self.bins.len())
            .map(|b| b < n || self.bins[b].open)
            .collect();
        if keep.iter().all(|k| *k) {
            return;
        }
        let mut map = vec![usize::MAX; self.bins.len()];
        let mut next = 0;
        for b in 0..self.bins.len() {
            if keep[b] {
                map[b] = next;
                next += 1;
            }
        }
        let old = std::mem::take(&mut self.bins);
        self.bins = old
            .into_iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(b, _)| b)
            .collect();
        for a in self.assign.iter_mut().flatten() {
            *a = map[*a];
        }
        self.index.clear();
        self.memo = None;
        for b in 0..self.bins.len() {
            self.reindex(b);
        }
    }

    /// Values pods at `w` (shadow prices).
    fn set_weights(&mut self, w: [f64; 5]) {
        self.w = w;
        self.pval = self
            .prob
            .pods
            .iter()
            .map(|p| (0..5).map(|d| p.req[d] as f64 * w[d]).sum())
            .collect();
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
        let b = self.bins.len() - 1;
        self.open_bin(b);
        b
    }

    fn value(&self, r: R) -> f64 {
        (0..5).map(|d| r[d] as f64 * self.w[d]).sum()
    }

    /// Puts bin `b` in the best-fit index with its free capacity and the value of it
    /// (overcommitted dimensions count 0 in the value).
    fn reindex(&mut self, b: usize) {
        if self.bins[b].open {
            self.index
                .set(b, Some(sub(self.bins[b].cap, self.bins[b].used)));
        }
    }

    fn open_bin(&mut self, b: usize) {
        if !self.bins[b].open {
            self.bins[b].open = true;
            self.reindex(b);
            // a bin opened after a query that found nothing is the one bin to look at
            self.memo = match self.memo {
                Some(m) if m.cursor.is_none() && m.extra.is_none() && !m.placed => Some(FitMemo {
                    extra: Some(b),
                    ..m
                }),
                _ => None,
            };
        }
    }

    fn close_bin(&mut self, b: usize) {
        if self.bins[b].open {
            self.bins[b].open = false;
            self.index.set(b, None);
            self.memo = None;
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
        self.memo = match self.memo {
            Some(m) if m.pod == p && m.extra == Some(b) && !m.placed => {
                Some(FitMemo { placed: true, ..m })
            }
            _ => None,
        };
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
            self.memo = None;
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

    /// Best fit: the open bin with the least room in its bottleneck dimension that can take
    /// the pod (ties: the lowest index).
    fn best_fit(&mut self, p: usize) -> Option<usize> {
        let class = self.fit_class[p];
        let req = self.prob.pods[p].req;
        let found = match self.memo {
            Some(m) if class != NO_CLASS && m.class == class => {
                if let Some(e) = m.extra.filter(|&e| self.can_place(p, e)) {
                    self.memo = Some(FitMemo {
                        pod: p,
                        placed: false,
                        ..m
                    });
                    return Some(e);
                }
                match m.cursor {
                    Some(c) => self.index.query_after(c, |&b| self.can_place(p, b)),
                    None => None,
                }
            }
            _ => self.index.query(req, |&b| self.can_place(p, b)),
        };
        self.memo = (class != NO_CLASS).then_some(FitMemo {
            class,
            pod: p,
            cursor: found,
            extra: found.map(|(_, b)| b),
            placed: false,
        });
        found.map(|(_, b)| b)
    }

    /// Best fit by a full scan of the index, for checking the memo against.
    #[cfg(test)]
    fn best_fit_scan(&self, p: usize) -> Option<usize> {
        self.index
            .query(self.prob.pods[p].req, |&b| self.can_place(p, b))
            .map(|(_, b)| b)
    }
}

/// Open bins for best fit, ordered by their bottleneck: the least free capacity over CPU and
/// memory, each counted in units of the average pod's request. A bin with room for a pod has a
/// bottleneck at least the pod's own, so a query scans from there up, and bins full in one
/// dimension (free in the other) are never scanned.
#[derive(Debug, Default, Clone)]
struct FitIndex {
    /// Units per millicore and per MiB.
    scale: [f64; 2],
    /// Per dimension, the least that every pod asks for (`i64::MIN` where some pod asks for
    /// none): a bin with less free than this in some dimension is left out.
    floor: R,
    set: BTreeSet<(i64, usize)>,
    /// Each bin's key while it is in `set`.
    key: Vec<Option<i64>>,
}

impl FitIndex {
    fn key_of(&self, r: R) -> i64 {
        let k = (r[0].max(0) as f64 * self.scale[0]).min(r[1].max(0) as f64 * self.scale[1]);
        (k * 1e6) as i64
    }

    /// Sets bin `b`'s free capacity (`None`: not a candidate).
    fn set(&mut self, b: usize, free: Option<R>) {
        if b >= self.key.len() {
            self.key.resize(b + 1, None);
        }
        if let Some(k) = self.key[b].take() {
            self.set.remove(&(k, b));
        }
        if let Some(f) = free.filter(|f| (0..5).all(|d| f[d] >= self.floor[d])) {
            let k = self.key_of(f);
            self.key[b] = Some(k);
            self.set.insert((k, b));
        }
    }

    /// The tightest bin (then the lowest index) that `accept` takes, among those whose
    /// bottleneck could hold `req`.
    fn query(&self, req: R, accept: impl FnMut(&usize) -> bool) -> Option<(i64, usize)> {
        let lo = self.key_of(req) - 1;
        let mut accept = accept;
        self.set.range((lo, 0)..).copied().find(|(_, b)| accept(b))
    }

    /// The first bin after position `from` (exclusive) that `accept` takes.
    fn query_after(
        &self,
        from: (i64, usize),
        mut accept: impl FnMut(&usize) -> bool,
    ) -> Option<(i64, usize)> {
        use std::ops::Bound::{Excluded, Unbounded};
        self.set
            .range((Excluded(from), Unbounded))
            .copied()
            .find(|(_, b)| accept(b))
    }

    /// Empties the index, keeping its scale and floor.
    fn clear(&mut self) {
        self.set.clear();
        self.key.clear();
    }
}

/// Per-dimension scale so that LP coefficients are of similar size: cores, GiB, pods, GPUs, GiB.
const SCALE: [f64; 5] = [1000.0, 1024.0, 1.0, 1.0, 1024.0];

/// The LP lower bound of the replace problem and the shadow price of each resource.
///
/// min Σ price·x over offers and existing nodes (existing ≤ 1) such that capacity covers the
/// movable pods' demand beyond what pinned nodes still have free. Integrality, fragmentation,
/// zones and inter-pod rules are relaxed, so no plan can cost less.
fn lower_bound(prob: &Problem, fixed: &[bool], placeable: &[bool]) -> Result<(f64, [f64; 5])> {
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
    for (i, p) in prob.pods.iter().enumerate() {
        let pinned = p.blocker.is_some() && p.node.is_some_and(|n| fixed[n]);
        if !pinned && !placeable[i] {
            continue; // no node could hold it: no plan pays for it
        }
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
/// The configuration LP runs when there are at most this many pod classes…
const CG_MAX_CLASSES: usize = 1_500;
/// …and classes × bin kinds is at most this…
const CG_MAX_CELLS: usize = 200_000;
/// …and the pods to place are at least this many per class.
const CG_MIN_PODS_PER_CLASS: usize = 8;
/// Repacking pairs of bins runs when there are at most this many bins…
const REPACK_MAX_BINS: usize = 400;
/// …and offers…
const REPACK_MAX_OFFERS: usize = 200;
/// …triples of bins when there are at most this many…
const REPACK3_MAX_BINS: usize = 16;
/// …with this many partition search nodes per pass.
const REPACK_NODES: usize = 2_000_000;
/// Ruin and recreate runs on problems of at most this many pods to place…
const RR_MAX_PODS: usize = 2_000;
/// …for this many pods re-placed in all…
const RR_WORK: usize = 500_000;
/// …and at most this many rounds…
const RR_MAX_ITERATIONS: usize = 10_000;
/// …accepting results up to this share of the cost worse at first (less and less).
const RR_THRESHOLD: f64 = 0.01;
/// Mix search: at most this many pods on the bins it repacks.
const MIX_MAX_PODS: usize = 150;
/// Mix search: at most this many kinds of bin (offers and existing nodes, alike ones merged).
const MIX_MAX_KINDS: usize = 64;
/// Mix search: at most this many mixes enumerated, and search nodes spent enumerating.
const MIX_MAX_CANDIDATES: usize = 5_000;
const MIX_ENUM_NODES: usize = 200_000;
/// Mix search: bins a mix may have beyond the one that gave it room for the pods (a spare
/// node can make a packing possible that a minimal mix does not allow).
const MIX_SPARE: usize = 1;
/// Mix search: annealing moves per mix in each round, and in all.
const MIX_ROUNDS: [usize; 3] = [20_000, 80_000, 320_000];
const MIX_WORK: usize = 2_400_000;
const CG_LIMITS: colgen::Limits = colgen::Limits {
    iterations: 2_000,
    knapsack_nodes: 500,
    certify_factor: 1_000,
    total_nodes: 30_000_000,
};

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
        let total_cap: [f64; 5] = prob.nodes.iter().fold([0.0; 5], |mut a, n| {
            for (d, v) in a.iter_mut().enumerate() {
                *v += n.cap[d].max(1) as f64;
            }
            a
        });
        let avg_price = prob.nodes.iter().map(|n| n.price).sum::<f64>().max(1e-9);
        let fallback: [f64; 5] = std::array::from_fn(|d| avg_price / total_cap[d].max(1.0) / 2.0);
        let mut st = State::new(prob, fallback);
        // the configuration LP runs on replace problems that are small enough for it and where
        // classes hold many identical pods (its patterns then say a lot; with pods that are
        // nearly all different, its pricing is slow and ruin and recreate does better)
        let to_place = prob
            .pods
            .iter()
            .filter(|p| p.node.is_none() || p.blocker.is_none())
            .count();
        let mut rel = relax(&st, &fixed, |classes, kinds| {
            config.mode == Mode::Replace
                && classes > 0
                && classes <= CG_MAX_CLASSES
                && classes * kinds <= CG_MAX_CELLS
                && to_place >= CG_MIN_PODS_PER_CLASS * classes
        });
        let (agg_bound, y) = lower_bound(prob, &fixed, &rel.placeable)?;
        // shadow prices, with a little of the fallback so that no dimension is free
        let w: [f64; 5] = if y.iter().any(|v| *v > 0.0) {
            std::array::from_fn(|d| y[d] + 1e-3 * fallback[d])
        } else {
            fallback
        };
        st.set_weights(w);
        let cg = if rel.kinds.is_empty() {
            None
        } else {
            for pods in &mut rel.class_pods {
                pods.sort_by(|&a, &b| st.pval[b].total_cmp(&st.pval[a]).then(a.cmp(&b)));
            }
            colgen::solve(&rel.classes, &rel.kinds, &y, CG_LIMITS)
        };
        let fixed_cost: f64 = (0..prob.nodes.len())
            .filter(|&i| fixed[i])
            .map(|i| prob.nodes[i].price)
            .sum();
        let bound = match &cg {
            Some(o) => agg_bound.max(fixed_cost + o.bound),
            None => agg_bound,
        };
        for (i, &f) in fixed.iter().enumerate() {
            st.add_existing(i);
            st.bins[i].fixed = f;
        }
        // every pod where it runs now; the bins go into the best-fit index once, full
        let mut pending = Vec::new();
        for (pi, p) in prob.pods.iter().enumerate() {
            match p.node {
                Some(n) => st.place(pi, n),
                None => pending.push(pi),
            }
        }
        for i in 0..prob.nodes.len() {
            st.open_bin(i);
        }
        let before: f64 = prob.nodes.iter().map(|n| n.price).sum();
        let mut steps = Vec::new();
        let mut seq = 0usize;
        match config.mode {
            Mode::Remove => remove(&mut st, config, &mut steps),
            Mode::Replace => {
                let base = cg.as_ref().map(|_| st.clone());
                replace(&mut st, config, &mut seq, &mut steps, None, bound);
                // the same from the configuration LP's patterns; the better plan wins (more
                // pods placed, then the lower cost)
                if let (Some(cg), Some(mut st2)) = (&cg, base) {
                    let score = |st: &State<'_>| {
                        let placed = st.assign.iter().filter(|a| a.is_some()).count();
                        (placed, cost(st))
                    };
                    let (mut seq2, mut steps2) = (0, Vec::new());
                    replace(
                        &mut st2,
                        config,
                        &mut seq2,
                        &mut steps2,
                        Some((&rel, cg)),
                        bound,
                    );
                    let (a, b) = (score(&st), score(&st2));
                    if b.0 > a.0 || (b.0 == a.0 && b.1 < a.1 - 1e-9) {
                        st = st2;
                        steps = steps2;
                    }
                }
            }
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
    moved: Vec<(usize, String, String)>,
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
            .into_iter()
            .map(|(p, from, to)| Move {
                pod: prob.pods[p].id.clone(),
                from,
                to,
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
                moves,
                st.bins[c].price,
            );
            steps.push(s);
        }
    }
    if !empties.is_empty() {
        let saving: f64 = empties.iter().map(|&b| st.bins[b].price).sum();
        let names = empties.iter().map(|&b| st.bins[b].name.clone()).collect();
        steps.insert(
            0,
            make_step(st.prob, "remove", names, vec![], vec![], saving),
        );
    }
}

/// Closed existing nodes, grouped by everything the pods' rules can tell apart (type, zone,
/// capacity type, price, capacity, group, taints and the labels some pod selects on; the name
/// only when a pod matches on names), each group's nodes in reverse index order.
fn node_classes(st: &State<'_>, take: impl Fn(usize) -> bool) -> Vec<Vec<usize>> {
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
        if !take(i) {
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
/// order), if the pod `p` itself may go there. The lookahead comes as runs of identical pods
/// (representative, count).
#[allow(clippy::too_many_arguments)]
fn score(
    st: &State<'_>,
    p: usize,
    look: &[(usize, i64)],
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
    for &(q, n) in look {
        let req = prob.pods[q].req;
        // as many of the run as fit, one after the other
        let m = (0..5)
            .filter(|&d| req[d] > 0)
            .map(|d| (cap[d] - used[d]) / req[d])
            .fold(n, i64::min);
        if m > 0 && st.node_fits(q, lclass, labels, taints, hard_taints, "new") {
            used = std::array::from_fn(|d| used[d] + m * req[d]);
            v += m as f64 * st.pval[q];
        }
    }
    Some(v / price.max(1e-9))
}

/// LP-priced best-fit decreasing: each pod goes to the open bin where it leaves the least value
/// free; when none can take it, open the existing node or offer that packs the most value per
/// dollar of the next pods.
fn construct(st: &mut State<'_>, order: &[usize], seq: &mut usize) {
    let prob = st.prob;
    let mut classes = node_classes(st, |i| !st.bins[i].open && !st.bins[i].fixed);
    // where each run of identical pods (same requests and node-rule class) ends
    let mut run_end = vec![order.len(); order.len()];
    for k in (0..order.len().saturating_sub(1)).rev() {
        let (a, b) = (order[k], order[k + 1]);
        run_end[k] = if prob.pods[a].req == prob.pods[b].req && st.pclass[a] == st.pclass[b] {
            run_end[k + 1]
        } else {
            k + 1
        };
    }
    let mut k = 0;
    while k < order.len() {
        let p = order[k];
        if let Some(b) = st.best_fit(p) {
            st.place(p, b);
            k += 1;
            continue;
        }
        let end = order.len().min(k + LOOKAHEAD);
        let mut look = Vec::new();
        let mut i = k;
        while i < end {
            let j = run_end[i].min(end);
            look.push((order[i], (j - i) as i64));
            i = j;
        }
        let look = &look[..];
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

/// Which of the bins of room `rooms` each pod (requests `reqs`) goes to so that all fit, every
/// pod whole: depth-first, largest pod first, under a node budget. Bins of the same offer
/// (`kinds`) are interchangeable, so a pod never opens a later one of them before an earlier.
fn partition(reqs: &[R], rooms: &[R], kinds: &[usize], budget: &mut usize) -> Option<Vec<usize>> {
    let n = reqs.len();
    let mut big = [1i64; 5];
    for r in rooms {
        for d in 0..5 {
            big[d] = big[d].max(r[d]);
        }
    }
    let size = |r: &R| (0..5).map(|d| r[d] as f64 / big[d] as f64).sum::<f64>();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&x, &y| size(&reqs[y]).total_cmp(&size(&reqs[x])).then(x.cmp(&y)));
    let mut rest = vec![[0i64; 5]; n + 1];
    for k in (0..n).rev() {
        rest[k] = add(rest[k + 1], reqs[order[k]]);
    }
    struct Search<'a> {
        order: &'a [usize],
        reqs: &'a [R],
        rest: &'a [R],
        kinds: &'a [usize],
        side: Vec<usize>,
        budget: &'a mut usize,
    }
    impl Search<'_> {
        fn go(&mut self, k: usize, room: &mut [R]) -> bool {
            if k == self.order.len() {
                return true;
            }
            if *self.budget == 0 {
                return false;
            }
            *self.budget -= 1;
            // the room left always equals the first room less what is placed, so the pods
            // left fit in total at every node exactly when all of them fit at the root
            if k == 0 {
                let free = room.iter().fold([0i64; 5], |a, r| add(a, *r));
                if (0..5).any(|d| self.rest[0][d] > free[d]) {
                    return false;
                }
            }
            let r = self.reqs[self.order[k]];
            for s in 0..room.len() {
                // interchangeable bins: an empty one is tried only if no earlier twin is empty
                let twin_empty_before =
                    (0..s).any(|t| self.kinds[t] == self.kinds[s] && room[t] == room[s]);
                if twin_empty_before || !fits([0; 5], r, room[s]) {
                    continue;
                }
                room[s] = sub(room[s], r);
                self.side[self.order[k]] = s;
                if self.go(k + 1, room) {
                    return true;
                }
                room[s] = add(room[s], r);
            }
            false
        }
    }
    let mut room = rooms.to_vec();
    let mut search = Search {
        order: &order,
        reqs,
        rest: &rest,
        kinds,
        side: vec![0; n],
        budget,
    };
    search.go(0, &mut room).then_some(search.side)
}

/// Repacks the pods of bins `group` (one to three) into at most one more new bin (three at
/// most) that cost less together: the cheapest choice of offers that the pods split between. Every rule is
/// checked on the way in; on failure everything goes back.
fn try_repack(
    st: &mut State<'_>,
    group: &[usize],
    offers: &[usize],
    seq: &mut usize,
    budget: &mut usize,
) -> bool {
    let prob = st.prob;
    let pods: Vec<usize> = group
        .iter()
        .flat_map(|&b| st.bins[b].pods.clone())
        .collect();
    if pods.is_empty() {
        return false;
    }
    let cost: f64 = group.iter().map(|&b| st.bins[b].price).sum();
    let total = pods.iter().fold([0; 5], |a, &p| add(a, prob.pods[p].req));
    let cands: Vec<usize> = offers
        .iter()
        .copied()
        .filter(|&o| {
            let of = &prob.offers[o];
            let lclass = (prob.nodes.len() + o) as u32;
            let hard_taints = hard(&of.taints);
            of.price < cost - 1e-9
                && pods
                    .iter()
                    .all(|&q| st.node_fits(q, lclass, &of.labels, &of.taints, hard_taints, "new"))
        })
        .collect();
    let room_of = |o: usize| sub(prob.offers[o].cap, prob.offers[o].overhead);
    // choices of up to |group| offers (non-decreasing in `cands` order) cheaper than now, with
    // room for the total, cheapest first
    let mut options: Vec<(f64, Vec<usize>)> = Vec::new();
    let mut stack: Vec<(Vec<usize>, usize, f64, R)> = vec![(vec![], 0, 0.0, [0; 5])];
    while let Some((chosen, from, price, room)) = stack.pop() {
        if !chosen.is_empty() && fits([0; 5], total, room) {
            options.push((price, chosen.clone()));
        }
        if chosen.len() >= (group.len() + 1).min(3) {
            continue;
        }
        for (i, &o) in cands.iter().enumerate().skip(from) {
            let p = price + prob.offers[o].price;
            if p >= cost - 1e-9 {
                break; // cands are by price
            }
            let mut c = chosen.clone();
            c.push(o);
            stack.push((c, i, p, add(room, room_of(o))));
        }
    }
    options.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let reqs: Vec<R> = pods.iter().map(|&p| prob.pods[p].req).collect();
    for (_, chosen) in options {
        if *budget == 0 {
            return false;
        }
        let rooms: Vec<R> = chosen.iter().map(|&o| room_of(o)).collect();
        let side = if chosen.len() == 1 {
            Some(vec![0; pods.len()])
        } else {
            partition(&reqs, &rooms, &chosen, budget)
        };
        let Some(side) = side else { continue };
        // apply
        let origin: Vec<Option<usize>> = pods.iter().map(|&p| st.assign[p]).collect();
        for &p in &pods {
            st.unplace(p);
        }
        let new: Vec<usize> = chosen
            .iter()
            .map(|&o| {
                *seq += 1;
                st.add_offer(o, *seq)
            })
            .collect();
        let mut ok = true;
        for (i, &p) in pods.iter().enumerate() {
            let t = new[side[i]];
            if st.can_place(p, t) {
                st.place(p, t);
            } else {
                ok = false;
                break;
            }
        }
        if ok {
            for &b in group {
                st.close_bin(b);
            }
            for &b in &new {
                if st.bins[b].pods.is_empty() {
                    st.close_bin(b);
                }
            }
            return true;
        }
        for &p in &pods {
            st.unplace(p);
        }
        for &b in &new {
            st.close_bin(b);
        }
        for (&p, b) in pods.iter().zip(origin) {
            if let Some(b) = b {
                st.place(p, b);
            }
        }
        return false;
    }
    false
}

/// Local search: eliminate bins whose pods fit elsewhere (least value per dollar first), then
/// right-size each bin to the cheapest offer in its zone that holds its pods.
fn improve(st: &mut State<'_>, config: &PackingConfig, seq: &mut usize) {
    for _ in 0..config.improve_passes {
        let mut improved = eliminate(st);
        improved |= right_size(st, seq);
        improved |= repack(st, seq);
        if !improved {
            break;
        }
    }
}

/// Eliminates bins whose pods fit in the other open bins, least value per dollar first.
fn eliminate(st: &mut State<'_>) -> bool {
    let mut cands: Vec<(f64, usize)> = (0..st.bins.len())
        .filter(|&b| st.bins[b].open && !st.bins[b].fixed)
        .map(|b| (st.value(st.bins[b].used) / st.bins[b].price.max(1e-9), b))
        .collect();
    cands.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut improved = false;
    for (_, c) in cands.into_iter().take(512) {
        improved |= evacuate(st, c).is_some();
    }
    improved
}

/// Moves each bin's pods to a new node of the cheapest offer (any zone) that holds them all.
fn right_size(st: &mut State<'_>, seq: &mut usize) -> bool {
    let prob = st.prob;
    let mut improved = false;
    for b in 0..st.bins.len() {
        if !st.bins[b].open || st.bins[b].fixed || st.bins[b].pods.is_empty() {
            continue;
        }
        let used = st.bins[b].used;
        let price = st.bins[b].price;
        let mut best: Option<(f64, usize)> = None;
        for (o, of) in prob.offers.iter().enumerate() {
            if of.price >= price - 1e-9 || best.is_some_and(|(p, _)| of.price >= p) {
                continue;
            }
            let lclass = (prob.nodes.len() + o) as u32;
            let hard_taints = hard(&of.taints);
            if fits([0; 5], used, sub(of.cap, of.overhead))
                && st.bins[b]
                    .pods
                    .iter()
                    .all(|&q| st.node_fits(q, lclass, &of.labels, &of.taints, hard_taints, "new"))
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
    improved
}

/// Repacks each bin, then each pair of bins, into one or two that cost less (small problems).
fn repack(st: &mut State<'_>, seq: &mut usize) -> bool {
    let prob = st.prob;
    let open: Vec<usize> = (0..st.bins.len())
        .filter(|&b| st.bins[b].open && !st.bins[b].fixed && !st.bins[b].pods.is_empty())
        .collect();
    if open.len() > REPACK_MAX_BINS || prob.offers.len() > REPACK_MAX_OFFERS {
        return false;
    }
    let mut offers: Vec<usize> = (0..prob.offers.len()).collect();
    offers.sort_by(|&a, &b| {
        prob.offers[a]
            .price
            .total_cmp(&prob.offers[b].price)
            .then(a.cmp(&b))
    });
    let mut budget = REPACK_NODES;
    let mut improved = false;
    for &b in &open {
        if st.bins[b].open && try_repack(st, &[b], &offers, seq, &mut budget) {
            improved = true;
        }
    }
    for i in 0..open.len() {
        for j in i + 1..open.len() {
            let (a, b) = (open[i], open[j]);
            if st.bins[a].open
                && st.bins[b].open
                && try_repack(st, &[a, b], &offers, seq, &mut budget)
            {
                improved = true;
            }
        }
    }
    if open.len() <= REPACK3_MAX_BINS {
        for i in 0..open.len() {
            for j in i + 1..open.len() {
                for k in j + 1..open.len() {
                    let g = [open[i], open[j], open[k]];
                    if g.iter().all(|&b| st.bins[b].open)
                        && try_repack(st, &g, &offers, seq, &mut budget)
                    {
                        improved = true;
                    }
                }
            }
        }
    }
    improved
}

fn cost(st: &State<'_>) -> f64 {
    st.bins.iter().filter(|b| b.open).map(|b| b.price).sum()
}

/// Ruin and recreate (small problems): take the pods off a few bins (some chosen at random,
/// the emptiest more often), close those bins, put the pods back by the construction (best fit,
/// then the best new bins for them), right-size; keep the result when it costs no more.
fn ruin_recreate(st: &mut State<'_>, seq: &mut usize, iterations: usize) {
    let mut rng = Rng(0x5EED ^ st.prob.pods.len() as u64);
    let mut current = st.clone();
    let mut current_cost = cost(&current);
    let mut best_cost = current_cost;
    for it in 0..iterations {
        let open: Vec<usize> = (0..current.bins.len())
            .filter(|&b| {
                current.bins[b].open && !current.bins[b].fixed && !current.bins[b].pods.is_empty()
            })
            .collect();
        if open.len() < 2 {
            break;
        }
        let mut cand = current.clone();
        let k = 1 + rng.below(4.min(open.len()));
        let mut ruined: Vec<usize> = Vec::new();
        if rng.below(2) == 0 {
            // the emptiest bin (by value per dollar) and k - 1 others
            let e = *open
                .iter()
                .min_by(|&&a, &&b| {
                    let va = cand.value(cand.bins[a].used) / cand.bins[a].price.max(1e-9);
                    let vb = cand.value(cand.bins[b].used) / cand.bins[b].price.max(1e-9);
                    va.total_cmp(&vb).then(a.cmp(&b))
                })
                .unwrap_or(&open[0]);
            ruined.push(e);
        }
        while ruined.len() < k {
            let b = open[rng.below(open.len())];
            if !ruined.contains(&b) {
                ruined.push(b);
            }
        }
        let mut pods: Vec<usize> = Vec::new();
        for &b in &ruined {
            let ps = cand.bins[b].pods.clone();
            for &p in &ps {
                cand.unplace(p);
            }
            cand.close_bin(b);
            pods.extend(ps);
        }
        pods.sort_by(|&a, &b| cand.pval[b].total_cmp(&cand.pval[a]).then(a.cmp(&b)));
        // a little noise in the order now and then
        if it % 3 == 2 && pods.len() > 2 {
            let i = rng.below(pods.len() - 1);
            pods.swap(i, i + 1);
        }
        construct(&mut cand, &pods, seq);
        if pods.iter().any(|&p| cand.assign[p].is_none()) {
            continue;
        }
        right_size(&mut cand, seq);
        let c = cost(&cand);
        // threshold accepting: a little worse is fine early on, never at the end
        let threshold = RR_THRESHOLD * best_cost * (1.0 - it as f64 / iterations as f64);
        if c <= current_cost + threshold + 1e-9 {
            cand.compact();
            current = cand;
            current_cost = c;
            if c < best_cost - 1e-9 {
                best_cost = c;
                *st = current.clone();
            }
        }
    }
}

/// One dimension, pods split freely but only between bins that could hold each whole: with
/// requests and rooms both largest first, for every size the pods at least that large need no
/// more than the room of the bins at least that large (a necessary condition for packing).
fn nested_fit(reqs_desc: &[i64], rooms_desc: &[i64]) -> bool {
    let mut need = 0i64;
    let mut have = 0i64;
    let mut b = 0;
    for (i, &r) in reqs_desc.iter().enumerate() {
        need += r;
        // the group of pods of this size ends here: check it
        if reqs_desc.get(i + 1) == Some(&r) {
            continue;
        }
        while b < rooms_desc.len() && rooms_desc[b] >= r {
            have += rooms_desc[b];
            b += 1;
        }
        if need > have {
            return false;
        }
    }
    true
}

/// A kind of bin the mix search may open: an offer (any number of new nodes) or existing nodes
/// that only differ by name (at most as many as there are).
struct MixKind {
    price: f64,
    room: R,
    /// Offer, or the existing nodes' bins.
    offer: Option<usize>,
    nodes: Vec<usize>,
    /// Which of the pods being repacked its node rules allow and its room holds.
    takes: Vec<bool>,
}

/// Mix search (small problems): the pods on the bins that may change, packed afresh onto a
/// cheaper set of bins. Every mix of offers and existing nodes that costs less than now, no
/// less than the lower bound allows, and has room for the pods in total is a candidate; the
/// candidates are tried from the dearest down, each by annealing (`anneal`) with a small
/// budget first and larger ones for those left, and each success lowers the bar for the rest.
/// A found packing is then placed pod by pod with every rule checked, so the plan never trusts
/// the search. Hostname anti-affinity is kept by the annealing (pairs that must be apart); pods
/// with zone-level rules or topology spread keep the problem out.
fn retype(st: &mut State<'_>, seq: &mut usize, bound: f64) -> bool {
    let prob = st.prob;
    let var: Vec<usize> = (0..st.bins.len())
        .filter(|&b| st.bins[b].open && !st.bins[b].fixed && !st.bins[b].pods.is_empty())
        .collect();
    if var.iter().map(|&b| st.bins[b].pods.len()).sum::<usize>() > MIX_MAX_PODS {
        return false;
    }
    let pods: Vec<usize> = var.iter().flat_map(|&b| st.bins[b].pods.clone()).collect();
    // hostname anti-affinity is a pair rule the annealing keeps; zone rules and topology
    // spread depend on where everything else is, so they keep the problem out
    if pods.is_empty()
        || pods.iter().any(|&p| {
            let pod = &prob.pods[p];
            !pod.spread.is_empty() || pod.anti.iter().any(|(s, ..)| *s != Scope::Host)
        })
    {
        return false;
    }
    // the pods that may not share a node, both ways
    let mut apart: Vec<Vec<usize>> = vec![Vec::new(); pods.len()];
    for i in 0..pods.len() {
        for j in i + 1..pods.len() {
            let (a, b) = (pods[i], pods[j]);
            if (st.host_anti[a] || st.host_anti[b])
                && (anti_hits(&prob.pods[a], &prob.pods[b], Scope::Host)
                    || anti_hits(&prob.pods[b], &prob.pods[a], Scope::Host))
            {
                apart[i].push(j);
                apart[j].push(i);
            }
        }
    }
    let var_cost: f64 = var.iter().map(|&b| st.bins[b].price).sum();
    let kept_cost: f64 = (0..st.bins.len())
        .filter(|&b| st.bins[b].open && !var.contains(&b))
        .map(|b| st.bins[b].price)
        .sum();
    // no mix below what the lower bound leaves for these bins can hold the pods
    let floor = bound - kept_cost - 1e-6;
    let reqs: Vec<R> = pods.iter().map(|&p| prob.pods[p].req).collect();
    let demand = reqs.iter().fold([0; 5], |a, r| add(a, *r));
    // kinds: offers and closed-or-changing existing nodes, alike ones merged
    let mut kinds: Vec<MixKind> = Vec::new();
    let push = |kinds: &mut Vec<MixKind>, k: MixKind| {
        if !k.takes.iter().any(|&t| t) {
            return;
        }
        let same = kinds.iter_mut().find(|x| {
            x.price.to_bits() == k.price.to_bits() && x.room == k.room && x.takes == k.takes
        });
        match same {
            // another offer like one already there adds nothing; another node adds one more
            Some(x) if k.offer.is_none() && x.offer.is_none() => x.nodes.extend(k.nodes),
            Some(x) if x.offer.is_some() => {}
            _ => kinds.push(k),
        }
    };
    for (o, of) in prob.offers.iter().enumerate() {
        let room = sub(of.cap, of.overhead);
        let lclass = (prob.nodes.len() + o) as u32;
        let hard_taints = hard(&of.taints);
        let takes = pods
            .iter()
            .map(|&p| {
                fits([0; 5], prob.pods[p].req, room)
                    && st.node_fits(p, lclass, &of.labels, &of.taints, hard_taints, "new")
            })
            .collect();
        push(
            &mut kinds,
            MixKind {
                price: of.price,
                room,
                offer: Some(o),
                nodes: vec![],
                takes,
            },
        );
    }
    for b in 0..prob.nodes.len() {
        let bin = &st.bins[b];
        if bin.fixed || (bin.open && !var.contains(&b)) {
            continue;
        }
        let takes = pods
            .iter()
            .map(|&p| {
                fits([0; 5], prob.pods[p].req, bin.cap)
                    && st.node_fits(
                        p,
                        bin.lclass,
                        bin.labels,
                        bin.taints,
                        bin.hard_taints,
                        &bin.name,
                    )
            })
            .collect();
        push(
            &mut kinds,
            MixKind {
                price: bin.price,
                room: bin.cap,
                offer: None,
                nodes: vec![b],
                takes,
            },
        );
    }
    if kinds.is_empty() || kinds.len() > MIX_MAX_KINDS {
        return false;
    }
    kinds.sort_by(|a, b| b.price.total_cmp(&a.price));
    // the mixes: depth-first over the kinds, pruned by price and by the most room the money
    // left could still buy in each dimension
    let dims: Vec<usize> = (0..5).filter(|&d| demand[d] > 0).collect();
    let mut per_dollar = vec![[0.0f64; 5]; kinds.len() + 1];
    for k in (0..kinds.len()).rev() {
        let after = per_dollar[k + 1];
        per_dollar[k] = std::array::from_fn(|d| {
            let here = kinds[k].room[d].max(0) as f64 / kinds[k].price.max(1e-9);
            after[d].max(here)
        });
    }
    struct Enum<'a> {
        kinds: &'a [MixKind],
        per_dollar: &'a [[f64; 5]],
        dims: &'a [usize],
        demand: R,
        limit: f64,
        floor: f64,
        counts: Vec<usize>,
        found: Vec<(f64, Vec<usize>)>,
        nodes: usize,
    }
    impl Enum<'_> {
        /// Mixes with room for the pods whose bins after the one that gave them room number
        /// at most `spare`: kinds dearest first, so a mix is a few big bins, then smaller
        /// ones, then up to `spare` more of the smallest kinds it has or smaller.
        fn go(&mut self, k: usize, price: f64, room: R, spare: usize) {
            if self.nodes >= MIX_ENUM_NODES || self.found.len() >= MIX_MAX_CANDIDATES {
                return;
            }
            self.nodes += 1;
            let mut spare = spare;
            if self.dims.iter().all(|&d| room[d] >= self.demand[d]) {
                if price >= self.floor {
                    self.found.push((price, self.counts.clone()));
                }
                if spare == 0 {
                    return;
                }
                spare -= 1;
            } else {
                let left = self.limit - price;
                if self
                    .dims
                    .iter()
                    .any(|&d| room[d] as f64 + left * self.per_dollar[k][d] < self.demand[d] as f64)
                {
                    return;
                }
            }
            for next in k..self.kinds.len() {
                let kn = &self.kinds[next];
                let most = kn.offer.map_or(kn.nodes.len(), |_| usize::MAX);
                if self.counts[next] >= most || price + kn.price >= self.limit {
                    continue;
                }
                self.counts[next] += 1;
                self.go(next, price + kn.price, add(room, kn.room), spare);
                self.counts[next] -= 1;
            }
        }
    }
    let mut en = Enum {
        kinds: &kinds,
        per_dollar: &per_dollar,
        dims: &dims,
        demand,
        limit: var_cost - 1e-6,
        floor,
        counts: vec![0; kinds.len()],
        found: Vec::new(),
        nodes: 0,
    };
    en.go(0, 0.0, [0; 5], MIX_SPARE);
    let mut cands = en.found;
    // every pod needs a kind in the mix that takes it, and in each dimension the pods of at
    // least any size need as much room on the bins that can hold one of them
    let mut by_size: Vec<Vec<i64>> = (0..5)
        .map(|d| reqs.iter().map(|r| r[d]).filter(|&v| v > 0).collect())
        .collect();
    for v in &mut by_size {
        v.sort_unstable_by(|a, b| b.cmp(a));
    }
    cands.retain(|(_, counts)| {
        let takes_all =
            (0..pods.len()).all(|i| (0..kinds.len()).any(|k| counts[k] > 0 && kinds[k].takes[i]));
        takes_all
            && dims.iter().all(|&d| {
                let mut rooms: Vec<i64> = (0..kinds.len())
                    .flat_map(|k| std::iter::repeat_n(kinds[k].room[d], counts[k]))
                    .collect();
                rooms.sort_unstable_by(|a, b| b.cmp(a));
                nested_fit(&by_size[d], &rooms)
            })
    });
    // cheapest first (the first found is then the best, and the rest only need a look if
    // they are cheaper still), and of equal price the fewest bins first (larger bins pack more
    // easily)
    let bins_of = |c: &[usize]| c.iter().sum::<usize>();
    // (prices to the micro-dollar: sums in another order differ in the last bits)
    let micro = |p: f64| (p * 1e6).round() as i64;
    cands.sort_by(|a, b| {
        micro(a.0)
            .cmp(&micro(b.0))
            .then(bins_of(&a.1).cmp(&bins_of(&b.1)))
            .then(a.1.cmp(&b.1))
    });
    let mut best = var_cost - 1e-6;
    let mut work = MIX_WORK;
    let rounds = MIX_ROUNDS;
    let mut improved = false;
    let mut rng = Rng(0x000B_1EC7 ^ pods.len() as u64);
    let total_work = work;
    for (round, &iterations) in rounds.iter().enumerate() {
        // each round may spend its share of the work (the last one, what is left): the
        // cheapest mixes get the longer searches, not the most mixes the shortest ones
        if round + 1 < rounds.len() {
            work = total_work / 4;
        } else {
            work += total_work / 2;
        }
        let mut left = Vec::new();
        for (price, counts) in std::mem::take(&mut cands) {
            if price >= best {
                continue;
            }
            if work < iterations {
                left.push((price, counts));
                continue;
            }
            work -= iterations;
            let slots: Vec<usize> = (0..kinds.len())
                .flat_map(|k| std::iter::repeat_n(k, counts[k]))
                .collect();
            let rooms: Vec<R> = slots.iter().map(|&k| kinds[k].room).collect();
            let allowed: Vec<bool> = (0..pods.len())
                .flat_map(|i| slots.iter().map(move |&k| (i, k)))
                .map(|(i, k)| kinds[k].takes[i])
                .collect();
            let Some(at) = anneal::fit_all(&reqs, &rooms, &allowed, &apart, iterations, &mut rng)
            else {
                left.push((price, counts));
                continue;
            };
            // place it for real, every rule checked
            let mut cand = st.clone();
            for &p in &pods {
                cand.unplace(p);
            }
            for &b in &var {
                cand.close_bin(b);
            }
            let mut next_node = vec![0usize; kinds.len()];
            let bins: Vec<usize> = slots
                .iter()
                .map(|&k| match kinds[k].offer {
                    Some(o) => {
                        *seq += 1;
                        cand.add_offer(o, *seq)
                    }
                    None => {
                        let b = kinds[k].nodes[next_node[k]];
                        next_node[k] += 1;
                        cand.open_bin(b);
                        b
                    }
                })
                .collect();
            let mut ok = true;
            for (i, &p) in pods.iter().enumerate() {
                let b = bins[at[i]];
                if !cand.can_place(p, b) {
                    ok = false;
                    break;
                }
                cand.place(p, b);
            }
            if !ok {
                continue;
            }
            for &b in &bins {
                if cand.bins[b].pods.is_empty() {
                    cand.close_bin(b);
                }
            }
            cand.compact();
            *st = cand;
            best = price - 1e-6;
            improved = true;
        }
        cands = left;
        if cands.is_empty() {
            break;
        }
    }
    improved
}

/// Where the bins of a kind of the configuration LP come from.
#[derive(Debug, Clone)]
enum Source {
    /// New nodes of an offer.
    Offer(usize),
    /// Closed existing nodes that only differ by name.
    Nodes(Vec<usize>),
    /// The room left on a pinned node.
    Fixed(usize),
}

/// The replace problem as the configuration LP sees it: pods to place grouped into classes
/// (same requests and node-rule class), bins grouped into kinds.
struct Relax {
    classes: Vec<colgen::Class>,
    /// Pods of each class, in construction order.
    class_pods: Vec<Vec<usize>>,
    kinds: Vec<colgen::Kind>,
    sources: Vec<Source>,
    /// Pods that some kind could hold (the others are left out of every bound).
    placeable: Vec<bool>,
}

/// Builds the classes and kinds for the pods to place (movable and pending) and the bins a
/// replace plan may use (offers, existing nodes no pod pins, the room on pinned ones).
/// `full(classes, kinds)` says whether the configuration LP will run: only then is every
/// class checked against every kind; otherwise `kinds` is left empty and a class is
/// placeable as soon as one kind can hold it.
fn relax(st: &State<'_>, fixed: &[bool], full: impl FnOnce(usize, usize) -> bool) -> Relax {
    let prob = st.prob;
    let mut index: FastMap<(R, u32, usize), usize> = FastMap::default();
    let mut reps: Vec<usize> = Vec::new();
    let mut class_pods: Vec<Vec<usize>> = Vec::new();
    let mut order: Vec<usize> = (0..prob.pods.len())
        .filter(|&p| prob.pods[p].node.is_none() || prob.pods[p].blocker.is_none())
        .collect();
    order.sort_by(|&a, &b| st.pval[b].total_cmp(&st.pval[a]).then(a.cmp(&b)));
    for &p in &order {
        let pc = st.pclass[p];
        // pods matching on node names are classes of their own
        let key = (prob.pods[p].req, pc, if pc == NO_CLASS { p } else { 0 });
        let c = *index.entry(key).or_insert_with(|| {
            reps.push(p);
            class_pods.push(vec![]);
            reps.len() - 1
        });
        class_pods[c].push(p);
    }
    // every kind of bin: (capacity, price, limit, node-rule class, labels, taints, name)
    type Bins<'a> = (
        R,
        f64,
        Option<i64>,
        u32,
        &'a BTreeMap<String, String>,
        &'a [Taint],
        &'a str,
    );
    let mut bins: Vec<Bins<'_>> = Vec::new();
    let mut sources = Vec::new();
    for (o, of) in prob.offers.iter().enumerate() {
        let lclass = (prob.nodes.len() + o) as u32;
        bins.push((
            sub(of.cap, of.overhead),
            of.price,
            None,
            lclass,
            &of.labels,
            &of.taints,
            "new",
        ));
        sources.push(Source::Offer(o));
    }
    for group in node_classes(st, |i| !fixed[i]) {
        let Some(&i) = group.last() else { continue };
        let n = &prob.nodes[i];
        let limit = Some(group.len() as i64);
        bins.push((
            sub(n.cap, n.overhead),
            n.price,
            limit,
            i as u32,
            &n.labels,
            &n.taints,
            &n.name,
        ));
        sources.push(Source::Nodes(group));
    }
    let mut pinned_use: HashMap<usize, R> = HashMap::new();
    for p in &prob.pods {
        if let (Some(_), Some(n)) = (&p.blocker, p.node)
            && fixed[n]
        {
            let u = pinned_use.entry(n).or_insert([0; 5]);
            *u = add(*u, p.req);
        }
    }
    for (i, n) in prob.nodes.iter().enumerate() {
        if !fixed[i] {
            continue;
        }
        let cap = sub(
            sub(n.cap, n.overhead),
            pinned_use.get(&i).copied().unwrap_or([0; 5]),
        );
        bins.push((cap, 0.0, Some(1), i as u32, &n.labels, &n.taints, &n.name));
        sources.push(Source::Fixed(i));
    }
    let holds = |&(cap, _, _, lclass, labels, taints, name): &Bins<'_>, p: usize| {
        fits([0; 5], prob.pods[p].req, cap)
            && st.node_fits(p, lclass, labels, taints, hard(taints), name)
    };
    let mut kinds = Vec::new();
    let any: Vec<bool> = if full(reps.len(), bins.len()) {
        for k in &bins {
            kinds.push(colgen::Kind {
                cap: k.0,
                price: k.1,
                limit: k.2,
                elig: reps.iter().map(|&p| holds(k, p)).collect(),
            });
        }
        (0..reps.len())
            .map(|c| kinds.iter().any(|k| k.elig[c]))
            .collect()
    } else {
        sources.clear();
        reps.iter()
            .map(|&p| bins.iter().any(|k| holds(k, p)))
            .collect()
    };
    let mut placeable = vec![false; prob.pods.len()];
    let mut classes = Vec::new();
    for (c, pods) in class_pods.iter().enumerate() {
        for &p in pods {
            placeable[p] = any[c];
        }
        classes.push(colgen::Class {
            req: prob.pods[reps[c]].req,
            n: pods.len() as i64,
        });
    }
    Relax {
        classes,
        class_pods,
        kinds,
        sources,
        placeable,
    }
}

/// Opens bins of the patterns and fills them with pods of their classes, every rule checked.
struct Realizer<'r> {
    relax: &'r Relax,
    pools: Vec<Vec<usize>>,
    nodes: Vec<Vec<usize>>,
    used_fixed: Vec<bool>,
}

impl<'r> Realizer<'r> {
    fn new(relax: &'r Relax) -> Self {
        Realizer {
            relax,
            pools: relax
                .class_pods
                .iter()
                .map(|v| v.iter().rev().copied().collect())
                .collect(),
            nodes: relax
                .sources
                .iter()
                .map(|s| match s {
                    Source::Nodes(v) => v.clone(),
                    _ => vec![],
                })
                .collect(),
            used_fixed: vec![false; relax.kinds.len()],
        }
    }

    /// Opens `copies` bins of pattern `pat`; whether any pod was placed.
    fn open(
        &mut self,
        st: &mut State<'_>,
        pat: &colgen::Pattern,
        copies: usize,
        seq: &mut usize,
    ) -> bool {
        let mut placed_any = false;
        for _ in 0..copies {
            let b = match &self.relax.sources[pat.kind] {
                Source::Offer(o) => {
                    *seq += 1;
                    st.add_offer(*o, *seq)
                }
                Source::Nodes(_) => {
                    let Some(i) = self.nodes[pat.kind].pop() else {
                        break;
                    };
                    st.open_bin(i);
                    i
                }
                Source::Fixed(i) => {
                    if self.used_fixed[pat.kind] {
                        break;
                    }
                    self.used_fixed[pat.kind] = true;
                    *i
                }
            };
            for &(c, count) in &pat.items {
                let mut placed = 0;
                let mut skipped = Vec::new();
                while placed < count {
                    let Some(p) = self.pools[c].pop() else { break };
                    if st.can_place(p, b) {
                        st.place(p, b);
                        placed += 1;
                        placed_any = true;
                    } else {
                        skipped.push(p);
                        if skipped.len() > 8 {
                            break;
                        }
                    }
                }
                self.pools[c].extend(skipped.into_iter().rev());
            }
            if st.bins[b].pods.is_empty() && !st.bins[b].fixed {
                st.close_bin(b);
                if let Source::Nodes(_) = self.relax.sources[pat.kind] {
                    self.nodes[pat.kind].push(b);
                }
            }
        }
        placed_any
    }

    /// Pods left per class (classes no kind without a limit can hold count zero) and the bins
    /// left per limited kind.
    fn left(&self) -> (Vec<i64>, Vec<Option<i64>>) {
        let demand = (0..self.pools.len())
            .map(|c| {
                let coverable = self
                    .relax
                    .kinds
                    .iter()
                    .any(|k| k.limit.is_none() && k.elig[c]);
                if coverable {
                    self.pools[c].len() as i64
                } else {
                    0
                }
            })
            .collect();
        let limits = self
            .relax
            .sources
            .iter()
            .enumerate()
            .map(|(k, s)| match s {
                Source::Offer(_) => None,
                Source::Nodes(_) => Some(self.nodes[k].len() as i64),
                Source::Fixed(_) => Some(i64::from(!self.used_fixed[k])),
            })
            .collect();
        (demand, limits)
    }
}

/// Turns the configuration LP's patterns into bins by diving: open the bins the LP solution
/// uses whole (rounded down; the most used pattern when none is), re-solve the LP for the pods
/// left, repeat. The construction then places what is left.
fn realize(st: &mut State<'_>, relax: &Relax, cg: &colgen::Outcome, seq: &mut usize) {
    let mut r = Realizer::new(relax);
    let mut lambda = cg.lambda.clone();
    let mut before = r.left().0;
    for _ in 0..st.prob.pods.len().max(1) {
        let mut take: Vec<(usize, usize)> = (0..cg.patterns.len())
            .filter(|&j| lambda[j] >= 1.0 - 1e-6)
            .map(|j| (j, (lambda[j] + 1e-6).floor() as usize))
            .collect();
        if take.is_empty() {
            let best = (0..cg.patterns.len())
                .filter(|&j| lambda[j] > 1e-6)
                .max_by(|&a, &b| lambda[a].total_cmp(&lambda[b]).then(b.cmp(&a)));
            match best {
                Some(j) => take.push((j, 1)),
                None => break,
            }
        }
        take.sort_by(|a, b| lambda[b.0].total_cmp(&lambda[a.0]).then(a.0.cmp(&b.0)));
        let mut placed_any = false;
        for (j, copies) in take {
            placed_any |= r.open(st, &cg.patterns[j], copies, seq);
        }
        let (demand, limits) = r.left();
        if !placed_any || demand.iter().all(|&n| n == 0) || demand == before {
            break;
        }
        match colgen::primal(&cg.patterns, &relax.kinds, &demand, &limits) {
            Some(l) => lambda = l,
            None => break,
        }
        before = demand;
    }
}

fn replace(
    st: &mut State<'_>,
    config: &PackingConfig,
    seq: &mut usize,
    steps: &mut Vec<Step>,
    patterns: Option<(&Relax, &colgen::Outcome)>,
    bound: f64,
) {
    let prob = st.prob;
    let origin: Vec<Option<usize>> = st.assign.clone();
    // take every movable pod off; close every node that no pod pins
    let movable: Vec<usize> = (0..prob.pods.len())
        .filter(|&p| prob.pods[p].blocker.is_none() && st.assign[p].is_some())
        .collect();
    // (closed first: a closed bin is not re-indexed at every pod taken off it)
    for b in 0..prob.nodes.len() {
        if !st.bins[b].fixed {
            st.close_bin(b);
        }
    }
    for &p in &movable {
        st.unplace(p);
    }
    // pods not running anywhere yet are packed too: the plan must make room for them
    let mut order: Vec<usize> = movable.clone();
    order.extend(
        (0..prob.pods.len()).filter(|&p| prob.pods[p].node.is_none() && st.assign[p].is_none()),
    );
    order.sort_by(|&a, &b| st.pval[b].total_cmp(&st.pval[a]).then(a.cmp(&b)));
    let to_place = order.len();
    if let Some((relax, cg)) = patterns {
        realize(st, relax, cg, seq);
        order.retain(|&p| st.assign[p].is_none());
    }
    construct(st, &order, seq);
    improve(st, config, seq);
    let pods = to_place;
    if config.improve_passes > 0 && pods > 0 && pods <= RR_MAX_PODS {
        ruin_recreate(st, seq, (RR_WORK / pods).min(RR_MAX_ITERATIONS));
        improve(st, config, seq);
        if retype(st, seq, bound) {
            improve(st, config, seq);
        }
    }
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
            moves,
            before - after,
        ));
    }
}

#[cfg(test)]
mod fit_tests {
    use std::collections::BTreeMap;

    use super::super::model::{Offer, PPod, pod_shell};
    use super::*;

    /// The reference best fit: every open bin that takes the pod and whose bottleneck is at
    /// least the pod's, the least bottleneck first, then the lowest index.
    fn linear(st: &State<'_>, p: usize) -> Option<usize> {
        let lo = st.index.key_of(st.prob.pods[p].req) - 1;
        (0..st.bins.len())
            .filter(|&b| st.bins[b].open && st.can_place(p, b))
            .map(|b| (st.index.key_of(sub(st.bins[b].cap, st.bins[b].used)), b))
            .filter(|&(k, _)| k >= lo)
            .min()
            .map(|(_, b)| b)
    }

    fn offer(cpu: i64, mem: i64, pods: i64, memory_group: bool) -> Offer {
        let mut labels = BTreeMap::new();
        if memory_group {
            labels.insert("workload-class".to_string(), "memory".to_string());
        }
        Offer {
            instance_type: format!("t{cpu}-{mem}"),
            zone: "z".into(),
            capacity_type: "on-demand".into(),
            group: None,
            labels,
            taints: vec![],
            cap: [cpu, mem, pods, 0, 0],
            overhead: [0; 5],
            price: cpu as f64 / 1000.0,
        }
    }

    /// A seeded problem with few pod shapes (runs of identical pods), some pods held to the
    /// memory group, and offers in both groups.
    fn problem(seed: u64, with_anti: bool) -> Problem {
        let mut rng = Rng(seed);
        let shapes: Vec<R> = (0..6)
            .map(|_| {
                let cpu = 50 * (1 + rng.below(40) as i64);
                let mem = 64 * (1 + rng.below(64) as i64);
                [cpu, mem, 1, 0, 0]
            })
            .collect();
        let pods: Vec<PPod> = (0..300)
            .map(|i| {
                let mut p = pod_shell();
                p.id = format!("default/p{i}");
                p.namespace = "default".into();
                p.req = shapes[rng.below(shapes.len())];
                if rng.below(10) == 0 {
                    p.node_selector
                        .insert("workload-class".into(), "memory".into());
                }
                if with_anti && rng.below(20) == 0 {
                    p.labels.insert("app".into(), "spread".into());
                    p.anti.push((
                        Scope::Host,
                        crate::model::LabelSelector {
                            match_labels: BTreeMap::from([("app".into(), "spread".into())]),
                            ..Default::default()
                        },
                        vec![],
                    ));
                }
                p
            })
            .collect();
        let offers = vec![
            offer(2000, 4096, 8, false),
            offer(4000, 16384, 16, false),
            offer(8000, 8192, 20, false),
            offer(4000, 32768, 12, true),
        ];
        Problem {
            nodes: vec![],
            pods,
            offers,
            zones: vec!["z".into()],
        }
    }

    /// Best fit with its memo gives the bin that a linear scan of every open bin gives, through
    /// runs of identical pods, bins opened when nothing fits, pods taken off and bins closed.
    #[test]
    fn best_fit_matches_a_linear_scan() {
        for seed in 0..40u64 {
            let prob = problem(seed, seed % 4 == 3);
            let mut st = State::new(&prob, [1e-3, 1e-4, 0.0, 0.0, 0.0]);
            let mut rng = Rng(seed ^ 0xF17);
            let mut order: Vec<usize> = (0..prob.pods.len()).collect();
            // identical pods next to each other, as the construction orders them
            order.sort_by_key(|&p| (std::cmp::Reverse(prob.pods[p].req[0]), p));
            let mut seq = 0;
            let (mut checked, mut remembered) = (0, 0);
            for &p in &order {
                remembered += usize::from(st.memo.is_some_and(|m| m.class == st.fit_class[p]));
                let want = linear(&st, p);
                assert_eq!(want, st.best_fit_scan(p), "seed {seed}, pod {p}");
                let got = st.best_fit(p);
                assert_eq!(got, want, "seed {seed}, pod {p}");
                checked += 1;
                match got {
                    Some(b) => st.place(p, b),
                    None => {
                        seq += 1;
                        let o = if prob.pods[p].node_selector.is_empty() {
                            rng.below(3)
                        } else {
                            3
                        };
                        let nb = st.add_offer(o, seq);
                        // the query again, with the new bin as the only candidate
                        let again = st.best_fit(p);
                        assert_eq!(again, linear(&st, p), "seed {seed}, pod {p}");
                        if let Some(b) = again {
                            st.place(p, b);
                        } else {
                            st.close_bin(nb);
                        }
                    }
                }
                // now and then, a change the memo must not survive
                match rng.below(25) {
                    0 => {
                        let placed: Vec<usize> = order
                            .iter()
                            .copied()
                            .filter(|&q| st.assign[q].is_some())
                            .collect();
                        if !placed.is_empty() {
                            st.unplace(placed[rng.below(placed.len())]);
                        }
                    }
                    1 => {
                        let empty: Vec<usize> = (0..st.bins.len())
                            .filter(|&b| st.bins[b].open && st.bins[b].pods.is_empty())
                            .collect();
                        if let Some(&b) = empty.first() {
                            st.close_bin(b);
                        }
                    }
                    _ => {}
                }
            }
            assert_eq!(checked, prob.pods.len());
            // without inter-pod rules, many queries start from where the last one stopped
            if seed % 4 != 3 {
                assert!(
                    remembered > prob.pods.len() / 3,
                    "seed {seed}: {remembered}"
                );
            } else {
                assert_eq!(remembered, 0, "seed {seed}");
            }
            assert!(st.bins.iter().filter(|b| b.open).count() > 3, "seed {seed}");
        }
    }

    /// Bins too full for the smallest pod stay out of the index, and come back when room frees.
    #[test]
    fn full_bins_leave_the_index() {
        let mut prob = problem(7, false);
        prob.pods.truncate(3);
        for p in &mut prob.pods {
            p.req = [100, 100, 1, 0, 0];
            p.node_selector.clear();
        }
        prob.offers = vec![offer(1000, 1000, 2, false)];
        let mut st = State::new(&prob, [1e-3, 1e-3, 0.0, 0.0, 0.0]);
        let b = st.add_offer(0, 1);
        assert_eq!(st.best_fit(0), Some(b));
        st.place(0, b);
        st.place(1, b);
        // no pod slot left: out of the index, and no pod fits
        assert!(st.index.key[b].is_none());
        assert_eq!(st.best_fit(2), None);
        st.unplace(1);
        assert!(st.index.key[b].is_some());
        assert_eq!(st.best_fit(2), Some(b));
    }

    /// Pods in memory units of 1 GiB: 5 (only on memory-class nodes), 4, 4, 3, 2, 2. With
    /// `apart`, the two 4-GiB pods may not share a node (hostname anti-affinity); with `zone`,
    /// the first of them has a zone anti-affinity term.
    fn split_problem(apart: bool, zone: bool) -> Problem {
        let pods = [5i64, 4, 4, 3, 2, 2]
            .iter()
            .enumerate()
            .map(|(i, &g)| {
                let mut p = pod_shell();
                p.id = format!("default/p{i}");
                p.namespace = "default".into();
                p.req = [100, g * 1024, 1, 0, 0];
                if i == 0 {
                    p.node_selector
                        .insert("workload-class".into(), "memory".into());
                }
                let term = || crate::model::LabelSelector {
                    match_labels: BTreeMap::from([("app".into(), "a".into())]),
                    ..Default::default()
                };
                if (apart || zone) && (i == 1 || i == 2) {
                    p.labels.insert("app".into(), "a".into());
                }
                if apart && i == 1 {
                    p.anti.push((Scope::Host, term(), vec![]));
                }
                if zone && i == 1 {
                    // (a term no pod matches: the rule holds anywhere, but it is zone-level)
                    let mut t = term();
                    t.match_labels.insert("app".into(), "none".into());
                    p.anti.push((Scope::Zone, t, vec![]));
                }
                p
            })
            .collect();
        let mut plain = offer(4000, 10 * 1024, 10, false);
        plain.price = 1.0;
        let mut memory = offer(4000, 10 * 1024, 10, true);
        memory.instance_type = "memory".into();
        memory.price = 1.2;
        let mut big = offer(8000, 40 * 1024, 20, false);
        big.price = 5.0;
        Problem {
            nodes: vec![],
            pods,
            offers: vec![plain, memory, big],
            zones: vec!["z".into()],
        }
    }

    /// Every pod on a bin of its own: the memory pod on a memory node, the rest on big ones.
    fn one_bin_each<'p>(prob: &'p Problem, seq: &mut usize) -> State<'p> {
        let mut st = State::new(prob, [1e-3, 1e-4, 0.0, 0.0, 0.0]);
        for p in 0..prob.pods.len() {
            *seq += 1;
            let b = st.add_offer(if p == 0 { 1 } else { 2 }, *seq);
            assert!(st.can_place(p, b));
            st.place(p, b);
        }
        st
    }

    /// Only one memory node plus one plain node (2.2 $/h) holds the pods, and only as
    /// {5, 3, 2} and {4, 4, 2}: the mix search finds it, with the memory pod on the memory node
    /// and no bin over its room.
    #[test]
    fn mix_search_finds_the_cheapest_mix_and_keeps_node_rules() {
        let prob = split_problem(false, false);
        let mut seq = 0;
        let mut st = one_bin_each(&prob, &mut seq);
        assert!((cost(&st) - 26.2).abs() < 1e-9);
        assert!(retype(&mut st, &mut seq, 0.0));
        assert!((cost(&st) - 2.2).abs() < 1e-9, "cost {}", cost(&st));
        let open: Vec<&Bin<'_>> = st.bins.iter().filter(|b| b.open).collect();
        assert_eq!(open.len(), 2);
        for b in &open {
            assert!(
                (0..5).all(|d| b.used[d] <= b.cap[d]),
                "{} over its room",
                b.name
            );
        }
        let b0 = st.assign[0].expect("the memory pod is placed");
        assert_eq!(st.bins[b0].offer, Some(1));
        assert!(st.assign.iter().all(Option::is_some));
        // a lower bound above every cheaper mix: nothing to try, nothing changes
        let before = cost(&st);
        assert!(!retype(&mut st, &mut seq, 2.2));
        assert!((cost(&st) - before).abs() < 1e-12);
    }

    /// With the two 4-GiB pods kept apart no two-node split exists; the cheapest plan is a
    /// memory node and two plain ones (3.2 $/h), and the two pods end up on different nodes.
    #[test]
    fn mix_search_keeps_pods_apart() {
        let prob = split_problem(true, false);
        let mut seq = 0;
        let mut st = one_bin_each(&prob, &mut seq);
        assert!(retype(&mut st, &mut seq, 0.0));
        assert!((cost(&st) - 3.2).abs() < 1e-9, "cost {}", cost(&st));
        assert_ne!(st.assign[1], st.assign[2]);
        assert!(st.assign.iter().all(Option::is_some));
        for b in st.bins.iter().filter(|b| b.open) {
            assert!(
                (0..5).all(|d| b.used[d] <= b.cap[d]),
                "{} over its room",
                b.name
            );
        }
    }

    /// Zone-level rules keep the mix search out: the state is left as it was.
    #[test]
    fn mix_search_leaves_zone_rules_alone() {
        let prob = split_problem(false, true);
        let mut seq = 0;
        let mut st = one_bin_each(&prob, &mut seq);
        let assign = st.assign.clone();
        assert!(!retype(&mut st, &mut seq, 0.0));
        assert_eq!(st.assign, assign);
        assert!((cost(&st) - 26.2).abs() < 1e-9);
    }

    /// On seeded problems with node selectors (and, on odd seeds, hostname anti-affinity),
    /// whatever the mix search does costs less and breaks no rule: every pod placed, no bin
    /// over its room, every pod on a node its rules allow, no two pods that must be apart on
    /// one node.
    #[test]
    fn mix_search_only_ever_lowers_cost_and_breaks_no_rule() {
        let mut improved = 0;
        for seed in 0..12u64 {
            let mut prob = problem(seed, seed % 2 == 1);
            prob.pods.truncate(40);
            let mut st = State::new(&prob, [1e-3, 1e-4, 0.0, 0.0, 0.0]);
            let mut order: Vec<usize> = (0..prob.pods.len()).collect();
            order.sort_by_key(|&p| std::cmp::Reverse(prob.pods[p].req[1]));
            let mut seq = 0;
            construct(&mut st, &order, &mut seq);
            assert!(st.assign.iter().all(Option::is_some), "seed {seed}");
            let before = cost(&st);
            if retype(&mut st, &mut seq, 0.0) {
                improved += 1;
                assert!(cost(&st) < before - 1e-9, "seed {seed}");
            } else {
                assert!((cost(&st) - before).abs() < 1e-12, "seed {seed}");
            }
            assert!(st.assign.iter().all(Option::is_some), "seed {seed}");
            for (i, b) in st.bins.iter().enumerate() {
                if !b.open {
                    assert!(b.pods.is_empty(), "seed {seed}: closed bin {i} holds pods");
                    continue;
                }
                assert!(
                    (0..5).all(|d| b.used[d] <= b.cap[d]),
                    "seed {seed}: bin {i}"
                );
                for &p in &b.pods {
                    assert!(
                        node_ok(&prob.pods[p], b.labels, b.taints, &b.name),
                        "seed {seed}: pod {p} on {}",
                        b.name
                    );
                    for &q in &b.pods {
                        assert!(
                            p == q || !anti_hits(&prob.pods[p], &prob.pods[q], Scope::Host),
                            "seed {seed}: pods {p} and {q} share {}",
                            b.name
                        );
                    }
                }
            }
        }
        // construction alone leaves money on the table on these problems
        assert!(improved > 0);
    }
}
