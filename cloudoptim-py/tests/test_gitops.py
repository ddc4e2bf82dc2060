"""propose(): pull requests from recommendations, through the binding."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import cloudoptim
from cloudoptim import CloudOptimError, GitOpsError



REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "examples" / "gitops-repo"
TOKEN = "ghp_PYTHONtestTOKEN0123456789SECRET"


def test_dry_run_prints_pull_requests_and_touches_nothing(demo: cloudoptim.Cluster) -> None:
    before = (EXAMPLE / "apps/shop/checkout.yaml").read_text()
    seen: list[dict[str, Any]] = []
    result = cloudoptim.propose(demo, EXAMPLE, dry_run=True, progress=seen.append)
    assert result["dry_run"] is True
    assert seen == result["items"]
    items = {i.get("branch"): i for i in result["items"] if i["status"] == "dry_run"}
    checkout = items["cloudoptim/workload-rightsizing/shop-checkout-app"]
    assert checkout["title"].startswith("Right-size shop/checkout (app): cpu 2 → ")
    assert "<!-- cloudoptim:rec=co-" in checkout["body"]
    assert checkout["diff"].startswith("--- a/apps/shop/checkout.yaml")
    assert checkout["files"] == ["apps/shop/checkout.yaml"]
    assert "cloudoptim/node-rightsizing/general" in items
    assert any(i["status"] == "not_found" for i in result["items"])
    assert (EXAMPLE / "apps/shop/checkout.yaml").read_text() == before


def test_group_by_namespace(demo: cloudoptim.Cluster) -> None:
    result = cloudoptim.propose(
        demo, str(EXAMPLE), dry_run=True, group="namespace", include_namespaces=["shop"]
    )
    grouped = [i for i in result["items"] if i.get("branch") == "cloudoptim/namespace/shop"]
    assert len(grouped) == 1
    assert len(grouped[0]["recommendation_ids"]) == 4
    assert grouped[0]["title"].startswith("Right-size namespace shop: 4 changes (−$")


def test_bad_options_raise_gitops_error(demo: cloudoptim.Cluster, tmp_path: Path) -> None:
    with pytest.raises(GitOpsError) as e:
        cloudoptim.propose(demo, EXAMPLE, dry_run=True, group="team")
    assert e.value.code == "gitops_config"
    assert isinstance(e.value, CloudOptimError)
    with pytest.raises(GitOpsError) as e:
        cloudoptim.propose(demo, f"file://{tmp_path}/nothing.git", token=TOKEN)
    assert e.value.code == "gitops_config"
    assert "--github-repo" in str(e.value)


class _Refuse(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = json.dumps(
            {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}
        ).encode()
        self.send_response(401)
        self.send_header("content-type", "application/json; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer
    do_PATCH = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture()
def refusing_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuse)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command to make a bare repository")
def test_a_bad_token_is_a_clear_error_and_nothing_is_pushed(
    demo: cloudoptim.Cluster, tmp_path: Path, refusing_api: str
) -> None:
    bare = tmp_path / "gitops.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    seed = tmp_path / "seed"
    shutil.copytree(EXAMPLE, seed)
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@x", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    for cmd in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "init"],
                ["push", "-q", str(bare), "main"]):
        subprocess.run(["git", *cmd], cwd=seed, check=True, env=env)
    calls: list[dict[str, Any]] = []
    with pytest.raises(GitOpsError) as e:
        cloudoptim.propose(demo, f"file://{bare}", github_repo="acme/gitops", api_url=refusing_api,
                           token=TOKEN, progress=calls.append)
    assert e.value.code == "auth"
    assert "401" in str(e.value) and "Bad credentials" in str(e.value)
    assert TOKEN not in str(e.value) and TOKEN not in repr(e.value)
    assert calls == []
    heads = subprocess.run(["git", "for-each-ref", "--format=%(refname)"], cwd=bare,
                           capture_output=True, text=True, check=True).stdout.split()
    assert heads == ["refs/heads/main"]


def test_the_cli_dry_run(cli: str) -> None:
    out = subprocess.run(
        [cli, "propose", "--demo", "--repo", str(EXAMPLE), "--dry-run", "--format", "json"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert json.loads(out)["dry_run"] is True
