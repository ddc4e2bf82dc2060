"""HTML views (``_repr_html_``) and pandas DataFrames (``to_pandas()``) of the result classes.

The native classes call these functions; pandas is imported only when a DataFrame is asked for,
so the package works without it (``pip install "cloudoptim[pandas]"`` brings it).
"""

from __future__ import annotations

import html
import importlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "MissingOptionalDependency",
    "patch_html",
    "plan_frame",
    "plan_html",
    "report_frame",
    "report_html",
    "spot_scores_frame",
]


class MissingOptionalDependency(ImportError):
    """An optional dependency (pandas) is not installed; the message says how to install it."""


def _pandas() -> Any:
    try:
        return importlib.import_module("pandas")
    except ImportError as e:
        raise MissingOptionalDependency(
            "to_pandas() needs pandas, an optional dependency of cloudoptim: "
            'pip install "cloudoptim[pandas]"'
        ) from e


# --- DataFrames ----------------------------------------------------------------------------------

_REPORT_COLUMNS: dict[str, str] = {
    "id": "string",
    "kind": "category",
    "analyzer": "category",
    "title": "string",
    "cluster": "string",
    "namespace": "string",
    "workload_kind": "string",
    "workload": "string",
    "container": "string",
    "node": "string",
    "node_group": "string",
    "volume": "string",
    "instance": "string",
    "monthly_savings_usd": "float64",
    "risk": "category",
    "priority": "category",
    "confidence": "float64",
    "explanation": "string",
}


_TARGET_FIELDS = (
    "cluster",
    "namespace",
    "workload_kind",
    "workload",
    "container",
    "node",
    "node_group",
    "volume",
    "instance",
)


def report_frame(report: Any) -> Any:
    """One row per recommendation of a ``Report``, largest saving first."""
    pd = _pandas()
    rows = []
    for rec in report.to_dict()["recommendations"]:
        target = rec.get("target", {})
        rows.append(
            {
                "id": rec["id"],
                "kind": rec["kind"],
                "analyzer": rec["analyzer"],
                "title": rec["title"],
                **{k: target.get(k) for k in _TARGET_FIELDS},
                "monthly_savings_usd": rec["monthly_savings_usd"],
                "risk": rec["risk"]["level"],
                "priority": rec["priority"],
                "confidence": rec["confidence"],
                "explanation": rec["explanation"],
            }
        )
    frame = pd.DataFrame(rows, columns=list(_REPORT_COLUMNS))
    return frame.astype(_REPORT_COLUMNS)


_PLAN_TABLES: dict[str, dict[str, str]] = {
    "nodes": {
        "name": "string",
        "instance_type": "category",
        "zone": "category",
        "capacity_type": "category",
        "hourly_cost": "float64",
        "new": "bool",
        "removed": "bool",
        "group": "string",
    },
    "assignments": {"namespace": "string", "pod": "string", "node": "string"},
    "steps": {
        "action": "category",
        "removed": "string",
        "added": "string",
        "moves": "int64",
        "hourly_saving": "float64",
        "monthly_saving": "float64",
        "disruption_cost": "float64",
        "score": "float64",
        "approved": "bool",
    },
}


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def plan_frame(plan: Any, table: str = "nodes") -> Any:
    """One table of a ``Plan``: ``nodes`` (after the plan; ``removed`` marks the nodes that go,
    listed too), ``assignments`` (pod → node) or ``steps``."""
    if table not in _PLAN_TABLES:
        raise ValueError(f"table must be one of {sorted(_PLAN_TABLES)}, not {table!r}")
    pd = _pandas()
    data = plan.to_dict()
    rows: list[dict[str, Any]] = []
    if table == "nodes":
        for n in data["nodes"]:
            rows.append({**{k: n.get(k) for k in _PLAN_TABLES["nodes"]}, "removed": False})
        for name in data["removed"]:
            rows.append(
                {
                    "name": name,
                    "instance_type": None,
                    "zone": None,
                    "capacity_type": None,
                    "hourly_cost": 0.0,
                    "new": False,
                    "removed": True,
                    "group": None,
                }
            )
    elif table == "assignments":
        for a in data["assignments"]:
            namespace, _, pod = str(a["pod"]).partition("/")
            rows.append({"namespace": namespace, "pod": pod, "node": a["node"]})
    else:
        for s in data["steps"]:
            row = {k: s.get(k) for k in _PLAN_TABLES["steps"]}
            row["removed"] = _joined(s.get("removed"))
            row["added"] = _joined(s.get("added"))
            moves = s.get("moves")
            row["moves"] = len(moves) if isinstance(moves, list) else int(moves or 0)
            rows.append(row)
    columns = _PLAN_TABLES[table]
    frame = pd.DataFrame(rows, columns=list(columns))
    return frame.astype(columns)


