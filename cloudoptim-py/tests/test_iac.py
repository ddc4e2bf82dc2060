"""The IaC engine through the binding: every case of the shared corpus, patched in a copy, plus
dry runs, bad changes and bad repositories."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

import cloudoptim
from cloudoptim import (
    Change,
    CloudOptimError,
    InputError,
    InvalidChangeError,
    PatchReport,
    RepositoryError,
    VerificationError,
)

# Collected at import time (the cases parametrize the tests), with the same rule as the
# `shared_data` fixture: $CLOUDOPTIM_SHARED_DATA, else ../shared/data beside the repository.
_DATA = os.environ.get("CLOUDOPTIM_SHARED_DATA")
SHARED_DATA = Path(_DATA) if _DATA else Path(__file__).resolve().parents[2].parent / "shared" / "data"
CORPUS = SHARED_DATA.parent / "iac-corpus" / "cases"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "case.json").is_file()) if CORPUS.is_dir() else []

REPORT_KEYS = {"outcome", "files", "candidates", "warnings", "diff", "changes", "explanation", "written"}

NODE_GROUP = {"kind": "NodeGroup", "cluster": "prod-eks", "name": "main-app"}


def copy_repo(src: Path, dst: Path) -> Path:
    """Copies a case's read-only repository and makes the copy writable."""
    shutil.copytree(src, dst, symlinks=True)
    for root, dirs, files in os.walk(dst):
        for name in dirs + files:
            p = os.path.join(root, name)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode | stat.S_IWUSR)
    os.chmod(dst, os.stat(dst).st_mode | stat.S_IWUSR)
    return dst


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` (hidden ones too) by relative path with `/`."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() or p.is_symlink():
            out[p.relative_to(root).as_posix()] = os.readlink(p).encode() if p.is_symlink() else p.read_bytes()
    return out


def is_subsequence(needles: list[str], haystack: list[str]) -> bool:
    it = iter(haystack)
    return all(any(n == h for h in it) for n in needles)


def case_files(name: str) -> tuple[Path, dict[str, Any], str]:
    case_dir = CORPUS / name
    text = (case_dir / "case.json").read_text(encoding="utf-8")
    return case_dir, json.loads(text), text


def test_the_corpus_is_there() -> None:
    assert CORPUS.is_dir(), f"IaC corpus not found at {CORPUS} (set CLOUDOPTIM_SHARED_DATA)"
    assert len(CASES) >= 10, CASES
    outcomes = {json.loads((CORPUS / c / "case.json").read_text())["expect"]["outcome"] for c in CASES}
    assert outcomes == {"patched", "ambiguous", "not_found"}


@pytest.mark.parametrize("name", CASES)
def test_corpus_case(name: str, tmp_path: Path) -> None:
    case_dir, case, text = case_files(name)
    expect = case["expect"]
    repo = copy_repo(case_dir / "repo", tmp_path / "repo")
    before = snapshot(repo)
    assert before == snapshot(case_dir / "repo")

    # locate first, with the case as a dict and as a Change: same answer, nothing written
    located = cloudoptim.locate(repo, case)
    assert cloudoptim.locate(repo, Change(**case["change"])) == located
    assert located.written is False
    assert snapshot(repo) == before, "locate() changed files"

    report = cloudoptim.patch(repo, text)
    assert isinstance(report, PatchReport)
    assert report.outcome == expect["outcome"], report.explanation
    assert set(report.to_dict()) == REPORT_KEYS
    assert report.explanation
    expected_report = located.to_dict() | {"written": report.outcome == "patched"}
    assert report.to_dict() == expected_report, "patch() and locate() disagree"
    after = snapshot(repo)

    if expect["outcome"] == "patched":
        expected = snapshot(case_dir / "expected")
        assert expected, "a patched case has expected files"
        assert report.written is True
        assert sorted(report.files) == sorted(expected)
        assert [c["file"] for c in report.changes] == report.files
        for rel in expected:
            assert f"--- a/{rel}\n+++ b/{rel}\n" in report.diff
        assert set(after) == set(before), "files were added or removed"
        for rel, old in before.items():
            if rel not in expected:
                assert after[rel] == old, f"{rel} changed but is not expected to"
        for rel, want in expected.items():
            if expect.get("compare", "exact") == "exact":
                assert after[rel] == want, f"{rel} differs from expected/{rel}"
            else:
                assert expect["compare"] == "yaml-semantic"
                orig = before[rel].decode().splitlines()
                new = after[rel].decode().splitlines()
                added = [line for line in want.decode().splitlines() if line not in orig]
                assert added, f"expected/{rel} adds nothing"
                assert is_subsequence(orig, new), f"{rel} lost or reordered original lines"
                assert is_subsequence(added, new), f"{rel} lacks the expected added lines {added}"
                assert after[rel] != before[rel]
    else:
        assert after == before, f"outcome {report.outcome} but files changed"
        assert (report.files, report.changes, report.diff, report.written) == ([], [], "", False)
        if expect["outcome"] == "ambiguous":
            found = {c["file"] for c in report.candidates}
            assert len(report.candidates) >= 2
            for f in expect.get("candidates", []):
                assert f in found, f"candidate {f} not reported: {sorted(found)}"


def test_dry_run_leaves_files_alone_but_returns_the_diff(tmp_path: Path) -> None:
    case_dir, case, text = case_files("tf-raw-nodegroup")
    repo = copy_repo(case_dir / "repo", tmp_path / "repo")
    before = snapshot(repo)
    dry = cloudoptim.patch(repo, case["change"], dry_run=True)
    assert dry.outcome == "patched" and dry.written is False
    assert dry.files == ["nodegroups.tf"]
    assert dry.diff.startswith("--- a/nodegroups.tf\n+++ b/nodegroups.tf\n"), dry.diff
    assert any(line.startswith("+") and "t4g.large" in line for line in dry.diff.splitlines()), dry.diff
    assert snapshot(repo) == before
    real = cloudoptim.patch(repo, case["change"])
    assert real.written is True and real.diff == dry.diff
    assert snapshot(repo)["nodegroups.tf"] == (case_dir / "expected" / "nodegroups.tf").read_bytes()
    # patched again: the value is already there, nothing differs
    again = cloudoptim.patch(repo, case["change"])
    assert (again.outcome, again.diff) == ("patched", "")
    assert snapshot(repo)["nodegroups.tf"] == (case_dir / "expected" / "nodegroups.tf").read_bytes()


def test_a_bad_change_is_refused_before_anything_is_touched(tmp_path: Path) -> None:
    case_dir, case, _ = case_files("tf-raw-nodegroup")
    repo = copy_repo(case_dir / "repo", tmp_path / "repo")
    before = snapshot(repo)
    bad = {"target": NODE_GROUP, "set": {"instance_typez": ["m5.large"]}}
    for change in (bad, json.dumps(bad), {"description": "x", "change": bad}):
        for call in (lambda c: cloudoptim.patch(repo, c), lambda c: cloudoptim.locate(repo, c)):
            with pytest.raises(InvalidChangeError) as info:
                call(change)
            e = info.value
            assert e.code == "invalid_change"
            assert isinstance(e, ValueError) and isinstance(e, CloudOptimError)
            assert "instance_typez" in str(e) and "unknown key" in str(e)
    # even when the repository does not exist: the change is checked first
    with pytest.raises(InvalidChangeError):
        cloudoptim.patch(tmp_path / "missing", bad)
    with pytest.raises(InvalidChangeError, match="not JSON"):
        cloudoptim.patch(repo, "{not json")
    assert snapshot(repo) == before


@pytest.mark.parametrize(
    ("target", "values", "needle"),
    [
        (NODE_GROUP, {"instance_typez": ["m5.large"]}, "unknown key `set.instance_typez`"),
        (NODE_GROUP, {"instance_types": "m5.large"}, "list of instance type names"),
        (NODE_GROUP, {"instance_types": ["m5.huge"]}, 'unknown instance type "m5.huge"'),
        (NODE_GROUP, {"capacity_type": "spot"}, "SPOT"),
        (NODE_GROUP, {"min_size": -1}, "non-negative"),
        (NODE_GROUP, {"min_size": True}, "non-negative"),
        (NODE_GROUP, {"min_size": 5, "max_size": 2}, "greater than"),
        (NODE_GROUP, {}, "empty"),
        ({**NODE_GROUP, "extra": 1}, {"min_size": 1}, "extra"),
        ({**NODE_GROUP, "kind": "Pod"}, {"min_size": 1}, "target.kind"),
        ({"kind": "Deployment", "cluster": "c", "name": "n"}, {"requests.cpu": 500}, "quantity string"),
        ({"kind": "Deployment", "cluster": "c", "name": "n"}, {"requests.cpu": "lots"}, "requests.cpu"),
        ({"kind": "Deployment", "cluster": "c", "name": "n"}, {"instance_types": ["m5.large"]}, "does not apply"),
        (NODE_GROUP, {"min_size": float("nan")}, "set.min_size"),
        (NODE_GROUP, {"min_size": 2**70}, "out of range"),
        (NODE_GROUP, {"instance_types": {"m5.large"}}, "`set.instance_types`: a set is not JSON data"),
        (NODE_GROUP, {"instance_types": [b"m5.large"]}, "`set.instance_types[0]`: a bytes is not JSON data"),
    ],
)
def test_change_is_validated_at_construction(target: dict[str, Any], values: dict[str, Any], needle: str) -> None:
    with pytest.raises(InvalidChangeError) as info:
        Change(target, values)
    assert info.value.code == "invalid_change"
    assert needle in str(info.value), str(info.value)


def test_change_arguments_must_be_dicts() -> None:
    with pytest.raises(TypeError):
        Change([("kind", "NodeGroup")], {"min_size": 1})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Change(NODE_GROUP)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        cloudoptim.patch(".", 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cloudoptim.locate(".", ["not", "a", "change"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cloudoptim.patch(".", {"target": NODE_GROUP, "set": {"min_size": 1}}, True)  # type: ignore[misc]


def test_change_properties_and_round_trips() -> None:
    c = Change(
        target={"kind": "Deployment", "cluster": "prod-eks", "namespace": "shop", "name": "checkout"},
        set={"requests.memory": "1Gi", "requests.cpu": "500m", "replicas": 3},
    )
    assert c.target == {"kind": "Deployment", "cluster": "prod-eks", "namespace": "shop", "name": "checkout"}
    assert c.set == {"requests.cpu": "500m", "requests.memory": "1Gi", "replicas": 3}
    assert c.to_dict() == {"target": c.target, "set": c.set}
    assert json.loads(c.to_json()) == c.to_dict()
    assert Change.from_json(c.to_json()) == c
    assert Change(**c.to_dict()) == c
    assert Change.from_json(json.dumps({"description": "a case", "change": c.to_dict()})) == c
    assert pickle.loads(pickle.dumps(c)) == c
    assert c != Change(c.target, {"replicas": 4})
    assert repr(c) == f"Change(target={c.target!r}, set={c.set!r})"
    with pytest.raises(AttributeError):
        c.target = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        hash(c)
    with pytest.raises(InvalidChangeError):
        Change.from_json('{"target": {}, "set": {}}')
    # tuples are lists
    assert Change(NODE_GROUP, {"instance_types": ("m5.large", "m5a.large")}).set == {
        "instance_types": ["m5.large", "m5a.large"]
    }


def test_patch_report_shape_and_round_trips(tmp_path: Path, cli: str) -> None:
    case_dir, case, _ = case_files("helm-env-override")
    repo = copy_repo(case_dir / "repo", tmp_path / "repo")
    report = cloudoptim.locate(repo, Change(**case["change"]))
    d = report.to_dict()
    assert set(d) == REPORT_KEYS
    assert d["outcome"] == report.outcome == "patched"
    assert (d["files"], d["candidates"], d["warnings"]) == (report.files, report.candidates, report.warnings)
    assert (d["diff"], d["changes"], d["explanation"], d["written"]) == (
        report.diff,
        report.changes,
        report.explanation,
        report.written,
    )
    ch = report.changes[0]
    assert set(ch) == {"file", "lines", "explanations"}
    assert all(isinstance(r, list) and len(r) == 2 and r[0] <= r[1] for r in ch["lines"])
    assert json.loads(report.to_json()) == d
    assert pickle.loads(pickle.dumps(report)) == report
    assert repr(report) == f"PatchReport(outcome='patched', files={report.files!r}, candidates=0, written=False)"
    with pytest.raises(AttributeError):
        report.outcome = "x"  # type: ignore[misc]
    # the command line prints the same JSON
    change_file = tmp_path / "change.json"
    change_file.write_text(json.dumps(case))
    p = subprocess.run(
        [cli, "locate", "--repo", str(repo), "--change", str(change_file), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout == report.to_json() + "\n"


def test_ambiguous_candidates_are_dicts(tmp_path: Path) -> None:
    case_dir, case, _ = case_files("ambiguous-two-clusters")
    report = cloudoptim.locate(copy_repo(case_dir / "repo", tmp_path / "repo"), case)
    assert report.outcome == "ambiguous"
    for c in report.candidates:
        assert set(c) == {"file", "line", "reason"}
        assert isinstance(c["line"], int) and c["line"] >= 1 and c["reason"]


def test_locate_on_a_file_is_a_repository_error(tmp_path: Path) -> None:
    f = tmp_path / "main.tf"
    f.write_text("# not a folder\n")
    change = {"target": NODE_GROUP, "set": {"min_size": 1}}
    for call in (cloudoptim.locate, cloudoptim.patch):
        with pytest.raises(RepositoryError) as info:
            call(f, change)
        e = info.value
        assert e.code == "not_a_directory"
        assert isinstance(e, CloudOptimError) and isinstance(e, NotADirectoryError)
        assert str(f) in str(e)
    assert f.read_text() == "# not a folder\n"
    with pytest.raises(InputError) as missing:
        cloudoptim.locate(tmp_path / "missing", change)
    assert missing.value.code == "io"


def test_exception_classes() -> None:
    assert issubclass(InvalidChangeError, CloudOptimError) and issubclass(InvalidChangeError, ValueError)
    assert issubclass(RepositoryError, CloudOptimError) and issubclass(RepositoryError, NotADirectoryError)
    assert issubclass(VerificationError, CloudOptimError)
    assert not issubclass(VerificationError, InputError)
    for cls in (InvalidChangeError, RepositoryError, VerificationError):
        assert cls.__module__ == "cloudoptim" and cls.__doc__


def test_patch_accepts_path_like_and_str_repos(tmp_path: Path) -> None:
    case_dir, case, text = case_files("eksctl-config")
    repo = copy_repo(case_dir / "repo", tmp_path / "repo")
    assert cloudoptim.locate(str(repo), text) == cloudoptim.locate(repo, Change.from_json(text))
