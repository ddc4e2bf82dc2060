"""Live sources from Python, against the project's shared fakes and real servers: the fake
Kubernetes API (the ``fake-kube-stdio`` program of the tests crate), a real Prometheus (Debian's
package, backfilled with promtool) and moto's server for EC2. Every server listens on
127.0.0.1 on a port the OS picks, and is stopped when its fixture ends."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import cloudoptim


# --- the fake Kubernetes API ----------------------------------------------------------------------


@dataclass
class FakeKube:
    process: subprocess.Popen[str]
    url: str
    kubeconfig: Path

    def ask(self, command: str) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def requests(self) -> list[dict[str, Any]]:
        return list(self.ask("requests"))

    def object(self, kind: str, namespace: str, name: str) -> Any:
        return self.ask(f"object {kind} {namespace or '-'} {name}")


def _fake_kube_bin() -> str:
    path = os.environ.get("CLOUDOPTIM_FAKE_KUBE_BIN")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(
            "the fake Kubernetes API is not built: run scripts/test-python.sh, or "
            "`cargo build -p cloudoptim-tests --bin fake-kube-stdio` and set CLOUDOPTIM_FAKE_KUBE_BIN"
        )
    return path


@pytest.fixture
def fake_kube(tmp_path: Path) -> Iterator[FakeKube]:
    """A fresh fake API server per test (its objects change when a plan is applied)."""
    folder = tmp_path / "fake-kube"
    folder.mkdir()
    process = subprocess.Popen(
        [_fake_kube_bin(), "--dir", str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready = folder / "ready.json"
        for _ in range(600):
            if ready.is_file() or process.poll() is not None:
                break
            time.sleep(0.1)
        assert ready.is_file(), f"fake-kube-stdio did not start (exit code {process.poll()})"
        info = json.loads(ready.read_text())
        yield FakeKube(process, info["url"], Path(info["kubeconfig"]))
    finally:
        # closing its standard input ends it
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_load_cluster_reads_the_live_api(fake_kube: FakeKube) -> None:
    cluster = cloudoptim.load_cluster(kubeconfig=fake_kube.kubeconfig)
    data = cluster.to_dict()
    assert cluster.node_count == len(data["nodes"]) > 0
    assert cluster.pod_count == len(data["pods"]) > 0
    # every node and pod read is one the server holds
    for node in data["nodes"]:
        assert fake_kube.object("Node", "", node["name"]) is not None, node["name"]
    for pod in data["pods"][:10]:
        assert fake_kube.object("Pod", pod["namespace"], pod["name"]) is not None, pod["name"]
    paths = {r["path"] for r in fake_kube.requests()}
    assert "/api/v1/nodes" in paths
    # read-only
    assert all(r["method"] == "GET" for r in fake_kube.requests())


def test_live_analysis_equals_the_command_line(fake_kube: FakeKube, cli: str) -> None:
    report = cloudoptim.analyze(cloudoptim.load_cluster(kubeconfig=fake_kube.kubeconfig, context="fake"))
    p = subprocess.run(
        [cli, "analyze", "--kubeconfig", str(fake_kube.kubeconfig), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    assert [r["id"] for r in json.loads(p.stdout)["recommendations"]] == [r.id for r in report.recommendations]
    assert json.loads(p.stdout)["totals"] == report.totals


def test_exec_credential_context(fake_kube: FakeKube) -> None:
    cluster = cloudoptim.load_cluster(kubeconfig=fake_kube.kubeconfig, context="exec")
    assert cluster.node_count > 0


def test_rejected_token_and_unknown_context(fake_kube: FakeKube) -> None:
    with pytest.raises(cloudoptim.LiveSourceError) as stale:
        cloudoptim.load_cluster(kubeconfig=fake_kube.kubeconfig, context="stale")
    assert stale.value.code == "unauthorized"
    assert "401" in str(stale.value)
    with pytest.raises(cloudoptim.LiveSourceError) as unknown:
        cloudoptim.load_cluster(kubeconfig=fake_kube.kubeconfig, context="no-such-context")
    assert unknown.value.code == "source_config"
    assert "no-such-context" in str(unknown.value)


def test_load_cluster_needs_exactly_one_source(fake_kube: FakeKube, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="needs path"):
        cloudoptim.load_cluster()
    with pytest.raises(ValueError, match="not both"):
        cloudoptim.load_cluster(tmp_path, kubeconfig=fake_kube.kubeconfig)


def _first_node(fake_kube: FakeKube) -> str:
    return str(cloudoptim.load_cluster(kubeconfig=fake_kube.kubeconfig).to_dict()["nodes"][0]["name"])


def test_apply_is_a_dry_run_by_default(fake_kube: FakeKube) -> None:
    node = _first_node(fake_kube)
    before = len(fake_kube.requests())
    plan = {"steps": [{"action": "cordon", "node": node, "why": "test"}]}
    outcomes = cloudoptim.apply(plan, kubeconfig=fake_kube.kubeconfig)
    assert [o["status"] for o in outcomes] == ["dry_run"]
    assert outcomes[0]["step"]["node"] == node
    stored = fake_kube.object("Node", "", node)
    assert not stored.get("spec", {}).get("unschedulable", False)
    # nothing but reads (or server-side dry runs) reached the server
    for r in fake_kube.requests()[before:]:
        assert r["method"] == "GET" or "dryRun=All" in r["query"], r


def test_apply_yes_cordons_through_the_api(fake_kube: FakeKube, tmp_path: Path) -> None:
    node = _first_node(fake_kube)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps({"steps": [{"action": "cordon", "node": node, "why": "test"}]}))
    outcomes = cloudoptim.apply(plan_file, yes=True, kubeconfig=fake_kube.kubeconfig)
    assert [o["status"] for o in outcomes] == ["done"]
    assert fake_kube.object("Node", "", node)["spec"]["unschedulable"] is True
    assert any(r["method"] == "PATCH" and r["path"] == f"/api/v1/nodes/{node}" for r in fake_kube.requests())


def test_apply_refuses_destructive_steps_without_yes() -> None:
    plan = json.dumps({"steps": [{"action": "delete_volume", "volume_id": "vol-1", "why": "zombie"}]})
    outcomes = cloudoptim.apply(plan)
    assert outcomes[0]["status"] == "failed"
    assert outcomes[0]["code"] == "not_confirmed"


def test_apply_rejects_a_malformed_plan() -> None:
    with pytest.raises(cloudoptim.CloudOptimError) as e:
        cloudoptim.apply({"steps": [{"action": "cordon"}]})
    assert e.value.code == "plan"
    assert "node" in str(e.value)


# --- a real Prometheus ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    for _ in range(1200):
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{what} did not start (exit code {process.poll()}):\n{log.read_text()[-2000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def usage_series(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, str]]:
    """Containers of the fake cluster's sample to give history to: (namespace, pod, container)."""
    folder = tmp_path_factory.mktemp("sample")
    process = subprocess.Popen([_fake_kube_bin(), "--dir", str(folder)], stdin=subprocess.PIPE, text=True)
    try:
        for _ in range(600):
            if (folder / "ready.json").is_file():
                break
            time.sleep(0.1)
        pods = cloudoptim.load_cluster(kubeconfig=folder / "kubeconfig").to_dict()["pods"]
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=20)
    out = []
    for pod in pods:
        for c in pod["containers"]:
            out.append((pod["namespace"], pod["name"], c["name"]))
    return out[:4]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, usage_series: list[tuple[str, str, str]]) -> Iterator[str]:
    for program in ("prometheus", "promtool"):
        if shutil.which(program) is None:
            pytest.fail(f"{program} not found: apt-get install -y prometheus")
    folder = tmp_path_factory.mktemp("prometheus")
    # two days of a CPU counter and a memory gauge per container, scraped every 2 minutes,
    # ending an hour ago
    end = (int(time.time()) - 3600) // 3600 * 3600
    lines = []
    for i, (ns, pod, container) in enumerate(usage_series):
        labels = f'namespace="{ns}",pod="{pod}",container="{container}"'
        total = 0.0
        for t in range(end - 2 * 86_400, end + 1, 120):
            total += (0.05 + 0.01 * i) * 120
            lines.append(f"container_cpu_usage_seconds_total{{{labels}}} {total} {t}")
        for t in range(end - 2 * 86_400, end + 1, 120):
            lines.append(f"container_memory_working_set_bytes{{{labels}}} {(64 + 16 * i) * 2**20} {t}")
    (folder / "series.om").write_text("\n".join(lines) + "\n# EOF\n")
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(folder / "series.om"), str(folder / "data"), "--quiet"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (folder / "prometheus.yml").write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    port = _free_port()
    log = folder / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                "--storage.tsdb.retention.time=30d",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=out,
            stderr=out,
            cwd=folder,
        )
    try:
        _wait_http(f"http://127.0.0.1:{port}/-/ready", process, "prometheus", log)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


