#!/usr/bin/env python3
"""numpy baseline of the rightsizing throughput benchmark (benches/benches/rightsizing.rs).

Generates, per container, a CPU series of the same shape and size as the Rust benchmark (a
diurnal business-day curve with a random phase, a weekend dip, noise and short bursts; not
bit-identical), then times `numpy.percentile(x, 95)` on it (numpy's default linear method, the
exact P95 KRR's "simple" strategy computes). Only the percentile call is timed.

Prints one JSON line: samples/s, timed seconds, peak RSS (`ru_maxrss`, KiB) before and after.
Exits 3 when numpy is not importable.
"""

import argparse
import json
import resource
import sys
import time

try:
    import numpy as np
except ImportError:
    print("numpy is not importable", file=sys.stderr)
    sys.exit(3)


def sched_ns():
    """This thread's time on a CPU and waiting for one, ns (Linux), else None."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            run, wait = f.read().split()[:2]
        return int(run), int(wait)
    except OSError:
        return None


def maxrss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--containers", type=int, default=10_000)
    ap.add_argument("--samples", type=int, default=20_160)
    ap.add_argument("--per-day", type=int, default=2_880)
    a = ap.parse_args()
    n, per_day = a.samples, a.per_day

    k = np.arange(n)
    tod = k % per_day
    day = k // per_day
    weekend = (day % 7) >= 5
    x = np.empty(n)

    rss_before = maxrss_kib()
    sched_before = sched_ns()
    timed = 0.0
    checksum = 0.0
    for c in range(a.containers):
        rng = np.random.default_rng(c)
        base = 0.05 * 80.0 ** rng.random()
        amp = rng.uniform(0.2, 0.9)
        phase = int(rng.integers(per_day))
        noise = rng.uniform(0.05, 0.25)
        wk = rng.uniform(0.5, 1.0)
        s = np.sin(2.0 * np.pi * ((tod - phase) % per_day) / per_day)
        shape = np.where(s > 0.0, s, 0.3 * s)
        level = np.where(weekend, wk, 1.0)
        spike = np.ones(n)
        for start in np.flatnonzero(rng.random(n) < 1.0 / 2_000):
            spike[start : start + int(rng.integers(2, 21))] = rng.uniform(1.5, 4.0)
        np.multiply(base * level * (1.0 + amp * shape), 1.0 + noise * rng.standard_normal(n), out=x)
        x *= spike
        np.maximum(x, 0.0, out=x)

        t = time.perf_counter()
        p = np.percentile(x, 95)
        timed += time.perf_counter() - t
        checksum += float(p)

    sched_after = sched_ns()
    waiting = float("nan")
    if sched_before and sched_after:
        run, wait = (b - a for a, b in zip(sched_before, sched_after))
        waiting = 100.0 * wait / max(run + wait, 1)
    print(
        json.dumps(
            {
                "numpy": np.__version__,
                "containers": a.containers,
                "samples": a.containers * n,
                "timed_s": timed,
                "samples_per_s": a.containers * n / timed,
                "maxrss_kib_before": rss_before,
                "maxrss_kib_after": maxrss_kib(),
                "waiting_pct": waiting,
                "checksum": checksum,
            }
        )
    )


if __name__ == "__main__":
    main()
