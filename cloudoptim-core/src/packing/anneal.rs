//! Fixed-bins feasibility by simulated annealing: given the rooms of a set of bins and the
//! requests of a set of pods, look for an assignment where every pod fits. The search moves
//! one pod to another bin or swaps two pods of different bins, and minimises the total
//! overflow (each bin's excess over its room, per dimension, as a fraction of the room), so
//! it can pass through overfull states that a placement-by-placement search never visits.
//! That is what closes memory-tight packings, where the last few per cent of a dimension are
//! filled by the exact mix of pod sizes on each node.
//!
//! It only ever answers "found" with an assignment that fits (checked on the way out); "not
//! found" proves nothing, which is why callers treat it as a heuristic.

use super::model::R;

/// SplitMix64: seeded, so plans are reproducible.
#[derive(Debug, Clone)]
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Below `n` (< 2^32) by a multiply and a shift instead of a division: the annealing loop
    /// draws several per move.
    fn pick(&mut self, n: usize) -> usize {
        (((self.next() >> 32) * n as u64) >> 32) as usize
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Starting temperature, in units of overflow (a fraction of a bin's room).
const T0: f64 = 0.05;

/// What a pair of pods that must be apart costs on one bin, in units of overflow.
const APART: f64 = 0.1;

/// One bin's overflow: per dimension that holds anything, the excess over the room as a
/// fraction of the room (a dimension with no room at all counts its whole use).
fn overflow(used: &R, room: &R, dims: &[usize], inv: &R2) -> f64 {
    let mut s = 0.0;
    for &d in dims {
        if used[d] > 0 && used[d] > room[d] {
            s += (used[d] - room[d].max(0)) as f64 * inv[d];
        }
    }
    s
}

type R2 = [f64; 5];

/// Looks for an assignment of pods (`reqs`) to bins (`rooms`) where every pod fits, pod `i`
/// only goes to a bin `b` with `allowed[i * rooms.len() + b]`, and no bin holds two pods that
/// must be apart (`apart[i]` lists the pods that may not share a node with `i`, both ways),
/// within `iterations` moves.
/// Returns the bin of each pod, or `None` when no packing was found.
pub(super) fn fit_all(
    reqs: &[R],
    rooms: &[R],
    allowed: &[bool],
    apart: &[Vec<usize>],
    iterations: usize,
    rng: &mut Rng,
) -> Option<Vec<usize>> {
    let n = reqs.len();
    let nb = rooms.len();
    if nb == 0 || allowed.len() != n * nb || apart.len() != n {
        return (n == 0).then(Vec::new);
    }
    let options: Vec<Vec<usize>> = (0..n)
        .map(|i| (0..nb).filter(|&b| allowed[i * nb + b]).collect())
        .collect();
    if options.iter().any(Vec::is_empty) {
        return None;
    }
    let dims: Vec<usize> = (0..5).filter(|&d| reqs.iter().any(|r| r[d] > 0)).collect();
    let inv: Vec<R2> = rooms
        .iter()
        .map(|room| {
            std::array::from_fn(|d| {
                // a bin without room in a dimension: count overflow against the mean request
                let scale = if room[d] > 0 {
                    room[d] as f64
                } else {
                    (reqs.iter().map(|r| r[d].max(0)).sum::<i64>() as f64 / n.max(1) as f64)
                        .max(1.0)
                };
                1.0 / scale
            })
        })
        .collect();
    // start: largest pod first (by its share of the biggest room), into the allowed bin that
    // keeps the most room after it
    let mut big = [1i64; 5];
    for r in rooms {
        for d in 0..5 {
            big[d] = big[d].max(r[d]);
        }
    }
    let share = |r: &R| {
        dims.iter()
            .map(|&d| r[d] as f64 / big[d] as f64)
            .sum::<f64>()
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| share(&reqs[b]).total_cmp(&share(&reqs[a])).then(a.cmp(&b)));
    let mut used = vec![[0i64; 5]; nb];
    // (not placed yet: no bin)
    let mut at = vec![usize::MAX; n];
    // pods in bin `b` that pod `x` must be apart from, `skip` not counted
    let clash = |x: usize, b: usize, skip: usize, at: &[usize]| {
        apart[x]
            .iter()
            .filter(|&&y| y != skip && at[y] == b)
            .count() as i64
    };
    for &i in &order {
        let mut best: Option<(f64, usize)> = None;
        for &b in &options[i] {
            let left: f64 = dims
                .iter()
                .map(|&d| (rooms[b][d] - used[b][d] - reqs[i][d]) as f64 * inv[b][d])
                .sum::<f64>()
                - 10.0 * clash(i, b, usize::MAX, &at) as f64;
            if best.is_none_or(|(l, _)| left > l) {
                best = Some((left, b));
            }
        }
        let b = best.map_or(options[i][0], |(_, b)| b);
        at[i] = b;
        for d in 0..5 {
            used[b][d] += reqs[i][d];
        }
    }
    // pairs in each bin that must be apart
    let mut pairs = vec![0i64; nb];
    for i in 0..n {
        pairs[at[i]] += clash(i, at[i], usize::MAX, &at);
    }
    for p in &mut pairs {
        *p /= 2;
    }
    let pen_of = |b: usize, used: &R, pairs: i64| {
        overflow(used, &rooms[b], &dims, &inv[b]) + APART * pairs as f64
    };
    let mut pen: Vec<f64> = (0..nb).map(|b| pen_of(b, &used[b], pairs[b])).collect();
    let mut total: f64 = pen.iter().sum();
    // the pods of each bin, and each pod's place in its bin's list
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); nb];
    let mut slot = vec![0usize; n];
    for i in 0..n {
        slot[i] = members[at[i]].len();
        members[at[i]].push(i);
    }
    // the overfull bins, and each one's place in that list
    let mut over: Vec<usize> = Vec::with_capacity(nb);
    let mut over_at = vec![usize::MAX; nb];
    let mark = |b: usize, full: bool, over: &mut Vec<usize>, over_at: &mut Vec<usize>| {
        let listed = over_at[b] != usize::MAX;
        if full && !listed {
            over_at[b] = over.len();
            over.push(b);
        } else if !full && listed {
            let k = over_at[b];
            over.swap_remove(k);
            if let Some(&c) = over.get(k) {
                over_at[c] = k;
            }
            over_at[b] = usize::MAX;
        }
    };
    for (b, &p) in pen.iter().enumerate() {
        mark(b, p > 0.0, &mut over, &mut over_at);
    }
    for it in 0..iterations {
        if total <= 1e-12 {
            break;
        }
        let temp = T0 * (1.0 - it as f64 / iterations as f64) + 1e-9;
        // most moves take a pod off an overfull bin; some take any pod
        let i = if it % 4 != 0 {
            if over.is_empty() {
                break;
            }
            let b = over[rng.pick(over.len())];
            members[b][rng.pick(members[b].len())]
        } else {
            rng.pick(n)
        };
        let b0 = at[i];
        let swap = rng.next() & 1 == 0;
        let (j, b1) = if swap {
            let b1 = options[i][rng.pick(options[i].len())];
            if b1 == b0 || members[b1].is_empty() {
                continue;
            }
            let j = members[b1][rng.pick(members[b1].len())];
            if !allowed[j * nb + b0] {
                continue;
            }
            (Some(j), b1)
        } else {
            let b1 = options[i][rng.pick(options[i].len())];
            if b1 == b0 {
                continue;
            }
            (None, b1)
        };
        // what moves from b0 to b1 (pod i less pod j when swapping)
        let mut delta = reqs[i];
        if let Some(j) = j {
            for d in 0..5 {
                delta[d] -= reqs[j][d];
            }
        }
        let mut u0 = used[b0];
        let mut u1 = used[b1];
        for d in 0..5 {
            u0[d] -= delta[d];
            u1[d] += delta[d];
        }
        // pairs that must be apart, after the move
        let (c0, c1) = match j {
            None => (
                pairs[b0] - clash(i, b0, usize::MAX, &at),
                pairs[b1] + clash(i, b1, usize::MAX, &at),
            ),
            Some(j) => (
                pairs[b0] - clash(i, b0, usize::MAX, &at) + clash(j, b0, i, &at),
                pairs[b1] - clash(j, b1, usize::MAX, &at) + clash(i, b1, j, &at),
            ),
        };
        let p0 = pen_of(b0, &u0, c0);
        let p1 = pen_of(b1, &u1, c1);
        let change = p0 + p1 - pen[b0] - pen[b1];
        if change <= 0.0 || rng.unit() < (-change / temp).exp() {
            used[b0] = u0;
            used[b1] = u1;
            pairs[b0] = c0;
            pairs[b1] = c1;
            pen[b0] = p0;
            pen[b1] = p1;
            mark(b0, p0 > 0.0, &mut over, &mut over_at);
            mark(b1, p1 > 0.0, &mut over, &mut over_at);
            total += change;
            let mut shift = |x: usize, from: usize, to: usize, at: &mut [usize]| {
                let k = slot[x];
                members[from].swap_remove(k);
                if let Some(&y) = members[from].get(k) {
                    slot[y] = k;
                }
                slot[x] = members[to].len();
                members[to].push(x);
                at[x] = to;
            };
            shift(i, b0, b1, &mut at);
            if let Some(j) = j {
                shift(j, b1, b0, &mut at);
            }
            // rounding drift: recount now and then
            if it % 4096 == 0 {
                total = pen.iter().sum();
            }
        }
    }
    // the answer is checked, not trusted
    let mut check = vec![[0i64; 5]; nb];
    for i in 0..n {
        for d in 0..5 {
            check[at[i]][d] += reqs[i][d];
        }
    }
    let apart_ok = (0..n).all(|i| apart[i].iter().all(|&y| at[y] != at[i]));
    let fits = apart_ok
        && (0..nb).all(|b| {
            dims.iter()
                .all(|&d| check[b][d] == 0 || check[b][d] <= rooms[b][d])
        });
    fits.then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `fit_all` with no pods that must be apart.
    fn fit(
        reqs: &[R],
        rooms: &[R],
        allowed: &[bool],
        iterations: usize,
        seed: u64,
    ) -> Option<Vec<usize>> {
        let apart = vec![Vec::new(); reqs.len()];
        fit_all(reqs, rooms, allowed, &apart, iterations, &mut Rng(seed))
    }

    /// Four pods, two bins of room for two each; pods 0 and 1 must be apart, and so must 2 and
    /// 3: the only packings split both pairs.
    #[test]
    fn keeps_pods_apart() {
        let reqs: Vec<R> = vec![[1, 1, 1, 0, 0]; 4];
        let rooms: Vec<R> = vec![[2, 2, 2, 0, 0]; 2];
        let allowed = vec![true; 8];
        let apart = vec![vec![1], vec![0], vec![3], vec![2]];
        for seed in 0..10 {
            let at = fit_all(&reqs, &rooms, &allowed, &apart, 10_000, &mut Rng(seed))
                .expect("a split exists");
            assert_ne!(at[0], at[1], "seed {seed}");
            assert_ne!(at[2], at[3], "seed {seed}");
        }
        // three pods all apart from each other, two bins: impossible
        let apart = vec![vec![1, 2], vec![0, 2], vec![0, 1]];
        let reqs: Vec<R> = vec![[1, 1, 1, 0, 0]; 3];
        let allowed = vec![true; 6];
        assert!(fit_all(&reqs, &rooms, &allowed, &apart, 20_000, &mut Rng(1)).is_none());
    }

    /// Items 5, 4, 4, 3, 2, 2 into two bins of 10: only a perfect split works, and first fit
    /// decreasing (5 and 4 together, then 4 alone) misses it.
    #[test]
    fn finds_a_perfect_split_that_first_fit_misses() {
        let reqs: Vec<R> = [5, 4, 4, 3, 2, 2]
            .iter()
            .map(|&c| [c, c, 1, 0, 0])
            .collect();
        let rooms: Vec<R> = vec![[10, 10, 10, 0, 0]; 2];
        let allowed = vec![true; reqs.len() * rooms.len()];
        let at = fit(&reqs, &rooms, &allowed, 100_000, 7).expect("a split exists");
        for b in 0..2 {
            let s: i64 = (0..reqs.len())
                .filter(|&i| at[i] == b)
                .map(|i| reqs[i][0])
                .sum();
            assert_eq!(s, 10);
        }
    }

    #[test]
    fn never_claims_an_impossible_packing() {
        // total 21 > 20
        let reqs: Vec<R> = [5, 4, 4, 3, 3, 2]
            .iter()
            .map(|&c| [c, 1, 1, 0, 0])
            .collect();
        let rooms: Vec<R> = vec![[10, 10, 10, 0, 0]; 2];
        let allowed = vec![true; reqs.len() * rooms.len()];
        assert!(fit(&reqs, &rooms, &allowed, 50_000, 1).is_none());
    }

    #[test]
    fn honours_the_allowed_bins() {
        // pod 0 may only go to bin 1; bins hold one pod each
        let reqs: Vec<R> = vec![[1, 1, 1, 0, 0]; 2];
        let rooms: Vec<R> = vec![[1, 1, 1, 0, 0]; 2];
        let allowed = vec![false, true, true, true];
        let at = fit(&reqs, &rooms, &allowed, 10_000, 3).expect("fits");
        assert_eq!(at, vec![1, 0]);
        // both pods only on bin 1, which holds one: no answer
        let allowed = vec![false, true, false, true];
        assert!(fit(&reqs, &rooms, &allowed, 10_000, 3).is_none());
    }

    #[test]
    fn a_dimension_without_room_refuses_pods_that_ask_for_it() {
        let reqs: Vec<R> = vec![[1, 1, 1, 1, 0]];
        let rooms: Vec<R> = vec![[4, 4, 4, 0, 0], [4, 4, 4, 1, 0]];
        let allowed = vec![true; 2];
        let at = fit(&reqs, &rooms, &allowed, 10_000, 5).expect("fits");
        assert_eq!(at, vec![1]);
    }
}
