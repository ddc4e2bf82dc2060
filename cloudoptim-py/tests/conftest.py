"""Shared fixtures. The tests exercise the *installed* wheel: they must never import the
package from ``cloudoptim-py/python`` (pytest runs with ``--import-mode=importlib``)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import cloudoptim

TESTS = Path(__file__).resolve().parent
PACKAGE_ROOT = TESTS.parent  # cloudoptim-py
REPO_ROOT = PACKAGE_ROOT.parent


def pytest_configure(config: pytest.Config) -> None:
    source = (PACKAGE_ROOT / "python").resolve()
    imported = Path(cloudoptim.__file__).resolve()
    if imported.is_relative_to(source):
        raise pytest.UsageError(
            f"cloudoptim was imported from the source tree ({imported}); install the wheel and "
            "run pytest with --import-mode=importlib"
        )


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The public test data folder: $CLOUDOPTIM_SHARED_DATA, else ../shared/data beside the
    repository. Fails (rather than skips) when it is missing, so a run without the data cannot
    silently test nothing."""
    env = os.environ.get("CLOUDOPTIM_SHARED_DATA")
    path = Path(env) if env else REPO_ROOT.parent / "shared" / "data"
    if not (path / "PROVENANCE.md").is_file():
        pytest.fail(f"public test data not found at {path} (set CLOUDOPTIM_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def demo() -> cloudoptim.Cluster:
    return cloudoptim.demo_cluster()


@pytest.fixture(scope="session")
def demo_report(demo: cloudoptim.Cluster) -> cloudoptim.Report:
    return cloudoptim.analyze(demo)


@pytest.fixture(scope="session")
def cli() -> str:
    """The installed ``cloudoptim`` console script (beside the interpreter running the tests)."""
    found = shutil.which("cloudoptim", path=os.path.dirname(sys.executable))
    if found is None:
        pytest.fail(f"the cloudoptim script is not installed beside {sys.executable}")
    return found


@pytest.fixture
def no_warnings() -> Iterator[None]:
    """Turns warnings into errors for the test (to prove a load is clean)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield
