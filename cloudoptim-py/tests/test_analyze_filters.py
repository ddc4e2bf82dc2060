"""Analysis settings from Python: the same keys as `cloudoptim analyze --config`."""

from __future__ import annotations

from pathlib import Path

import pytest

import cloudoptim


def _target(report: cloudoptim.Report, ns: str, workload: str, name: str) -> float | None:
    for r in report.recommendations:
        if r.target.get("namespace") == ns and r.target.get("workload") == workload:
            for e in r.evidence:
                if e["name"] == name:
                    return float(e["value"])
    return None


def test_filters_dict_buffers_and_team_summary() -> None:
    demo = cloudoptim.demo_cluster()
    base = cloudoptim.analyze(demo, analyzers=["workload-rightsizing"])
    report = cloudoptim.analyze(
        demo,
        analyzers=["workload-rightsizing"],
        filters={
            "exclude_namespaces": ["dev-*"],
            "buffers": [{"match": "shop/checkout", "cpu": 0.5}],
            "team_label": "team",
        },
    )
    assert all(r.target.get("namespace") != "dev-shop" for r in report.recommendations)
    before = _target(base, "shop", "checkout", "cpu_target")
    after = _target(report, "shop", "checkout", "cpu_target")
    assert before is not None and after is not None
    assert after == pytest.approx(before * 1.5, abs=0.002)
    teams = {g["name"]: g for g in report.totals["by_team"]}
    assert "storefront" in teams
    assert sum(g["count"] for g in report.totals["by_namespace"]) == len(report)


def test_filters_from_a_file_and_unknown_keys(tmp_path: Path) -> None:
    demo = cloudoptim.demo_cluster()
    f = tmp_path / "settings.yaml"
    f.write_text("include_namespaces: [payments]\n")
    report = cloudoptim.analyze(demo, filters=f)
    assert report.recommendations
    # findings about nodes, volumes and instances have no namespace and are kept
    assert {r.target.get("namespace") for r in report.recommendations} - {None} == {"payments"}
    with pytest.raises(cloudoptim.FieldError) as e:
        cloudoptim.analyze(demo, filters={"exclude_namespace": ["x"]})
    assert "exclude_namespace" in str(e.value)
    with pytest.raises(cloudoptim.AnalyzerError) as e2:
        cloudoptim.analyze(demo, filters={"buffers": [{"match": "x", "memory": 99}]})
    assert "buffer `x`" in str(e2.value)
    with pytest.raises(TypeError):
        cloudoptim.analyze(demo, filters=42)  # type: ignore[arg-type]
