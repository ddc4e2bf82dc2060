"""Summarises the rounds printed by run.sh: per language (warm-up rounds dropped) the median of
each phase, the median total with its interquartile range, the best total, the overhead
against Rust on the median and on the best, and a check that all three found the same
recommendations. The best round is the least disturbed by whatever else the host runs."""

import json
import statistics
import sys
from collections import defaultdict


def main() -> None:
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    by_lang: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        if r["round"] > 0:
            by_lang[r["lang"]].append(r)
    answers = {(r["recommendations"], r["monthly_savings"]) for r in rows}
    if len(answers) != 1:
        sys.exit(f"the three languages disagree: {sorted(answers)}")
    (count, savings), = answers
    rust = by_lang["rust"]
    def total_of(r: dict) -> float:
        return r["load_s"] + r["analyze_s"] + r["free_s"]

    base_total = statistics.median(total_of(r) for r in rust)
    print(f"{count} recommendations, ${savings:,.2f}/month, same in every language")
    base_best = min(total_of(r) for r in rust)
    print("| language | rounds | load (median s) | analyse + read results (median s) "
          "| free (median s) | total (median s) | total IQR (s) | overhead vs Rust (median) "
          "| best total (s) | overhead vs Rust (best) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for lang in ("rust", "python", "node"):
        rs = by_lang[lang]
        load = statistics.median(r["load_s"] for r in rs)
        ana = statistics.median(r["analyze_s"] for r in rs)
        free = statistics.median(r["free_s"] for r in rs)
        totals = [total_of(r) for r in rs]
        total = statistics.median(totals)
        q = statistics.quantiles(totals, n=4) if len(totals) > 1 else [total, total, total]
        best = min(totals)
        print(f"| {lang} | {len(rs)} | {load:.3f} | {ana:.3f} | {free:.3f} | {total:.3f} | "
              f"{q[0]:.3f}–{q[2]:.3f} | {(total / base_total - 1) * 100:+.1f} % | "
              f"{best:.3f} | {(best / base_best - 1) * 100:+.1f} % |")


if __name__ == "__main__":
    main()
