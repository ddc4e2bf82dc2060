"""The Python side of the bindings overhead benchmark (see run.sh and docs/benchmarks.md).

Loads the cluster written by ``gen-cluster`` with its usage history and analyses it through
``import cloudoptim``, ROUNDS times, printing one JSON line per round like the Rust and Node
sides. The recommendations are read into Python objects, as a script would; ``free_s`` is the
time to release the round's objects, timed apart as on the other two sides.

    python bench.py DIR [ROUNDS]
"""

import json
import sys
import time

import cloudoptim


def main() -> None:
    folder = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    usage = [f"{folder}/usage-cpu.json", f"{folder}/usage-memory.json"]
    for i in range(rounds):
        t0 = time.perf_counter()
        cluster = cloudoptim.load_cluster(f"{folder}/cluster.json", usage=usage)
        t1 = time.perf_counter()
        report = cloudoptim.analyze(cluster)
        recs = report.recommendations
        savings = sum(r.monthly_savings_usd for r in recs)
        count = len(recs)
        t2 = time.perf_counter()
        del cluster, report, recs
        t3 = time.perf_counter()
        print(json.dumps({"lang": "python", "round": i, "load_s": round(t1 - t0, 6),
                          "analyze_s": round(t2 - t1, 6), "free_s": round(t3 - t2, 6),
                          "recommendations": count, "monthly_savings": round(savings, 2)}),
              flush=True)


if __name__ == "__main__":
    main()
