"""Spot from Python: risk scores, readiness and the interruption plan, as the CLI gives them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cloudoptim


def test_scores_match_the_cli_and_are_sorted_by_risk() -> None:
    scores = cloudoptim.score_spot_types("m5.*", region="us-east-1")
    assert scores and all(s["instance_type"].startswith("m5.") for s in scores)
    risks = [s["risk"] for s in scores]
    assert risks == sorted(risks)
    assert all(0.0 <= r <= 1.0 for r in risks)
    out = subprocess.run(
        [str(Path(sys.executable).parent / "cloudoptim"), "spot", "score", "--types", "m5.*", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout) == scores


def test_readiness_has_reasons_for_what_is_not_ready() -> None:
    ready = cloudoptim.spot_readiness(cloudoptim.demo_cluster())
    by = {r["workload"]: r for r in ready}
    assert by["default/debug-shell"]["ready"] is False
    assert by["default/debug-shell"]["reason"] == "a bare pod with no controller"
    assert any(r["ready"] for r in ready)
    assert all(r["reason"] is None for r in ready if r["ready"])


def test_plan_interruption_cordons_our_node_and_leaves_others() -> None:
    demo = cloudoptim.demo_cluster()
    node = next(n for n in demo.to_dict()["nodes"] if n.get("instance_id"))
    event = {
        "version": "0", "id": "py-1", "detail-type": "EC2 Spot Instance Interruption Warning",
        "source": "aws.ec2", "time": "2026-11-26T10:00:00Z", "region": "us-east-1",
        "detail": {"instance-id": node["instance_id"], "instance-action": "terminate"},
    }
    plan = cloudoptim.plan_interruption(demo, json.dumps(event))
    assert plan["nodes"] == [node["name"]]
    assert plan["actions"][0] == {"action": "cordon", "node": node["name"]}
    assert plan["actions"][-1] == {"action": "delete_message"}
    event["detail"]["instance-id"] = "i-0notours"
    other = cloudoptim.plan_interruption(demo, json.dumps(event))
    assert [a["action"] for a in other["actions"]] == ["leave_message"]
    garbage = cloudoptim.plan_interruption(demo, "{not json")
    assert garbage["parsed"]["outcome"] == "quarantine"
    assert garbage["actions"] == []