_SPOT_COLUMNS: dict[str, str] = {
    "instance_type": "string",
    "region": "category",
    "risk": "float64",
    "rate": "float64",
    "volatility": "float64",
    "gap": "float64",
    "time": "float64",
    "interruption": "category",
    "spot_hourly": "float64",
    "on_demand_hourly": "float64",
    "savings_ratio": "float64",
    "from_history": "bool",
    "explanation": "string",
}


def spot_scores_frame(scores: Iterable[Mapping[str, Any]]) -> Any:
    """The result of ``score_spot_types()`` as a DataFrame, one row per instance type."""
    pd = _pandas()
    rows = [{k: s.get(k) for k in _SPOT_COLUMNS} for s in scores]
    frame = pd.DataFrame(rows, columns=list(_SPOT_COLUMNS))
    return frame.astype(_SPOT_COLUMNS)


# --- HTML ----------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, list):
        return html.escape(", ".join(str(v) for v in value))
    return html.escape("" if value is None else str(value))


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            style = ' style="text-align:right"' if i in numeric else ""
            cells.append(f"<td{style}>{_cell(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _target(target: Mapping[str, Any]) -> str:
    parts = [str(target[k]) for k in ("namespace", "workload", "node", "node_group", "volume") if target.get(k)]
    return "/".join(parts) or str(target.get("cluster", ""))


def report_html(report: Any, limit: int = 50) -> str:
    """A ``Report`` as HTML: totals, then the recommendations (the first ``limit``)."""
    data = report.to_dict()
    totals = data["totals"]
    recs = data["recommendations"]
    head = (
        f"<p><b>cloudoptim report</b> for cluster <code>{html.escape(str(data['cluster']['name']))}</code>: "
        f"{len(recs)} recommendations, "
        f"{totals['monthly_savings_usd']:,.2f} USD/month to save</p>"
    )
    rows = [
        (
            r["id"],
            r["kind"],
            _target(r.get("target", {})),
            r["title"],
            r["monthly_savings_usd"],
            r["risk"]["level"],
            r["confidence"],
        )
        for r in recs[:limit]
    ]
    more = f"<p>… and {len(recs) - limit} more</p>" if len(recs) > limit else ""
    table = _table(
        ["id", "kind", "target", "title", "USD/month", "risk", "confidence"], rows, numeric=(4, 6)
    )
    return f"<div class=\"cloudoptim\">{head}{table}{more}</div>"


def plan_html(plan: Any) -> str:
    """A ``Plan`` as HTML: costs and bound, then the steps."""
    data = plan.to_dict()
    head = (
        f"<p><b>cloudoptim plan</b> ({html.escape(str(data['mode']))}): "
        f"{data['cost_before_hourly']:,.2f} → {data['cost_after_hourly']:,.2f} USD/hour "
        f"(bound {data['lower_bound_hourly']:,.2f}), {len(data['removed'])} nodes removed</p>"
    )
    rows = [
        (s.get("action"), s.get("removed"), s.get("added"), s.get("monthly_saving"), s.get("approved"))
        for s in data["steps"]
    ]
    table = _table(["action", "removed", "added", "USD/month", "approved"], rows, numeric=(3,))
    return f"<div class=\"cloudoptim\">{head}{table}</div>"


def patch_html(report: Any) -> str:
    """A ``PatchReport`` as HTML: outcome and explanation, files or candidates, the diff."""
    data = report.to_dict()
    parts = [
        f"<p><b>{html.escape(str(data['outcome']))}</b>: {html.escape(str(data['explanation']))}</p>"
    ]
    if data["changes"]:
        parts.append(
            _table(
                ["file", "lines", "why"],
                (
                    (c["file"], ", ".join(f"{a}-{b}" for a, b in c["lines"]), "; ".join(c["explanations"]))
                    for c in data["changes"]
                ),
            )
        )
    if data["candidates"]:
        parts.append(
            _table(["file", "line", "reason"], ((c["file"], c["line"], c["reason"]) for c in data["candidates"]))
        )
    if data["diff"]:
        parts.append(f"<pre>{html.escape(data['diff'])}</pre>")
    for w in data["warnings"]:
        parts.append(f"<p>warning: {html.escape(str(w))}</p>")
    return f"<div class=\"cloudoptim\">{''.join(parts)}</div>"