def test_prometheus_history_from_python(
    fake_kube: FakeKube, prometheus: str, usage_series: list[tuple[str, str, str]]
) -> None:
    plain = cloudoptim.load_cluster(kubeconfig=fake_kube.kubeconfig)
    live = cloudoptim.load_cluster(kubeconfig=fake_kube.kubeconfig, prometheus=prometheus, days=2)
    with_usage = {(k["namespace"], k["pod"], k["container"]) for k in _usage_keys(live)}
    assert with_usage == set(usage_series)
    assert live.summary()["containers_with_usage"] == len(usage_series)
    assert plain.summary()["containers_with_usage"] == 0
    # analyze() takes the same arguments and reads the same history
    report = cloudoptim.analyze(plain, prometheus=prometheus, days=2)
    assert report.cluster["containers_with_usage"] == len(usage_series)


def _usage_keys(cluster: cloudoptim.Cluster) -> list[dict[str, str]]:
    # usage history is keyed `namespace/pod/container`
    keys = cluster.to_dict()["usage"]["containers"]
    return [dict(zip(("namespace", "pod", "container"), k.split("/"), strict=True)) for k in keys]


def test_unreachable_prometheus_is_a_live_source_error(demo: cloudoptim.Cluster) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(cloudoptim.LiveSourceError) as e:
        cloudoptim.analyze(demo, prometheus=url, days=1, prometheus_timeout=2)
    assert e.value.code == "prometheus_connect"
    assert url in str(e.value)


