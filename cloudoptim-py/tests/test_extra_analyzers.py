"""Analyzers written in Python, run by the Rust engine like the built-in ones."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

import cloudoptim
from cloudoptim import AnalyzerError, Cluster, Report


class TeamLabels:
    """Flags namespaces without a ``cost-center`` label: their spend cannot be charged back. Claims a
    tenth of the namespace's cost as the saving of knowing whom to ask."""

    name = "team-labels"
    description = "Namespaces without a cost-center label"

    def __init__(self) -> None:
        self.contexts: list[dict[str, Any]] = []

    def analyze(self, context: dict[str, Any]) -> list[dict[str, Any]]:
        self.contexts.append(context)
        costs = {n["name"]: n["monthly_usd"] for n in context["costs"]["namespaces"]}
        out = []
        for ns in context["cluster"]["namespaces"]:
            if "cost-center" in ns["labels"]:
                continue
            cost = costs.get(ns["name"], 0.0)
            out.append(
                {
                    "kind": "custom",
                    "title": f"Label namespace {ns['name']} with the team that owns it",
                    "target": {"namespace": ns["name"]},
                    "monthly_savings_usd": round(cost * 0.1, 2),
                    "changes": [{"field": "label.team", "current": "", "proposed": "<team>"}],
                    "risk": {"level": "low", "reasons": ["labels only"]},
                    "confidence": 0.5,
                    "evidence": [{"name": "monthly_cost", "value": cost, "unit": "usd_per_month"}],
                    "explanation": "Spend without an owner is spend nobody reviews.",
                }
            )
        return out


def custom(report: Report) -> list[cloudoptim.Recommendation]:
    return [r for r in report.recommendations if r.analyzer == "team-labels"]


@pytest.fixture(scope="module")
def team_labels() -> TeamLabels:
    return TeamLabels()


@pytest.fixture(scope="module")
def report(demo: Cluster, team_labels: TeamLabels) -> Report:
    return cloudoptim.analyze(demo, extra_analyzers=[team_labels])


def test_custom_findings_are_in_the_report(demo: Cluster, report: Report) -> None:
    found = custom(report)
    namespaces = [n["name"] for n in demo.to_dict()["namespaces"]]
    assert namespaces and len(found) == len(namespaces), "no demo namespace has a cost-center label"
    assert report.analyzers == [*cloudoptim.analyzer_names(), "team-labels"]
    for r in found:
        assert r.kind == "custom"
        assert re.fullmatch(r"co-[0-9a-f]{16}", r.id)
        assert r.target == {"cluster": demo.name, "namespace": r.target["namespace"]}
        assert r.title == f"Label namespace {r.target['namespace']} with the team that owns it"
        assert r.risk == {"level": "low", "reasons": ["labels only"]}
        assert r.priority == "normal" and r.confidence == 0.5
        assert r.changes == [{"field": "label.team", "current": "", "proposed": "<team>"}]
        assert r.evidence[0]["name"] == "monthly_cost"
        assert r.to_dict()["savings_claims"] == []
    # sorted into the report with the rest, largest saving first
    savings = [r.monthly_savings_usd for r in report.recommendations]
    assert savings == sorted(savings, reverse=True)


def test_ids_are_stable_across_runs(demo: Cluster, report: Report) -> None:
    again = cloudoptim.analyze(demo, analyzers=[], extra_analyzers=[TeamLabels()])
    assert again.analyzers == ["team-labels"]
    assert [r.id for r in custom(again)] == [r.id for r in custom(report)]
    assert len({r.id for r in custom(report)}) == len(custom(report))
    assert again.recommendations == custom(report)


def test_savings_count_in_the_totals(demo: Cluster, demo_report: Report, report: Report) -> None:
    extra = sum(r.monthly_savings_usd for r in custom(report))
    assert extra > 0
    t, base = report.totals, demo_report.totals
    assert t["recommendations"] == base["recommendations"] + len(custom(report))
    # recommendations without a `resource` are not combined with others: they add up
    assert t["monthly_savings_usd"] == pytest.approx(base["monthly_savings_usd"] + extra, abs=0.011)
    assert t["gross_monthly_savings_usd"] == pytest.approx(base["gross_monthly_savings_usd"] + extra, abs=0.011)
    kinds = {k["kind"]: k for k in t["by_kind"]}
    assert kinds["custom"]["count"] == len(custom(report))
    assert kinds["custom"]["monthly_savings_usd"] == pytest.approx(extra, abs=0.011)
    assert "team-labels" not in demo_report.analyzers
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(report.to_dict(), cloudoptim.report_schema())


