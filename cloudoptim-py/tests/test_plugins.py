"""Spot risk scorers and IaC locators written in Python, called by the Rust engine like its
built-ins: what they are given, what they may answer, clear errors when they answer garbage,
and swapping them between runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import cloudoptim
from cloudoptim import PluginError

# --- spot risk scorers ----------------------------------------------------------------------------


class ByPrice:
    """Riskier the cheaper the spot price: the opposite of nothing the seed does."""

    name = "by-price"

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def score(self, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(request)
        spot = request["seed"]["spot_hourly"] or 0.0
        return {"risk": round(1.0 / (1.0 + spot), 6), "rate": 0.5, "explanation": f"spot {spot}"}


def test_a_python_scorer_replaces_the_seed() -> None:
    seed = {s["instance_type"]: s for s in cloudoptim.score_spot_types("m5.*")}
    scorer = ByPrice()
    scores = cloudoptim.score_spot_types("m5.*", scorer=scorer)
    assert {s["instance_type"] for s in scores} == set(seed)
    # it was asked once per type, with the seed's own score and the type's history
    assert sorted(r["instance_type"] for r in scorer.requests) == sorted(seed)
    for r in scorer.requests:
        assert r["seed"] == seed[r["instance_type"]]
        assert r["region"] == "us-east-1"
        assert r["history"] == []
    for s in scores:
        spot = seed[s["instance_type"]]["spot_hourly"] or 0.0
        assert s["risk"] == round(1.0 / (1.0 + spot), 6)
        assert s["rate"] == 0.5
        # what it left out comes from the seed
        assert s["volatility"] == seed[s["instance_type"]]["volatility"]
        assert s["explanation"] == f"spot {spot}"
    # the engine orders by the plug-in's risk
    risks = [s["risk"] for s in scores]
    assert risks == sorted(risks)
    assert [s["instance_type"] for s in scores] != [s["instance_type"] for s in cloudoptim.score_spot_types("m5.*")]


def test_the_scorer_sees_the_price_history(shared_data: Path) -> None:
    history = shared_data / "describe-spot-price-history-m5.large-us-east-1.json"
    scorer = ByPrice()
    cloudoptim.score_spot_types("m5.large", prices=history, scorer=scorer)
    [request] = scorer.requests
    assert request["history"], "the m5.large history is given to the scorer"
    assert all(p["instance_type"] == "m5.large" for p in request["history"])
    assert {"zone", "price", "timestamp", "product"} <= set(request["history"][0])


def test_hot_swap_between_runs() -> None:
    class Constant:
        def __init__(self, risk: float) -> None:
            self.risk = risk

        def score(self, request: dict[str, Any]) -> dict[str, Any]:
            return {"risk": self.risk}

    scorer: Any = Constant(0.25)
    first = cloudoptim.score_spot_types("c5.*", scorer=scorer)
    assert {s["risk"] for s in first} == {0.25}
    assert all("Constant" in s["explanation"] for s in first)
    scorer = ByPrice()  # another plug-in object for the next run
    second = cloudoptim.score_spot_types("c5.*", scorer=scorer)
    assert {s["explanation"].split()[0] for s in second} == {"spot"}
    # and back to the built-in one
    assert cloudoptim.score_spot_types("c5.*") == cloudoptim.score_spot_types("c5.*", scorer=None)


@pytest.mark.parametrize(
    ("answer", "field", "words"),
    [
        ({"risk": "high"}, "risk", "`risk` must be a number in [0, 1], got \"high\""),
        ({"risk": 1.5}, "risk", "`risk` must be a number in [0, 1], got 1.5"),
        ({"rate": 0.1}, "risk", "`risk` is missing"),
        ({"risk": 0.1, "colour": "red"}, "colour", "unknown key `colour`"),
        ({"risk": 0.1, "explanation": 3}, "explanation", "`explanation` must be a str"),
        ([0.1], None, "expected a dict with `risk`"),
    ],
)
def test_garbage_from_a_scorer_names_it_and_the_field(answer: Any, field: str | None, words: str) -> None:
    class Garbage:
        name = "garbage"

        def score(self, request: dict[str, Any]) -> Any:
            return answer

    with pytest.raises(PluginError) as e:
        cloudoptim.score_spot_types("m5.large", scorer=Garbage())
    assert e.value.plugin == "garbage"
    assert e.value.field == field
    assert e.value.code == "plugin"
    assert "spot scorer `garbage`" in str(e.value)
    assert "m5.large" in str(e.value)
    assert words in str(e.value)


def test_a_scorer_that_raises_is_the_cause() -> None:
    class Broken:
        name = "broken"

        def score(self, request: dict[str, Any]) -> dict[str, Any]:
            return {"risk": 1 / 0}

    with pytest.raises(PluginError) as e:
        cloudoptim.score_spot_types("m5.*", scorer=Broken())
    assert isinstance(e.value.__cause__, ZeroDivisionError)
    assert e.value.plugin == "broken"
    assert e.value.field is None
    assert "ZeroDivisionError" in str(e.value)
    assert "return {\"risk\": 1 / 0}" in str(e.value)


def test_an_object_without_score_is_refused() -> None:
    with pytest.raises(TypeError, match=r"scorer \(object\) needs a method `score"):
        cloudoptim.score_spot_types(scorer=object())  # type: ignore[arg-type]


# --- IaC locators ---------------------------------------------------------------------------------

CHANGE = {
    "target": {"kind": "Deployment", "cluster": "prod", "namespace": "shop", "name": "checkout", "container": "app"},
    "set": {"requests.cpu": "300m"},
}

SIZING = """\
# sizes of the shop services, read by our own deploy tool
services:
  checkout:
    cpu: "1"
    memory: 2Gi
  cart:
    cpu: 500m
