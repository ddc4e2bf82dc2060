"""The public API on the demo cluster and on real public Kubernetes/AWS files."""

from __future__ import annotations

import gc
import importlib.metadata
import json
import pickle
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

import cloudoptim
from cloudoptim import Cluster, Recommendation, Report

KINDS = {
    "workload_rightsizing",
    "oom_remediation",
    "node_rightsizing",
    "office_hours",
    "zombie_volume",
    "ghost_instance",
    "cross_az_traffic",
    "node_removal",
    "node_replacement",
    "spot_migration",
    "custom",
}


def test_version_matches_the_installed_distribution() -> None:
    assert cloudoptim.__version__ == importlib.metadata.version("cloudoptim")
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", cloudoptim.__version__)


# --- demo cluster and report --------------------------------------------------------------------


def test_demo_cluster(demo: Cluster) -> None:
    assert demo.name == "acme-prod-use1"
    assert demo.region == "us-east-1"
    assert demo.node_count > 10
    assert demo.pod_count > demo.node_count
    s = demo.summary()
    assert (s["name"], s["nodes"], s["pods"]) == (demo.name, demo.node_count, demo.pod_count)
    assert s["containers_with_usage"] > 0
    assert cloudoptim.demo_cluster() == demo, "the demo cluster is deterministic"


def test_demo_report_totals(demo: Cluster, demo_report: Report) -> None:
    recs = demo_report.recommendations
    assert len(recs) > 0
    assert len(demo_report) == len(recs) == demo_report.totals["recommendations"]
    savings = [r.monthly_savings_usd for r in recs]
    assert savings == sorted(savings, reverse=True), "largest saving first"
    t = demo_report.totals
    assert 0 < t["monthly_savings_usd"] <= t["gross_monthly_savings_usd"]
    # gross is the sum of the unrounded savings; each listed saving is rounded to the cent
    assert t["gross_monthly_savings_usd"] == pytest.approx(sum(savings), abs=0.005 * len(recs) + 0.01)
    assert sum(k["count"] for k in t["by_kind"]) == len(recs)
    assert {k["kind"] for k in t["by_kind"]} == {r.kind for r in recs}
    assert 0 < t["savings_ratio"] < 1
    assert demo_report.cluster == demo.summary()
    costs = demo_report.costs
    assert costs["monthly_usd"] == pytest.approx(
        costs["nodes_monthly_usd"] + costs["control_plane_monthly_usd"] + costs["volumes_monthly_usd"],
        abs=0.02,
    )
    assert costs["region"] == "us-east-1"
    assert demo_report.analyzers == cloudoptim.analyzer_names()
    assert all(isinstance(n, str) and n for n in demo_report.notes)


def test_recommendation_properties(demo: Cluster, demo_report: Report) -> None:
    as_dicts = demo_report.to_dict()["recommendations"]
    for rec, d in zip(demo_report.recommendations, as_dicts, strict=True):
        assert isinstance(rec, Recommendation)
        assert re.fullmatch(r"co-[0-9a-f]{16}", rec.id)
        assert rec.kind in KINDS
        assert rec.analyzer in cloudoptim.analyzer_names()
        assert rec.title
        assert rec.target["cluster"] == demo.name
        assert rec.risk["level"] in {"low", "medium", "high"}
        assert isinstance(rec.risk["reasons"], list)
        assert rec.priority in {"normal", "high"}
        assert 0.0 <= rec.confidence <= 1.0
        assert rec.explanation
        for c in rec.changes:
            assert set(c) == {"field", "current", "proposed"}
        for e in rec.evidence:
            assert set(e) == {"name", "value", "unit"} and isinstance(e["value"], float)
        # every property is the same value as in the report's JSON
        assert rec.to_dict() == d
        assert json.loads(rec.to_json()) == d
        for key in ("id", "kind", "analyzer", "title", "target", "changes", "monthly_savings_usd",
                    "risk", "priority", "confidence", "evidence", "explanation"):
            assert getattr(rec, key) == d[key], key