def test_the_context(demo: Cluster, report: Report, team_labels: TeamLabels) -> None:
    context = team_labels.contexts[0]
    assert set(context) == {"cluster", "costs", "now"}
    cluster = context["cluster"]
    whole = demo.to_dict()
    assert set(cluster) == (set(whole) - {"usage"}) | {"summary"}, "no usage history unless asked"
    assert cluster["summary"] == demo.summary()
    for key in ("nodes", "pods", "namespaces"):
        assert cluster[key] == whole[key]
    costs = context["costs"]
    assert costs["region"] == "us-east-1"
    assert [n["node"] for n in costs["nodes"]] == [n["name"] for n in whole["nodes"]]
    assert {n["name"] for n in costs["namespaces"]} <= {n["name"] for n in whole["namespaces"]}
    by_ns = {n["name"]: n["monthly_usd"] for n in costs["namespaces"]}
    for row in report.costs["by_namespace"]:
        assert by_ns[row["name"]] == pytest.approx(row["monthly_usd"], abs=0.006)
    assert sum(p["monthly_usd"] for p in costs["pods"]) == pytest.approx(sum(by_ns.values()))
    assert costs["monthly_usd"] == pytest.approx(report.costs["monthly_usd"], abs=0.006)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", context["now"])


def test_usage_when_asked(demo: Cluster) -> None:
    class Usage:
        name = "usage"
        include_usage = True
        seen: dict[str, Any] = {}

        def analyze(self, context: dict[str, Any]) -> list[dict[str, Any]]:
            self.seen = context["cluster"]["usage"]
            return []

    a = Usage()
    cloudoptim.analyze(demo, analyzers=[], extra_analyzers=[a])
    assert a.seen == demo.to_dict()["usage"] and a.seen


def test_a_resource_claim_is_combined_not_added(demo: Cluster) -> None:
    """Two claims on one node from two analyzers compound (1 - 0.5 x 0.5), as built-ins do."""

    class Claim:
        def __init__(self, name: str) -> None:
            self.name = name

        def analyze(self, context: dict[str, Any]) -> list[dict[str, Any]]:
            node = context["costs"]["nodes"][0]
            return [
                {
                    "kind": "node_removal",
                    "title": f"{self.name}: half of {node['node']}",
                    "target": {"node": node["node"], "cluster": context["cluster"]["name"]},
                    "monthly_savings_usd": node["monthly_usd"] / 2,
                    "resource": f"node:{node['node']}",
                    "base_monthly_usd": node["monthly_usd"],
                }
            ]

    r = cloudoptim.analyze(demo, analyzers=[], extra_analyzers=[Claim("a"), Claim("b")])
    first = demo.to_dict()["nodes"][0]["name"]
    node_cost = r.to_dict()["recommendations"][0]["savings_claims"][0]["base_monthly_usd"]
    assert node_cost > 0
    assert [x.analyzer for x in r.recommendations] == ["a", "b"]
    assert r.recommendations[0].id == r.recommendations[1].id, "same kind and target, same id"
    assert r.recommendations[0].target["node"] == first
    assert r.totals["gross_monthly_savings_usd"] == pytest.approx(node_cost, abs=0.011)
    assert r.totals["monthly_savings_usd"] == pytest.approx(node_cost * 0.75, abs=0.011)


def test_a_raising_analyzer_is_an_analyzer_error(demo: Cluster) -> None:
    class Broken:
        name = "broken"

        def analyze(self, context: dict[str, Any]) -> list[dict[str, Any]]:
            return helper(context)

    def helper(context: dict[str, Any]) -> list[dict[str, Any]]:
        raise KeyError("no-such-key")

    with pytest.raises(AnalyzerError) as info:
        cloudoptim.analyze(demo, extra_analyzers=[Broken()])
    e = info.value
    assert (e.code, e.name) == ("analyzer_failed", "broken")
    message = str(e)
    assert message.startswith("analyzer broken failed: Traceback (most recent call last):\n"), message
    assert "in analyze\n" in message and "in helper\n" in message
    assert message.endswith("KeyError: 'no-such-key'")
    assert isinstance(e.__cause__, KeyError)
    assert e.__cause__.__traceback__ is not None


def test_keyboard_interrupt_is_not_wrapped(demo: Cluster) -> None:
    class Interrupted:
        name = "interrupted"

        def analyze(self, context: dict[str, Any]) -> list[dict[str, Any]]:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cloudoptim.analyze(demo, analyzers=[], extra_analyzers=[Interrupted()])


def returning(name: str, value: object) -> object:
    class Returns:
        def analyze(self, context: dict[str, Any]) -> object:
            return value

    a = Returns()
    a.name = name  # type: ignore[attr-defined]
    return a