# --- moto for EC2 ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    binary = os.environ.get("MOTO_SERVER_BIN") or shutil.which("moto_server")
    if not binary:
        pytest.fail('moto_server not found: pip install "moto[server]" or set MOTO_SERVER_BIN')
    port = _free_port()
    folder = Path(os.environ.get("TMPDIR", "/tmp"))
    log = folder / f"cloudoptim-moto-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out)
    try:
        _wait_http(f"http://127.0.0.1:{port}/moto-api/", process, "moto_server", log)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)
        log.unlink(missing_ok=True)


@pytest.fixture
def aws_env(moto: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto,
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(key, value)
    return moto


def test_aws_live_inventory(aws_env: str, fake_kube: FakeKube) -> None:
    import boto3
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=aws_env)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    made = ec2.run_instances(ImageId=image, MinCount=3, MaxCount=3, InstanceType="m5.large")
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=10, VolumeType="gp3")
    ids = {i["InstanceId"] for i in made["Instances"]}
    cluster = cloudoptim.load_cluster(kubeconfig=fake_kube.kubeconfig, aws_live=True, region="us-east-1")
    aws = cluster.to_dict()["aws"]
    assert ids <= {i["instance_id"] for i in aws["instances"]}
    assert volume["VolumeId"] in {v["volume_id"] for v in aws["volumes"]}
    plain = cloudoptim.load_cluster(kubeconfig=fake_kube.kubeconfig)
    assert plain.summary()["ec2_instances"] == 0
    # analyze(aws_live=True) reads the same inventory from the region given
    report = cloudoptim.analyze(plain, aws_live=True, region="us-east-1")
    assert report.cluster["ec2_instances"] == len(aws["instances"])


def test_aws_live_unreachable_endpoint(monkeypatch: pytest.MonkeyPatch, demo: cloudoptim.Cluster) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_free_port()}")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(cloudoptim.LiveSourceError) as e:
        cloudoptim.analyze(demo, aws_live=True, region="us-east-1")
    assert e.value.code.startswith("aws_")
