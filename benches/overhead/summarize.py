"""Summarises the rounds printed by run.sh: the median per language (warm-up rounds dropped),
the overhead against Rust, and a check that all three found the same recommendations."""

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
    base_total = statistics.median(r["load_s"] + r["analyze_s"] for r in rust)
    print(f"{count} recommendations, ${savings:,.2f}/month, same in every language")
    print("| language | rounds | load (median s) | analyse + read results (median s) | total (median s) | overhead vs Rust |")
    print("|---|---|---|---|---|---|")
    for lang in ("rust", "python", "node"):
        rs = by_lang[lang]
        load = statistics.median(r["load_s"] for r in rs)
        ana = statistics.median(r["analyze_s"] for r in rs)
        total = statistics.median(r["load_s"] + r["analyze_s"] for r in rs)
        print(f"| {lang} | {len(rs)} | {load:.3f} | {ana:.3f} | {total:.3f} | "
              f"{(total / base_total - 1) * 100:+.1f} % |")


if __name__ == "__main__":
    main()
