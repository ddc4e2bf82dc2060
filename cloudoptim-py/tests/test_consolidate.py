"""Consolidation plans through the binding: bounds, assignments, the CLI's JSON and the schema."""

from __future__ import annotations

import json
import pickle
import subprocess
from pathlib import Path

import jsonschema
import pytest

import cloudoptim
from cloudoptim import CloudOptimError, Cluster, Plan

MODES = ["remove", "replace"]


@pytest.fixture(scope="module", params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def plans(demo: Cluster) -> dict[str, Plan]:
    return {m: cloudoptim.consolidate(demo, mode=m) for m in MODES}


@pytest.fixture(scope="module")
def plan(plans: dict[str, Plan], mode: str) -> Plan:
    return plans[mode]


def run(cli: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([cli, *args], capture_output=True, text=True, timeout=300)


def test_costs_and_bound(plan: Plan, mode: str) -> None:
    assert isinstance(plan, Plan)
    assert plan.mode == mode
    assert plan.lower_bound_hourly > 0
    assert plan.lower_bound_hourly <= plan.cost_after_hourly < plan.cost_before_hourly
    assert plan.gap_to_bound == pytest.approx(
        (plan.cost_after_hourly - plan.lower_bound_hourly) / plan.lower_bound_hourly, abs=1e-3
    )
    assert plan.monthly_saving == pytest.approx((plan.cost_before_hourly - plan.cost_after_hourly) * 730)
    assert plan.monthly_saving > 0
    assert plan.solver


def test_every_movable_pod_is_assigned_or_unplaced(demo: Cluster, plan: Plan) -> None:
    pods = demo.to_dict()["pods"]
    # DaemonSet pods (and static mirror pods, owned by their Node) stay with their node
    expected = {
        f"{p['namespace']}/{p['name']}"
        for p in pods
        if p["phase"] not in ("Succeeded", "Failed")
        and (p["controller"] is None or p["controller"][0] not in ("DaemonSet", "Node"))
    }
    assert expected, "the demo has pods to place"
    assigned = [a["pod"] for a in plan.assignments]
    unplaced = [u["pod"] for u in plan.unplaced]
    assert len(assigned) == len(set(assigned)), "a pod is assigned once"
    assert set(assigned) | set(unplaced) == expected
    assert not set(assigned) & set(unplaced)
    # every assignment is to a node of the plan
    names = {n["name"] for n in plan.nodes}
    assert {a["node"] for a in plan.assignments} <= names


def test_nodes_removed_and_added(demo: Cluster, plan: Plan, mode: str) -> None:
    before = {n["name"] for n in demo.to_dict()["nodes"]}
    after = {n["name"] for n in plan.nodes}
    assert set(plan.removed) <= before
    assert not set(plan.removed) & after
    kept = [n for n in plan.nodes if not n["new"]]
    assert {n["name"] for n in kept} == before - set(plan.removed)
    assert plan.removed, "the demo cluster has nodes to remove"
    if mode == "remove":
        assert all(not n["new"] for n in plan.nodes), "remove mode adds no node"
        assert all(not s["added"] for s in plan.steps)
    assert sum(n["hourly_cost"] for n in plan.nodes) == pytest.approx(plan.cost_after_hourly, abs=1e-3)
    for s in plan.steps:
        assert s["action"] in ("remove", "replace")
        assert set(s) >= {"removed", "added", "moves", "monthly_saving", "approved"}


def test_to_dict_equals_the_cli_json(cli: str, plan: Plan, mode: str) -> None:
    p = run(cli, "consolidate", "--demo", "--mode", mode, "--format", "json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == plan.to_dict()
    assert p.stdout == plan.to_json() + "\n"


def test_to_table_equals_the_cli_table(cli: str, plan: Plan, mode: str) -> None:
    p = run(cli, "consolidate", "--demo", "--mode", mode)
    assert p.returncode == 0, p.stderr
    assert p.stdout == plan.to_table()
    assert plan.to_table().startswith(f"Consolidation ({mode}): ")


def test_allow_types_equals_the_cli(cli: str, demo: Cluster) -> None:
    plan = cloudoptim.consolidate(demo, allow_types=["m6i.*", "c6i.*"])
    new = [n["instance_type"] for n in plan.nodes if n["new"]]
    assert new and all(t.startswith(("m6i.", "c6i.")) for t in new)
    p = run(cli, "consolidate", "--demo", "--allow-types", "m6i.*,c6i.*", "--format", "json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == plan.to_dict()
    assert cloudoptim.consolidate(demo, allow_types=("m6i.*", "c6i.*")) == plan


def test_region(demo: Cluster, plans: dict[str, Plan]) -> None:
    eu = cloudoptim.consolidate(demo, region="eu-west-1")
    assert eu.cost_before_hourly != plans["replace"].cost_before_hourly


def test_properties_are_the_json(plan: Plan) -> None:
    d = plan.to_dict()
    assert json.loads(plan.to_json()) == d
    for key in ("mode", "cost_before_hourly", "cost_after_hourly", "lower_bound_hourly", "gap_to_bound",
                "nodes", "removed", "assignments", "unplaced", "blocked", "steps", "solver"):
        assert getattr(plan, key) == d[key], key
    assert set(d) == {"mode", "cost_before_hourly", "cost_after_hourly", "lower_bound_hourly", "gap_to_bound",
                      "nodes", "removed", "assignments", "unplaced", "blocked", "steps", "solver"}


def test_validates_against_plan_schema(plan: Plan) -> None:
    schema = cloudoptim.plan_schema()
    assert schema["title"] == "Plan"
    d = plan.to_dict()
    jsonschema.validate(d, schema)
    for broken in (
        dict(d, removed="all"),
        dict(d, nodes=[dict(d["nodes"][0], new="yes")]),
        {k: v for k, v in d.items() if k != "assignments"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)


def test_deterministic_equal_pickle_repr(demo: Cluster, plans: dict[str, Plan], plan: Plan) -> None:
    again = cloudoptim.consolidate(demo, mode=plan.mode)
    assert again == plan and again is not plan
    assert plans["remove"] != plans["replace"]
    back = pickle.loads(pickle.dumps(plan))
    assert type(back) is Plan and back == plan and back.to_json() == plan.to_json()
    added = sum(n["new"] for n in plan.nodes)
    assert repr(plan) == (
        f"Plan(mode={plan.mode!r}, cost_before_hourly={plan.cost_before_hourly!r}, "
        f"cost_after_hourly={plan.cost_after_hourly!r}, removed={len(plan.removed)}, added={added}, "
        f"unplaced={len(plan.unplaced)})"
    )


def test_plan_is_frozen_unhashable_and_not_constructible(plan: Plan) -> None:
    for attr in ("mode", "extra"):
        with pytest.raises(AttributeError):
            setattr(plan, attr, "x")
    with pytest.raises(TypeError):
        hash(plan)
    with pytest.raises(TypeError):
        Plan()
    with pytest.raises(TypeError):
        type("Sub", (Plan,), {})
    assert Plan.__module__ == "cloudoptim"


def test_accepts_a_path(shared_data: Path) -> None:
    path = shared_data / "k8s" / "honeycomb-eks-nodes.json"
    assert cloudoptim.consolidate(path, mode="remove") == cloudoptim.consolidate(
        cloudoptim.load_cluster(path), mode="remove"
    )
    assert cloudoptim.consolidate(str(path)).mode == "replace"


def test_bad_arguments(demo: Cluster, tmp_path: Path) -> None:
    with pytest.raises(CloudOptimError) as info:
        cloudoptim.consolidate(demo, mode="shrink")  # type: ignore[arg-type]
    assert info.value.code == "packing"
    assert "shrink" in str(info.value)
    with pytest.raises(cloudoptim.InputError):
        cloudoptim.consolidate(tmp_path / "missing.json")
    with pytest.raises(TypeError):
        cloudoptim.consolidate(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cloudoptim.consolidate(demo, allow_types="m6i.*")
    with pytest.raises(TypeError):
        cloudoptim.consolidate(demo, "remove")  # type: ignore[misc]
