"""The asyncio variants: the same results as the synchronous calls, and two calls really run at
the same time (each waits inside an analyzer for the other; they could not both get there if
one call held the GIL or ran after the other)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

import cloudoptim

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DATA = REPO_ROOT / "examples" / "notebooks" / "data"


class Meet:
    """An analyzer that waits until `parties` analyses are inside it at once."""

    def __init__(self, barrier: threading.Barrier, name: str) -> None:
        self.barrier = barrier
        self.name = name

    def analyze(self, context: dict[str, Any]) -> list[dict[str, Any]]:
        # a BrokenBarrierError after the timeout fails the analysis: never a hang
        self.barrier.wait()
        return []


def test_two_analyses_overlap(demo: cloudoptim.Cluster) -> None:
    barrier = threading.Barrier(2, timeout=120)

    async def both() -> list[cloudoptim.Report]:
        return list(
            await asyncio.gather(
                cloudoptim.analyze_async(demo, extra_analyzers=[Meet(barrier, "meet-a")]),
                cloudoptim.analyze_async(demo, extra_analyzers=[Meet(barrier, "meet-b")]),
            )
        )

    a, b = asyncio.run(both())
    assert "meet-a" in a.analyzers and "meet-b" in b.analyzers
    assert not barrier.broken
    assert [r.id for r in a.recommendations] == [r.id for r in b.recommendations]


def test_the_event_loop_runs_while_a_call_works(demo: cloudoptim.Cluster) -> None:
    """A coroutine on the loop gets to run while the analysis waits for it."""
    started = threading.Event()
    ticked = threading.Event()

    class WaitForTick:
        name = "wait-for-tick"

        def analyze(self, context: dict[str, Any]) -> list[dict[str, Any]]:
            started.set()
            assert ticked.wait(timeout=120), "the event loop did not run meanwhile"
            return []

    async def main() -> cloudoptim.Report:
        task = asyncio.create_task(cloudoptim.analyze_async(demo, extra_analyzers=[WaitForTick()]))
        while not started.is_set():
            await asyncio.sleep(0.01)
        ticked.set()  # only possible if the loop runs while the analysis is in progress
        return await task

    report = asyncio.run(main())
    assert "wait-for-tick" in report.analyzers


def test_async_variants_equal_the_synchronous_calls(demo: cloudoptim.Cluster, tmp_path: Path) -> None:
    cluster_file = NOTEBOOK_DATA / "shop-cluster.json"
    usage = [NOTEBOOK_DATA / "checkout-cpu.json", NOTEBOOK_DATA / "checkout-memory.json"]
    plan = {"steps": [{"action": "cordon", "node": "ip-10-0-1-17.ec2.internal", "why": "test"}]}

    async def main() -> tuple[Any, ...]:
        return tuple(
            await asyncio.gather(
                cloudoptim.load_cluster_async(cluster_file, usage=usage),
                cloudoptim.analyze_async(cluster_file),
                cloudoptim.consolidate_async(demo, mode="remove"),
                cloudoptim.apply_async(plan),
                cloudoptim.propose_async(demo, REPO_ROOT / "examples" / "gitops-repo", dry_run=True),
            )
        )

    loaded, report, consolidation, applied, proposed = asyncio.run(main())
    assert loaded == cloudoptim.load_cluster(cluster_file, usage=usage)
    assert report == cloudoptim.analyze(cluster_file)
    assert consolidation == cloudoptim.consolidate(demo, mode="remove")
    assert applied == cloudoptim.apply(plan)
    assert proposed == cloudoptim.propose(demo, REPO_ROOT / "examples" / "gitops-repo", dry_run=True)
    assert cloudoptim.analyze_async.__name__ == "analyze_async"
    assert "analyze()" in (cloudoptim.analyze_async.__doc__ or "")


def test_async_errors_are_the_same_exceptions(tmp_path: Path) -> None:
    with pytest.raises(cloudoptim.InputError) as e:
        asyncio.run(cloudoptim.load_cluster_async(tmp_path / "missing.json"))
    assert e.value.code == "io"