"""

TFVARS = 'checkout_cpu = "1"\ncart_cpu    = "500m"\n'


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "infra"
    (root / "sizing").mkdir(parents=True)
    (root / "sizing" / "services.yaml").write_text(SIZING)
    (root / "sizing" / "shop.tfvars").write_text(TFVARS)
    return root


class SizingFile:
    """Our deploy tool's file: `services.<name>.cpu` sets the CPU request of that Deployment."""

    name = "sizing-file"

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def locate(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        self.requests.append(request)
        target = request["change"]["target"]
        if "requests.cpu" not in request["change"]["set"]:
            return []
        return [
            {
                "kind": "resolved",
                "summary": f"services.{target['name']}.cpu in sizing/services.yaml",
                "sites": [
                    {
                        "file": "sizing/services.yaml",
                        "key": "requests.cpu",
                        "path": ["services", target["name"], "cpu"],
                        "explanation": "our deploy tool reads the CPU request here",
                    }
                ],
            }
        ]


class TfvarsFile:
    """The same setting as a Terraform variable: the byte span of its value."""

    name = "tfvars-file"

    def locate(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        [f] = [f for f in request["files"] if f["file"] == "sizing/shop.tfvars"]
        assert f["kind"] == "tfvars"
        text: str = f["text"]
        line_start = text.index("checkout_cpu")
        start = text.index('"', line_start)
        end = text.index('"', start + 1) + 1
        span = [len(text[:start].encode()), len(text[:end].encode())]
        return [
            {
                "kind": "resolved",
                "summary": "checkout_cpu in sizing/shop.tfvars",
                "sites": [{"file": f["file"], "key": "requests.cpu", "span": span, "explanation": "the variable"}],
            }
        ]


def test_a_python_locator_resolves_and_patches(repo: Path) -> None:
    assert cloudoptim.locate(repo, CHANGE).outcome == "not_found"  # the built-ins know nothing
    locator = SizingFile()
    report = cloudoptim.patch(repo, CHANGE, locators=[locator])
    assert report.outcome == "patched"
    assert report.written
    assert report.files == ["sizing/services.yaml"]
    assert (repo / "sizing" / "services.yaml").read_text() == SIZING.replace('cpu: "1"', 'cpu: "300m"')
    assert report.changes[0]["explanations"] == ["our deploy tool reads the CPU request here"]
    # what it was given: the change and every file with its text (after the edit, the edited one)
    first = locator.requests[0]
    assert first["change"] == cloudoptim.Change(**CHANGE).to_dict()
    assert first["root"] == str(repo)
    files = {f["file"]: f for f in first["files"]}
    assert files["sizing/services.yaml"] == {"file": "sizing/services.yaml", "kind": "yaml", "text": SIZING}
    assert any('cpu: "300m"' in f["text"] for r in locator.requests for f in r["files"])


def test_a_python_locator_in_hcl(repo: Path) -> None:
    report = cloudoptim.patch(repo, CHANGE, dry_run=True, locators=[TfvarsFile()])
    assert report.outcome == "patched"
    assert not report.written
    assert '-checkout_cpu = "1"' in report.diff
    assert '+checkout_cpu = "300m"' in report.diff
    assert (repo / "sizing" / "shop.tfvars").read_text() == TFVARS


def test_candidates_and_blocked_findings(repo: Path) -> None:
    class Unsure:
        def locate(self, request: dict[str, Any]) -> list[dict[str, Any]]:
            return [{"kind": "candidate", "file": "sizing/services.yaml", "line": 4, "reason": "maybe this one"}]

    report = cloudoptim.locate(repo, CHANGE, locators=[Unsure()])
    assert report.outcome != "patched"
    assert {"file": "sizing/services.yaml", "line": 4, "reason": "maybe this one"} in report.candidates

    class Computed:
        def locate(self, request: dict[str, Any]) -> list[dict[str, Any]]:
            return [{"kind": "blocked", "reason": "computed by the deploy tool at run time"}]

    blocked = cloudoptim.patch(repo, CHANGE, locators=[Computed()])
    assert blocked.outcome != "patched"
    assert not blocked.written


def test_hot_swap_of_a_locator_between_runs(repo: Path) -> None:
    locators: list[Any] = [SizingFile()]
    first = cloudoptim.patch(repo, CHANGE, dry_run=True, locators=locators)
    assert first.files == ["sizing/services.yaml"]
    locators = [TfvarsFile()]  # swapped for the next run
    second = cloudoptim.patch(repo, CHANGE, dry_run=True, locators=locators)
    assert second.files == ["sizing/shop.tfvars"]
    # both at once: two places set the value, so both files change
    both = cloudoptim.patch(repo, CHANGE, dry_run=True, locators=[SizingFile(), TfvarsFile()])
    assert both.outcome in {"patched", "ambiguous"}


@pytest.mark.parametrize(
    ("finding", "field", "words"),
    [
        ({"kind": "maybe"}, "[0].kind", "expected `resolved`, `candidate` or `blocked`"),
        ({"kind": "candidate", "file": "nope.yaml", "line": 1, "reason": "r"}, "[0].file", "not a file of the repository"),
        ({"kind": "candidate", "file": "sizing/services.yaml", "line": 0, "reason": "r"}, "[0].line", "1-based"),
        ({"kind": "blocked"}, "[0].reason", "must be a str"),
        (
            {"kind": "resolved", "summary": "s", "sites": [{"file": "sizing/services.yaml", "key": "requests.cpu", "path": ["services", "nobody", "cpu"], "explanation": "e"}]},
            "[0].sites[0].path",
            "does not lead to a node",
        ),
        (
            {"kind": "resolved", "summary": "s", "sites": [{"file": "sizing/services.yaml", "key": "replicas", "path": ["services"], "explanation": "e"}]},
            "[0].sites[0].key",
            "the change does not set \"replicas\"",
        ),
        (
            {"kind": "resolved", "summary": "s", "sites": [{"file": "sizing/shop.tfvars", "key": "requests.cpu", "span": [5, 500], "explanation": "e"}]},
            "[0].sites[0].span",
            "byte offsets",
        ),
    ],
)
def test_garbage_from_a_locator_names_it_and_the_field(repo: Path, finding: dict[str, Any], field: str, words: str) -> None:
    class Garbage:
        name = "garbage"

        def locate(self, request: dict[str, Any]) -> list[dict[str, Any]]:
            return [finding]

    before = {p: p.read_text() for p in repo.rglob("*") if p.is_file()}
    with pytest.raises(PluginError) as e:
        cloudoptim.patch(repo, CHANGE, locators=[SizingFile(), Garbage()])
    assert e.value.plugin == "garbage"
    assert e.value.field == field
    assert "IaC locator `garbage`" in str(e.value)
    assert words in str(e.value)
    # nothing was written, though the other locator resolved the change
    assert {p: p.read_text() for p in repo.rglob("*") if p.is_file()} == before


def test_a_locator_that_raises_is_the_cause(repo: Path) -> None:
    class Broken:
        def locate(self, request: dict[str, Any]) -> list[dict[str, Any]]:
            raise KeyError("services")

    with pytest.raises(PluginError) as e:
        cloudoptim.locate(repo, CHANGE, locators=[Broken()])
    assert isinstance(e.value.__cause__, KeyError)
    assert e.value.plugin == "Broken"
    assert "KeyError: 'services'" in str(e.value)


def test_a_locator_answering_no_list(repo: Path) -> None:
    class NotAList:
        def locate(self, request: dict[str, Any]) -> Any:
            return {"kind": "blocked", "reason": "r"}

    with pytest.raises(PluginError, match="expected a list of findings") as e:
        cloudoptim.locate(repo, CHANGE, locators=[NotAList()])
    assert e.value.field is None


def test_an_object_without_locate_is_refused(repo: Path) -> None:
    with pytest.raises(TypeError, match=r"locators\[0\] \(int\) needs a method `locate"):
        cloudoptim.locate(repo, CHANGE, locators=[3])  # type: ignore[list-item]


def test_locators_on_the_example_repository(tmp_path: Path) -> None:
    """Built-ins still decide what they know: a locator that finds nothing changes nothing."""
    example = Path(__file__).resolve().parents[2] / "examples" / "gitops-repo"
    repo = tmp_path / "gitops"
    shutil.copytree(example, repo)
    change = {
        "target": {"kind": "NodeGroup", "cluster": "acme-prod-use1", "name": "general"},
        "set": {"min_size": 2},
    }

    class Nothing:
        def locate(self, request: dict[str, Any]) -> list[dict[str, Any]]:
            return []

    plain = cloudoptim.locate(repo, json.dumps(change))
    with_plugin = cloudoptim.locate(repo, json.dumps(change), locators=[Nothing()])
    assert plain == with_plugin
