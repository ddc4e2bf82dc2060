#!/usr/bin/env python3
"""Variable-sized bin packing with OR-Tools CP-SAT: the reference for the packing benchmark.

Reads one JSON instance (written by `cargo bench -p cloudoptim-benches --bench packing`):

    {"pods":  [{"cpu": 250, "mem": 512}, ...],          # millicores, MiB
     "types": [{"name": "m6i.large", "cpu": 1930, "mem": 6903, "pods": 29, "price": 0.096}, ...],
     "max_bins": 40, "time_limit_s": 60, "workers": 1}

and prints one JSON line: {"status", "cost", "bins", "wall_s", "time_to_best_s", "best_bound"}.
The model: per bin a type choice (at most one type, or unused), per pod exactly one bin,
capacity per bin and dimension (CPU, memory, pod slots), minimise the total hourly price.
Symmetry breaking: used bins come first. Exit code 3 (and a message on stderr) when
`ortools` is not importable, so the benchmark can skip cleanly.
"""

import json
import sys
import time

try:
    from ortools.sat.python import cp_model
except ImportError as e:  # pragma: no cover - depends on the environment
    print(f"ortools is not importable ({e}); pip install ortools", file=sys.stderr)
    sys.exit(3)

PRICE_SCALE = 1_000_000  # CP-SAT needs integer coefficients: micro-dollars per hour


class Progress(cp_model.CpSolverSolutionCallback):
    """Records when the last improving solution was found."""

    def __init__(self, start):
        super().__init__()
        self.start = start
        self.last = None

    def on_solution_callback(self):
        self.last = time.perf_counter() - self.start


def main():
    path = sys.argv[1]
    with open(path, encoding="utf-8") as f:
        inst = json.load(f)
    pods = inst["pods"]
    types = inst["types"]
    nb = int(inst["max_bins"])
    limit = float(inst.get("time_limit_s", 60))
    workers = int(inst.get("workers", 1))

    start = time.perf_counter()
    m = cp_model.CpModel()
    y = [[m.new_bool_var(f"y{b}_{t}") for t in range(len(types))] for b in range(nb)]
    used = [m.new_bool_var(f"u{b}") for b in range(nb)]
    x = [[m.new_bool_var(f"x{p}_{b}") for b in range(nb)] for p in range(len(pods))]
    for b in range(nb):
        m.add(sum(y[b]) == used[b])
        for dim, key in enumerate(("cpu", "mem")):
            m.add(
                sum(pods[p][key] * x[p][b] for p in range(len(pods)))
                <= sum(types[t][key] * y[b][t] for t in range(len(types)))
            )
        m.add(
            sum(x[p][b] for p in range(len(pods)))
            <= sum(types[t]["pods"] * y[b][t] for t in range(len(types)))
        )
        if b + 1 < nb:
            m.add(used[b] >= used[b + 1])
    for p in range(len(pods)):
        m.add_exactly_one(x[p])
    m.minimize(
        sum(
            round(types[t]["price"] * PRICE_SCALE) * y[b][t]
            for b in range(nb)
            for t in range(len(types))
        )
    )

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = limit
    solver.parameters.num_workers = workers
    cb = Progress(start)
    status = solver.solve(m, cb)
    wall = time.perf_counter() - start
    out = {
        "status": solver.status_name(status),
        "cost": None,
        "bins": None,
        "wall_s": round(wall, 3),
        "time_to_best_s": None if cb.last is None else round(cb.last, 3),
        "best_bound": None,
    }
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        cost = 0.0
        bins = 0
        for b in range(nb):
            for t in range(len(types)):
                if solver.value(y[b][t]):
                    cost += types[t]["price"]
                    bins += 1
        out["cost"] = round(cost, 6)
        out["bins"] = bins
        out["best_bound"] = round(solver.best_objective_bound / PRICE_SCALE, 6)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
