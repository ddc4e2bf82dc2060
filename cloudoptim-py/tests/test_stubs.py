"""The type stubs describe the native module exactly, and the public names exist."""

from __future__ import annotations

import importlib.resources
import subprocess
import sys
import textwrap
from pathlib import Path

import cloudoptim
from cloudoptim import _aio, _display, _native


# names written in Python (the asyncio variants, the DataFrame helpers), not in the native module
PYTHON_MODULES = {"_aio": _aio, "_display": _display}


def test_all_names_exist() -> None:
    assert len(set(cloudoptim.__all__)) == len(cloudoptim.__all__)
    for name in cloudoptim.__all__:
        assert hasattr(cloudoptim, name), name
        homes = [m for m in (_native, *PYTHON_MODULES.values()) if name in m.__all__]
        assert len(homes) == 1, (name, homes)
        assert getattr(cloudoptim, name) is getattr(homes[0], name), name


def test_every_public_name_is_exported() -> None:
    internal = {"cli_main"}
    public = {n for n in _native.__all__ if not n.startswith("_") or n == "__version__"}
    python = {n for m in PYTHON_MODULES.values() for n in m.__all__}
    exported_python = python & set(cloudoptim.__all__)
    assert public - internal == set(cloudoptim.__all__) - exported_python
    # every asyncio variant and DataFrame helper meant for users is exported
    assert set(_aio.__all__) <= set(cloudoptim.__all__)
    assert {"MissingOptionalDependency", "spot_scores_frame"} <= set(cloudoptim.__all__)


def test_the_wheel_ships_stubs_and_marker() -> None:
    files = importlib.resources.files("cloudoptim")
    assert files.joinpath("py.typed").is_file()
    assert files.joinpath("_native.pyi").is_file()


def test_stubtest(tmp_path: Path) -> None:
    # run from an empty folder with an empty config so only the installed package is seen
    (tmp_path / "none.ini").write_text("[mypy]\n")
    p = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "cloudoptim", "--mypy-config-file", str(tmp_path / "none.ini")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert p.returncode == 0, p.stdout + p.stderr


def test_typed_usage_passes_mypy_strict(tmp_path: Path) -> None:
    (tmp_path / "none.ini").write_text("[mypy]\n")
    usage = tmp_path / "usage.py"
    usage.write_text(
        textwrap.dedent(
            """
            from pathlib import Path
            from typing import Any
            import cloudoptim

            cluster: cloudoptim.Cluster = cloudoptim.load_cluster(Path("c.json"), aws=["a.json"])
            report = cloudoptim.analyze(cluster, region="us-east-1", analyzers=["empty-nodes"])
            total: float = report.totals["monthly_savings_usd"]
            for rec in report.recommendations:
                level: str = rec.risk["level"]
                ns: str | None = rec.target.get("namespace")
                saving: float = rec.monthly_savings_usd
            millis: int = cloudoptim.cpu_millicores("100m")
            change = cloudoptim.Change(
                {"kind": "NodeGroup", "cluster": "prod-eks", "name": "main-app"},
                {"instance_types": ["m6i.large"], "min_size": 2},
            )
            types: list[str] | None = change.set.get("instance_types")
            patched: cloudoptim.PatchReport = cloudoptim.patch(Path("infra"), change, dry_run=True)
            outcome: str = patched.outcome
            first_line: int = patched.candidates[0]["line"]
            located = cloudoptim.locate("infra", {"target": change.target, "set": {"requests.cpu": "1"}})
            written: bool = located.written or cloudoptim.locate("infra", change.to_json()).written
            vcpu: int = cloudoptim.instance_type("m5.large")["vcpu"]
            plan: cloudoptim.Plan = cloudoptim.consolidate(cluster, mode="remove", allow_types=["m6i.*"])
            saved: float = plan.monthly_saving + plan.lower_bound_hourly
            first_pod: str = plan.assignments[0]["pod"]
            moved_from: str = plan.steps[0]["moves"][0]["from"]
            new_node: bool = plan.nodes[0]["new"]
            schema: dict[str, Any] = cloudoptim.plan_schema()

            class TeamLabels:
                name = "team-labels"
                description = "Namespaces without a team label"

                def analyze(self, context: dict[str, Any]) -> list[dict[str, Any]]:
                    return [{"kind": "custom", "title": "t", "target": {}, "monthly_savings_usd": 0.0}]

            custom: cloudoptim.Report = cloudoptim.analyze(cluster, extra_analyzers=[TeamLabels()])

            class Calm:
                name = "calm"

                def score(self, request: dict[str, Any]) -> dict[str, Any]:
                    return {"risk": request["seed"]["risk"] / 2}

            scores = cloudoptim.score_spot_types("m5.*", scorer=Calm())
            risk: float = scores[0]["risk"]

            class Nowhere:
                def locate(self, request: dict[str, Any]) -> list[dict[str, Any]]:
                    return [{"kind": "blocked", "reason": "computed"}]

            cloudoptim.patch("infra", change, dry_run=True, locators=[Nowhere()])
            cloudoptim.locate("infra", change, locators=[Nowhere()])
            live = cloudoptim.load_cluster(kubeconfig=Path("kc"), context="fake", prometheus="http://p", days=3)
            outcomes = cloudoptim.apply({"steps": []}, yes=False, kubeconfig="kc")
            status: str = outcomes[0]["status"]

            async def run() -> float:
                c = await cloudoptim.load_cluster_async("c.json", aws_live=True, region="us-east-1")
                r = await cloudoptim.analyze_async(c, prometheus="http://p", days=3)
                done = await cloudoptim.apply_async(Path("plan.json"))
                return r.totals["monthly_savings_usd"] + len(done)
            html: str = report._repr_html_() + plan._repr_html_() + patched._repr_html_()
            frame = report.to_pandas()
            nodes = plan.to_pandas("assignments")
            try:
                cloudoptim.score_spot_types(scorer=Calm())
            except cloudoptim.PluginError as e:
                who: str | None = e.plugin
                chain: tuple[str, ...] = e.causes
            except cloudoptim.LiveSourceError as e:
                live_code: str = e.code
            try:
                cloudoptim.load_cluster("x")
            except cloudoptim.ParseError as e:
                where: tuple[str, int, int] = (e.path, e.line, e.column)
            except cloudoptim.InvalidChangeError as e:
                bad_change: ValueError = e
            except cloudoptim.CloudOptimError as e:
                code: str = e.code
            """
        )
    )
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import cloudoptim\nn: str = cloudoptim.cpu_millicores(1)\n"
        "cloudoptim.consolidate('c.json', mode='shrink')\n"
        "cloudoptim.analyze('c.json', extra_analyzers=[object()])\n"
        "cloudoptim.score_spot_types(scorer=object())\n"
    )
    cmd = [sys.executable, "-m", "mypy", "--strict", "--config-file", str(tmp_path / "none.ini")]
    ok = subprocess.run([*cmd, str(usage)], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # the stubs are precise enough to catch mistakes
    wrong = subprocess.run([*cmd, str(bad)], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert wrong.returncode == 1
    assert 'Incompatible types in assignment (expression has type "int"' in wrong.stdout
    assert 'Argument 1 to "cpu_millicores" has incompatible type "int"' in wrong.stdout
    assert 'Argument "mode" to "consolidate" has incompatible type' in wrong.stdout
    assert 'List item 0 has incompatible type "object"' in wrong.stdout
    assert 'Argument "scorer" to "score_spot_types" has incompatible type "object"' in wrong.stdout
