"""Analyze the embedded demo cluster, print the largest savings, and plan its consolidation.

    python examples/python/analyze_demo.py
"""

import cloudoptim


def main() -> None:
    cluster = cloudoptim.demo_cluster()
    report = cloudoptim.analyze(cluster)
    totals = report.totals
    print(f"{cluster.name}: ${totals['monthly_savings_usd']:,.2f}/month of ${report.costs['monthly_usd']:,.2f}")
    for r in report.recommendations[:5]:
        print(f"  {r.monthly_savings_usd:>9.2f}  {r.risk['level']:<6}  {r.title}")
    plan = cloudoptim.consolidate(cluster, mode="replace")
    print(f"consolidation: ${plan.cost_before_hourly:.2f}/h -> ${plan.cost_after_hourly:.2f}/h "
          f"(LP bound ${plan.lower_bound_hourly:.2f}/h)")


if __name__ == "__main__":
    main()