GOOD = {"kind": "custom", "title": "t", "target": {}, "monthly_savings_usd": 1.0}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            [GOOD, dict(GOOD, kind="cost_cutting")],
            'item 1: invalid recommendation: unknown kind "cost_cutting"; known: workload_rightsizing, ',
        ),
        ([dict(GOOD, kind=None)], "`kind` must be a string, not null"),
        ([dict(GOOD, title="")], "`title` is empty"),
        ([dict(GOOD, colour="red")], "unknown field `colour`"),
        ([dict(GOOD, target={"pod": "x"})], "`target.pod` is not a target field"),
        ([dict(GOOD, confidence=2)], "`confidence` 2 is not in [0, 1]"),
        ([dict(GOOD, risk={"level": "dire", "reasons": []})], "`risk.level`: unknown variant `dire`"),
        ([dict(GOOD, resource="node:x")], "`resource` needs `base_monthly_usd`"),
        ([{k: v for k, v in GOOD.items() if k != "title"}], "missing field `title`"),
        ([42], "item 0: invalid recommendation: expected an object, found a number"),
        ({"kind": "custom"}, "must return a list of recommendations, not an object"),
        (None, "must return a list of recommendations, not null"),
        ([dict(GOOD, monthly_savings_usd=float("nan"))], "`result[0].monthly_savings_usd`: NaN is not a JSON number"),
        ([dict(GOOD, evidence=[{"name": "x", "value": object(), "unit": "u"}])], "`result[0].evidence[0].value`: a object is not JSON data"),
    ],
)
def test_invalid_results_are_refused(demo: Cluster, value: object, message: str) -> None:
    with pytest.raises(AnalyzerError) as info:
        cloudoptim.analyze(demo, analyzers=[], extra_analyzers=[returning("mine", value)])  # type: ignore[list-item]
    e = info.value
    assert (e.code, e.name) == ("analyzer_failed", "mine")
    assert str(e).startswith("analyzer mine failed: "), str(e)
    assert message in str(e), str(e)


def test_null_optional_keys_and_tuples_are_accepted(demo: Cluster) -> None:
    value = (dict(GOOD, risk=None, changes=None, evidence=(), target={"namespace": "shop", "node": None}),)
    r = cloudoptim.analyze(demo, analyzers=[], extra_analyzers=[returning("mine", value)])  # type: ignore[list-item]
    rec = r.recommendations[0]
    assert rec.target == {"cluster": demo.name, "namespace": "shop"}
    assert (rec.risk["level"], rec.changes, rec.evidence, rec.monthly_savings_usd) == ("low", [], [], 1.0)


def test_objects_that_are_not_analyzers_are_type_errors(demo: Cluster) -> None:
    class NoName:
        def analyze(self, context: dict[str, Any]) -> list[dict[str, Any]]:
            return []

    class NoMethod:
        name = "no-method"

    class BadDescription:
        name = "bad-description"
        description = 3

        def analyze(self, context: dict[str, Any]) -> list[dict[str, Any]]:
            return []

    for obj, match in [
        (NoName(), r"extra_analyzers\[0\] needs a `name` str attribute"),
        (NoMethod(), r"no-method\) needs a method `analyze"),
        (BadDescription(), r"`description` must be a str"),
    ]:
        with pytest.raises(TypeError, match=match):
            cloudoptim.analyze(demo, extra_analyzers=[obj])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="extra_analyzers must be a sequence"):
        cloudoptim.analyze(demo, extra_analyzers=3)  # type: ignore[arg-type]


def test_a_name_taken_twice_is_refused(demo: Cluster) -> None:
    with pytest.raises(AnalyzerError) as info:
        cloudoptim.analyze(demo, extra_analyzers=[returning("zombie-volumes", [])])  # type: ignore[list-item]
    assert (info.value.code, info.value.name) == ("analyzer_config", "zombie-volumes")
    with pytest.raises(AnalyzerError, match="team-labels"):
        cloudoptim.analyze(demo, analyzers=[], extra_analyzers=[TeamLabels(), TeamLabels()])
    # the built-in can be left out to run one of your own with its name
    r = cloudoptim.analyze(demo, analyzers=[], extra_analyzers=[returning("zombie-volumes", [])])  # type: ignore[list-item]
    assert r.analyzers == ["zombie-volumes"]


def test_typed_protocol_accepts_mappings_and_sequences(demo: Cluster) -> None:
    class Typed:
        name = "typed"

        def analyze(self, context: dict[str, Any], /) -> Sequence[Mapping[str, Any]]:
            return [GOOD]

    assert len(cloudoptim.analyze(demo, analyzers=[], extra_analyzers=[Typed()])) == 1
    assert json.loads(cloudoptim.analyze(demo, analyzers=[], extra_analyzers=[Typed()]).to_json())["analyzers"] == ["typed"]
