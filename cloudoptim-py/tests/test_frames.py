"""DataFrames (pandas, an optional dependency) and the HTML views Jupyter shows."""

from __future__ import annotations

import html.parser
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import cloudoptim


def test_report_frame_has_one_typed_row_per_recommendation(demo_report: cloudoptim.Report) -> None:
    frame = demo_report.to_pandas()
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == len(demo_report)
    assert list(frame["id"]) == [r.id for r in demo_report.recommendations]
    assert list(frame["monthly_savings_usd"]) == [r.monthly_savings_usd for r in demo_report.recommendations]
    assert list(frame["risk"].astype(str)) == [r.risk["level"] for r in demo_report.recommendations]
    assert list(frame["namespace"].fillna("")) == [r.target.get("namespace", "") for r in demo_report.recommendations]
    assert str(frame["monthly_savings_usd"].dtype) == "float64"
    assert str(frame["confidence"].dtype) == "float64"
    assert str(frame["kind"].dtype) == "category"
    assert str(frame["id"].dtype) == "string"
    # grouping works as a notebook would use it
    by_kind = frame.groupby("kind", observed=True)["monthly_savings_usd"].sum()
    gross = {k["kind"]: k["monthly_savings_usd"] for k in demo_report.totals["by_kind"]}
    for kind, total in by_kind.items():
        assert total == pytest.approx(gross[str(kind)], abs=0.02)


def test_plan_frames(demo: cloudoptim.Cluster) -> None:
    plan = cloudoptim.consolidate(demo, mode="replace")
    nodes = plan.to_pandas()
    assert list(nodes.loc[~nodes["removed"], "name"]) == [n["name"] for n in plan.nodes]
    assert set(nodes.loc[nodes["removed"], "name"]) == set(plan.removed)
    assert list(nodes.loc[~nodes["removed"], "hourly_cost"]) == [n["hourly_cost"] for n in plan.nodes]
    assignments = plan.to_pandas("assignments")
    assert len(assignments) == len(plan.assignments)
    assert list(assignments["namespace"] + "/" + assignments["pod"]) == [a["pod"] for a in plan.assignments]
    steps = plan.to_pandas("steps")
    assert list(steps["moves"]) == [len(s["moves"]) for s in plan.steps]
    assert str(steps["approved"].dtype) == "bool"
    with pytest.raises(ValueError, match="table must be one of"):
        plan.to_pandas("pods")  # type: ignore[arg-type]


def test_spot_scores_frame() -> None:
    scores = cloudoptim.score_spot_types("m5.*")
    frame = cloudoptim.spot_scores_frame(scores)
    assert list(frame["instance_type"]) == [s["instance_type"] for s in scores]
    assert list(frame["risk"]) == [s["risk"] for s in scores]
    assert str(frame["savings_ratio"].dtype) == "float64"


def test_a_clear_error_without_pandas(demo_report: cloudoptim.Report, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    real_import_module = importlib.import_module

    def no_pandas_module(name: str, package: str | None = None) -> Any:
        if name == "pandas":
            raise ModuleNotFoundError("No module named 'pandas'", name="pandas")
        return real_import_module(name, package)

    monkeypatch.delitem(sys.modules, "pandas", raising=False)
    monkeypatch.setattr(importlib, "import_module", no_pandas_module)
    with pytest.raises(ImportError) as e:
        demo_report.to_pandas()
    assert isinstance(e.value, cloudoptim.MissingOptionalDependency)
    assert 'pip install "cloudoptim[pandas]"' in str(e.value)
    assert isinstance(e.value.__cause__, ModuleNotFoundError)
    # the rest of the package works without it
    assert demo_report._repr_html_().startswith("<div")


def test_without_pandas_in_a_fresh_interpreter(tmp_path: Path) -> None:
    """The same in a separate interpreter where `import pandas` fails as if not installed."""
    blocker = tmp_path / "pandas.py"
    blocker.write_text("raise ModuleNotFoundError(\"No module named 'pandas'\", name='pandas')\n")
    code = (
        "import cloudoptim\n"
        "r = cloudoptim.analyze(cloudoptim.demo_cluster(), analyzers=['empty-nodes'])\n"
        "try:\n    r.to_pandas()\nexcept ImportError as e:\n    print(type(e).__name__, e)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                       env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("MissingOptionalDependency to_pandas() needs pandas")


class _Collect(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(markup: str) -> _Collect:
    c = _Collect()
    c.feed(markup)
    c.close()
    return c


def test_report_html(demo_report: cloudoptim.Report) -> None:
    markup = demo_report._repr_html_()
    parsed = _parse(markup)
    assert "table" in parsed.tags and "script" not in parsed.tags
    text = "".join(parsed.text)
    for r in demo_report.recommendations[:50]:
        assert r.id in text
        assert r.title in text


def test_html_escapes_what_it_shows(tmp_path: Path) -> None:
    """A title, a namespace and a diff holding markup are shown as text, never as markup."""
    evil = "<script>alert('x')</script> & <b>"

    class Markup:
        name = "markup"

        def analyze(self, context: dict[str, Any]) -> list[dict[str, Any]]:
            return [{"kind": "custom", "title": evil, "target": {"namespace": evil}, "monthly_savings_usd": 1.0}]

    report = cloudoptim.analyze(cloudoptim.demo_cluster(), analyzers=[], extra_analyzers=[Markup()])
    markup = report._repr_html_()
    assert "<script>" not in markup and evil not in markup
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;" in markup
    assert evil in "".join(_parse(markup).text)

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "values.yaml").write_text("# <script>x</script>\nsizes:\n  cpu: '1'\n")

    class Here:
        def locate(self, request: dict[str, Any]) -> list[dict[str, Any]]:
            return [{"kind": "resolved", "summary": "<i>here</i>", "sites": [
                {"file": "values.yaml", "key": "requests.cpu", "path": ["sizes", "cpu"], "explanation": "<u>why</u>"}]}]

    change = {"target": {"kind": "Deployment", "cluster": "c", "namespace": "n", "name": "w"}, "set": {"requests.cpu": "<b>"}}
    with pytest.raises(cloudoptim.InvalidChangeError):
        cloudoptim.patch(repo, change, dry_run=True, locators=[Here()])
    change["set"] = {"requests.cpu": "250m"}
    patched = cloudoptim.patch(repo, change, dry_run=True, locators=[Here()])
    markup = patched._repr_html_()
    assert "<i>" not in markup and "<u>" not in markup
    assert "&lt;i&gt;here&lt;/i&gt;" in markup and "&lt;u&gt;why&lt;/u&gt;" in markup
    assert "<pre>" in markup and "250m" in markup


def test_plan_html(demo: cloudoptim.Cluster) -> None:
    plan = cloudoptim.consolidate(demo, mode="remove")
    parsed = _parse(plan._repr_html_())
    assert "table" in parsed.tags
    text = "".join(parsed.text)
    assert f"{len(plan.removed)} nodes removed" in text