def test_to_json_to_dict_and_schema(demo_report: Report) -> None:
    text = demo_report.to_json()
    assert text.startswith("{\n  \"schema_version\": ")
    d = demo_report.to_dict()
    assert json.loads(text) == d
    assert d["schema_version"] == "1"
    schema = cloudoptim.report_schema()
    jsonschema.validate(d, schema)
    # an invalid report must fail the same validation (the schema is not vacuous)
    broken = dict(d, totals=dict(d["totals"], recommendations="many"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_report_schema_is_the_published_one() -> None:
    published = Path(__file__).resolve().parents[2] / "docs" / "schema" / "report.schema.json"
    assert cloudoptim.report_schema() == json.loads(published.read_text(encoding="utf-8"))


def test_to_table(demo_report: Report) -> None:
    table = demo_report.to_table()
    assert table.startswith("cloudoptim report: cluster acme-prod-use1")
    assert "Potential savings" in table
    assert demo_report.recommendations[0].id in table or demo_report.recommendations[0].title[:20] in table


def test_cluster_to_json_and_to_dict(demo: Cluster) -> None:
    d = demo.to_dict()
    assert d["name"] == demo.name
    assert len(d["nodes"]) == demo.node_count and len(d["pods"]) == demo.pod_count
    assert json.loads(demo.to_json()) == d


def test_analyzer_selection(demo: Cluster) -> None:
    names = cloudoptim.analyzer_names()
    assert names and all(isinstance(n, str) for n in names)
    assert "zombie-volumes" in names
    r = cloudoptim.analyze(demo, analyzers=["zombie-volumes"])
    assert r.analyzers == ["zombie-volumes"]
    assert len(r) > 0 and {x.kind for x in r.recommendations} == {"zombie_volume"}
    assert len(cloudoptim.analyze(demo, analyzers=[])) == 0
    # the order asked for is the order run
    assert cloudoptim.analyze(demo, analyzers=names[::-1]).analyzers == names[::-1]


def test_pricing_options(shared_data: Path, tmp_path: Path) -> None:
    nodes = cloudoptim.load_cluster(shared_data / "k8s" / "honeycomb-eks-nodes.json")
    base = cloudoptim.analyze(nodes)
    assert base.costs["price_sources"] == {"on_demand_catalog": 2}
    table = tmp_path / "prices.csv"
    table.write_text("instance_type,od_linux_usd_per_hour\nm6gd.2xlarge,1.0\n")
    priced = cloudoptim.analyze(nodes, prices=table)
    assert priced.costs["price_sources"] == {"on_demand_table": 2}
    assert priced.costs["nodes_monthly_usd"] == pytest.approx(2 * 1.0 * 730)
    other = cloudoptim.analyze(nodes, region="eu-west-1")
    assert other.costs["region"] == "eu-west-1" and other.costs["estimated"] is True
    advised = cloudoptim.analyze(nodes, spot_advisor=str(shared_data / "spot-advisor-data.json"))
    assert advised.costs["monthly_usd"] == base.costs["monthly_usd"]


def test_analyze_is_deterministic_and_equal_by_value(demo: Cluster, demo_report: Report) -> None:
    again = cloudoptim.analyze(demo)
    assert again == demo_report and again is not demo_report
    assert again.recommendations[0] == demo_report.recommendations[0]
    assert demo_report.recommendations[0] != demo_report.recommendations[-1]
    assert (demo_report == "a report") is False
    assert cloudoptim.analyze(demo, analyzers=["zombie-volumes"]) != demo_report


# --- real public files --------------------------------------------------------------------------


def test_load_honeycomb_nodes(shared_data: Path, no_warnings: None) -> None:
    c = cloudoptim.load_cluster(shared_data / "k8s" / "honeycomb-eks-nodes.json")
    assert (c.name, c.node_count, c.pod_count, c.region) == ("honeycomb-eks-nodes", 2, 0, "us-east-1")
    nodes = c.to_dict()["nodes"]
    assert nodes[0]["name"] == "duckboat-01"
    assert nodes[0]["instance_type"] == "m6gd.2xlarge"
    assert nodes[0]["allocatable"]["cpu_milli"] == 7910


def test_load_honeycomb_pods(shared_data: Path) -> None:
    c = cloudoptim.load_cluster(str(shared_data / "k8s" / "honeycomb-eks-pods.json"))
    assert (c.node_count, c.pod_count) == (0, 11)
    pods = c.to_dict()["pods"]
    assert all(p["node_name"] == "duckboat-01" for p in pods)


def test_load_flanksource_oomkilled_warns(shared_data: Path) -> None:
    with pytest.warns(UserWarning, match=r"Pod mission-control/oomkilled-pod.*finishedAt"):
        c = cloudoptim.load_cluster(shared_data / "k8s" / "flanksource-pod-oomkilled.yaml")
    assert c.pod_count == 1
    container = c.to_dict()["pods"][0]["containers"][0]
    assert container["restart_count"] == 9
    assert container["last_termination"]["reason"] == "OOMKilled"
    assert container["limits"]["memory_bytes"] == 200 * 2**20


def test_load_with_aws_spot_price_history(shared_data: Path) -> None:
    nodes = shared_data / "k8s" / "honeycomb-eks-nodes.json"
    spot = shared_data / "describe-spot-price-history-m5.large-us-east-1.json"
    c = cloudoptim.load_cluster(nodes, aws=[spot])
    assert c.summary()["spot_price_points"] == 250
    assert c.node_count == 2
    # one path or a list of one path, str or PathLike: the same snapshot
    assert cloudoptim.load_cluster(str(nodes), aws=str(spot)) == c
    assert cloudoptim.load_cluster(nodes, aws=(spot,)) == c
    assert cloudoptim.load_cluster(nodes) != c
    assert len(cloudoptim.analyze(c)) > 0


def test_load_folder_and_cluster_name(shared_data: Path) -> None:
    with pytest.warns(UserWarning):
        c = cloudoptim.load_cluster(shared_data / "k8s", cluster_name="honeycomb")
    assert (c.name, c.node_count, c.pod_count) == ("honeycomb", 2, 12)


def test_analyze_accepts_a_path(shared_data: Path) -> None:
    path = shared_data / "k8s" / "honeycomb-eks-nodes.json"
    assert cloudoptim.analyze(path) == cloudoptim.analyze(cloudoptim.load_cluster(path))
    assert cloudoptim.analyze(str(path)).cluster["name"] == "honeycomb-eks-nodes"


# --- helpers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "milli"),
    [("100m", 100), ("1", 1000), ("1.5", 1500), ("250m", 250), ("100u", 1), ("2k", 2_000_000)],
)
def test_cpu_millicores(q: str, milli: int) -> None:
    assert cloudoptim.cpu_millicores(q) == milli


@pytest.mark.parametrize(
    ("q", "value"),
    [("1Gi", 2**30), ("512Mi", 512 * 2**20), ("129M", 129_000_000), ("1e3", 1000), ("1.5", 2), ("100m", 1)],
)
def test_memory_bytes(q: str, value: int) -> None:
    assert cloudoptim.memory_bytes(q) == value


def test_instance_type() -> None:
    it = cloudoptim.instance_type("m5.large")
    assert (it["name"], it["vcpu"], it["memory_mib"], it["arch"]) == ("m5.large", 2, 8192, "amd64")
    assert it["max_pods"] == 29 and it["allocatable"]["pods"] == 29
    assert it["od_price_us_east_1"] == pytest.approx(0.096)
    assert cloudoptim.instance_type("m6g.large")["arch"] == "arm64"


# --- classes --------------------------------------------------------------------------------------


def test_reprs(demo: Cluster, demo_report: Report) -> None:
    assert repr(demo) == (
        f"Cluster(name='acme-prod-use1', region='us-east-1', nodes={demo.node_count}, "
        f"pods={demo.pod_count})"
    )
    t = demo_report.totals
    assert repr(demo_report) == (
        f"Report(cluster='acme-prod-use1', recommendations={len(demo_report)}, "
        f"monthly_savings_usd={t['monthly_savings_usd']!r})"
    )
    rec = demo_report.recommendations[0]
    assert repr(rec).startswith(f"Recommendation(id={rec.id!r}, kind={rec.kind!r}, ")
    assert f"monthly_savings_usd={rec.monthly_savings_usd!r}" in repr(rec)


def test_classes_are_frozen(demo: Cluster, demo_report: Report) -> None:
    rec = demo_report.recommendations[0]
    for obj, attr in [(demo, "name"), (demo, "extra"), (demo_report, "totals"), (rec, "kind"), (rec, "x")]:
        with pytest.raises(AttributeError):
            setattr(obj, attr, "changed")
    assert demo.name == "acme-prod-use1"


def test_classes_cannot_be_built_or_subclassed_from_python() -> None:
    for cls in (Cluster, Report, Recommendation):
        with pytest.raises(TypeError):
            cls()
        with pytest.raises(TypeError):
            type("Sub", (cls,), {})
        assert cls.__module__ == "cloudoptim"


def test_classes_are_unhashable(demo: Cluster, demo_report: Report) -> None:
    for obj in (demo, demo_report, demo_report.recommendations[0]):
        with pytest.raises(TypeError):
            hash(obj)


def test_recommendations_outlive_their_report(demo: Cluster) -> None:
    report = cloudoptim.analyze(demo)
    expected = [r.to_dict() for r in report.recommendations]
    recs = report.recommendations
    assert recs == report.recommendations
    del report
    gc.collect()
    assert [r.to_dict() for r in recs] == expected
    assert recs[0].title == expected[0]["title"]


def test_pickle_round_trip(demo: Cluster, demo_report: Report) -> None:
    for obj in (demo, demo_report, demo_report.recommendations[3]):
        back = pickle.loads(pickle.dumps(obj))
        assert type(back) is type(obj)
        assert back == obj
        assert back.to_json() == obj.to_json()


def _python_share_during(call: Callable[[], object], min_seconds: float = 0.3) -> float:
    """How fast a pure-Python thread counts while `call()` runs in this thread, relative to how
    fast it counts while this thread sleeps: about 1 when the call releases the GIL, near 0 when
    it holds it."""
    count = 0
    stop = False

    def spin() -> None:
        nonlocal count
        while not stop:
            count += 1

    t = threading.Thread(target=spin, daemon=True)
    t.start()
    try:
        t0, c0 = time.perf_counter(), count
        time.sleep(0.1)
        free_rate = (count - c0) / (time.perf_counter() - t0)
        progress, elapsed = 0, 0.0
        while elapsed < min_seconds:
            before, t0 = count, time.perf_counter()
            call()
            elapsed += time.perf_counter() - t0
            progress += count - before
        return (progress / elapsed) / free_rate
    finally:
        stop = True
        t.join()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_analyze_and_load_release_the_gil(demo: Cluster, shared_data: Path) -> None:
    # the measure can fail: a C call that holds the GIL starves the other thread
    assert _python_share_during(lambda: sum(range(5_000_000))) < 0.3
    assert _python_share_during(lambda: cloudoptim.analyze(demo)) > 0.3
    assert _python_share_during(lambda: cloudoptim.consolidate(demo)) > 0.3
    assert _python_share_during(lambda: cloudoptim.consolidate(demo, mode="remove")) > 0.3
    assert _python_share_during(cloudoptim.demo_cluster) > 0.3
    assert _python_share_during(lambda: cloudoptim.load_cluster(shared_data / "k8s")) > 0.3
