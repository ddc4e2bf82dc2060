"""The installed ``cloudoptim`` script runs the same Rust command line, and agrees with the API."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import cloudoptim
from cloudoptim import _native


def run(cli: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([cli, *map(str, args)], capture_output=True, text=True, timeout=300)


def test_demo_json_equals_the_api(cli: str, demo_report: cloudoptim.Report) -> None:
    p = run(cli, "demo", "--format", "json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == demo_report.to_dict()
    assert p.stdout == demo_report.to_json() + "\n"


def test_demo_table_equals_the_api(cli: str, demo_report: cloudoptim.Report) -> None:
    p = run(cli, "demo")
    assert p.returncode == 0, p.stderr
    # the report table first, then the consolidation plan
    assert p.stdout.startswith(demo_report.to_table())
    assert "Consolidation (replace)" in p.stdout[len(demo_report.to_table()):]


def test_analyze_real_files_equals_the_api(cli: str, shared_data: Path) -> None:
    nodes = shared_data / "k8s" / "honeycomb-eks-nodes.json"
    spot = shared_data / "describe-spot-price-history-m5.large-us-east-1.json"
    p = run(cli, "analyze", "--cluster", nodes, "--aws", spot, "--format", "json")
    assert p.returncode == 0, p.stderr
    expected = cloudoptim.analyze(cloudoptim.load_cluster(nodes, aws=[spot]))
    assert json.loads(p.stdout) == expected.to_dict()


def test_loader_warnings_go_to_stderr(cli: str, shared_data: Path) -> None:
    p = run(cli, "analyze", "--cluster", shared_data / "k8s" / "flanksource-pod-oomkilled.yaml")
    assert p.returncode == 0, p.stderr
    assert p.stderr.startswith("warning: ") and "finishedAt" in p.stderr
    assert p.stdout.startswith("cloudoptim report: cluster flanksource-pod-oomkilled")


def test_analyzers_and_schema(cli: str) -> None:
    p = run(cli, "analyzers")
    assert p.returncode == 0
    assert [line.split()[0] for line in p.stdout.splitlines()] == cloudoptim.analyzer_names()
    p = run(cli, "schema")
    assert p.returncode == 0
    assert json.loads(p.stdout) == cloudoptim.report_schema()


def test_version(cli: str) -> None:
    p = run(cli, "--version")
    assert (p.returncode, p.stdout.strip()) == (0, f"cloudoptim {cloudoptim.__version__}")


def test_failures_exit_non_zero(cli: str, tmp_path: Path) -> None:
    p = run(cli, "analyze", "--cluster", tmp_path / "missing.json")
    assert p.returncode == 1
    assert p.stderr.startswith(f"error: {tmp_path / 'missing.json'}: ")
    assert p.stdout == ""
    p = run(cli, "frobnicate")
    assert p.returncode == 2
    assert "unrecognized subcommand" in p.stderr


def test_cli_main_writes_to_python_streams(capsys: pytest.CaptureFixture[str]) -> None:
    assert _native.cli_main(["cloudoptim", "analyzers"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0].split()[0] == cloudoptim.analyzer_names()[0]
    assert err == ""
    assert _native.cli_main(["cloudoptim", "analyze"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "--cluster" in err
