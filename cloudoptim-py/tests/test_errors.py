"""Every failure raises the exception class of its error code, with structured attributes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import cloudoptim
from cloudoptim import (
    AnalyzerError,
    CatalogError,
    CloudOptimError,
    FieldError,
    GitOpsError,
    InputError,
    InvalidChangeError,
    ParseError,
    QuantityError,
    RepositoryError,
    UnknownInstanceTypeError,
    UnrecognizedInputError,
    UnsafePathError,
    VerificationError,
)

BAD_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web-1", "namespace": "shop"},
    "spec": {
        "containers": [
            {"name": "app", "image": "nginx", "resources": {"requests": {"cpu": "lots", "memory": "64Mi"}}}
        ]
    },
    "status": {"phase": "Running"},
}


def test_truncated_json_is_a_parse_error(shared_data: Path, tmp_path: Path) -> None:
    text = (shared_data / "k8s" / "honeycomb-eks-pods.json").read_text(encoding="utf-8")
    cut = tmp_path / "pods.json"
    cut.write_text(text[: len(text) * 2 // 3], encoding="utf-8")
    with pytest.raises(ParseError) as info:
        cloudoptim.load_cluster(cut)
    e = info.value
    assert isinstance(e, InputError) and isinstance(e, CloudOptimError)
    assert e.code == "syntax"
    assert e.path == str(cut)
    assert isinstance(e.line, int) and e.line > 1
    assert isinstance(e.column, int) and e.column >= 0  # 0 at the end of the file
    assert str(e).startswith(f"{cut}: malformed JSON at line {e.line}, column {e.column}")


def test_a_truncated_aws_file_is_a_parse_error_too(shared_data: Path, tmp_path: Path) -> None:
    text = (shared_data / "describe-spot-price-history-m5.large-us-east-1.json").read_text()
    cut = tmp_path / "spot.json"
    cut.write_text(text[: len(text) // 2])
    with pytest.raises(ParseError) as info:
        cloudoptim.load_cluster(shared_data / "k8s" / "honeycomb-eks-nodes.json", aws=[cut])
    assert info.value.path == str(cut)


def test_a_bad_quantity_is_a_field_error(tmp_path: Path) -> None:
    pod = tmp_path / "pod.json"
    pod.write_text(json.dumps(BAD_POD))
    with pytest.raises(FieldError) as info:
        cloudoptim.load_cluster(pod)
    e = info.value
    assert e.code == "field"
    assert e.field == "spec.containers[0].resources.requests.cpu"
    assert e.object == "Pod shop/web-1"
    assert e.path == str(pod)
    assert 'invalid quantity "lots"' in str(e)
    assert isinstance(e, InputError) and not isinstance(e, ParseError)


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(InputError) as info:
        cloudoptim.load_cluster(missing)
    e = info.value
    assert type(e) is InputError
    assert (e.code, e.path) == ("io", str(missing))
    assert str(e).startswith(f"{missing}: ")
    with pytest.raises(InputError):
        cloudoptim.analyze(missing)
    with pytest.raises(InputError):
        cloudoptim.analyze(cloudoptim.demo_cluster(), prices=missing)


def test_unrecognized_and_empty_inputs(shared_data: Path, tmp_path: Path) -> None:
    with pytest.raises(UnrecognizedInputError) as info:
        cloudoptim.load_cluster(shared_data / "describe-instance-types-25.json")
    assert info.value.code == "unrecognized"
    assert info.value.path.endswith("describe-instance-types-25.json")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UnrecognizedInputError) as info:
        cloudoptim.load_cluster(empty)
    assert (info.value.code, info.value.path) == ("empty_input", str(empty))
    # a Kubernetes dump given as AWS input has no AWS documents
    with pytest.raises(UnrecognizedInputError) as info:
        cloudoptim.load_cluster(
            shared_data / "k8s" / "honeycomb-eks-nodes.json",
            aws=shared_data / "k8s" / "honeycomb-eks-pods.json",
        )
    assert info.value.code == "empty_input"


def test_a_symlink_out_of_the_folder_is_refused(shared_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "dump"
    folder.mkdir()
    link = folder / "nodes.json"
    os.symlink(shared_data / "k8s" / "honeycomb-eks-nodes.json", link)
    with pytest.raises(UnsafePathError) as info:
        cloudoptim.load_cluster(folder)
    assert (info.value.code, info.value.path) == ("symlink_outside_tree", str(link))
    assert isinstance(info.value, InputError)


def test_unknown_analyzer(demo: cloudoptim.Cluster) -> None:
    with pytest.raises(AnalyzerError) as info:
        cloudoptim.analyze(demo, analyzers=["zombie-volumes", "nope"])
    e = info.value
    assert (e.code, e.name) == ("unknown_analyzer", "nope")
    for known in cloudoptim.analyzer_names():
        assert known in str(e)


def test_unknown_instance_type() -> None:
    with pytest.raises(UnknownInstanceTypeError) as info:
        cloudoptim.instance_type("m5.huge")
    e = info.value
    assert (e.code, e.name) == ("unknown_instance_type", "m5.huge")
    assert isinstance(e, CatalogError) and isinstance(e, LookupError)
    assert "m5.huge" in str(e)


def test_bad_price_files_are_catalog_errors(demo: cloudoptim.Cluster, tmp_path: Path) -> None:
    bad = tmp_path / "prices.csv"
    bad.write_text("type,price\nm5.large,0.1\n")
    with pytest.raises(CatalogError) as info:
        cloudoptim.analyze(demo, prices=bad)
    assert type(info.value) is CatalogError and info.value.code == "catalog"
    assert "instance_type" in str(info.value)
    with pytest.raises(CatalogError):
        cloudoptim.analyze(demo, spot_advisor=bad)


@pytest.mark.parametrize("fn", [cloudoptim.cpu_millicores, cloudoptim.memory_bytes])
@pytest.mark.parametrize("q", ["lots", "", "1.2.3", "5Gb", "--1"])
def test_bad_quantities(fn: object, q: str) -> None:
    with pytest.raises(QuantityError) as info:
        fn(q)  # type: ignore[operator]
    assert info.value.code == "quantity"
    assert isinstance(info.value, ValueError) and isinstance(info.value, CloudOptimError)


def test_wrong_argument_types_are_type_errors(demo: cloudoptim.Cluster) -> None:
    with pytest.raises(TypeError):
        cloudoptim.load_cluster(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cloudoptim.load_cluster("x.json", aws=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cloudoptim.analyze(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cloudoptim.analyze(demo, analyzers="zombie-volumes")
    with pytest.raises(TypeError):
        cloudoptim.analyze(demo, "us-east-1")  # type: ignore[call-arg]


EXCEPTIONS = [
    CloudOptimError,
    InputError,
    ParseError,
    FieldError,
    UnrecognizedInputError,
    UnsafePathError,
    CatalogError,
    UnknownInstanceTypeError,
    AnalyzerError,
    QuantityError,
    InvalidChangeError,
    RepositoryError,
    VerificationError,
    GitOpsError,
    cloudoptim.PluginError,
    cloudoptim.LiveSourceError,
]


@pytest.mark.parametrize("cls", EXCEPTIONS, ids=lambda c: c.__name__)
def test_exception_hierarchy(cls: type[Exception]) -> None:
    assert issubclass(cls, CloudOptimError) and issubclass(cls, Exception)
    assert cls.__module__ == "cloudoptim"
    assert getattr(cloudoptim, cls.__name__) is cls
    assert cls.__name__ in cloudoptim.__all__
    assert cls.__doc__


def test_every_exported_exception_is_listed() -> None:
    exported = {
        name
        for name in cloudoptim.__all__
        if isinstance(getattr(cloudoptim, name), type) and issubclass(getattr(cloudoptim, name), BaseException)
    }
    # the one exception that is not a CloudOptimError: pandas missing for to_pandas()
    assert exported == {c.__name__ for c in EXCEPTIONS} | {"MissingOptionalDependency"}
    assert issubclass(cloudoptim.MissingOptionalDependency, ImportError)
    assert issubclass(ParseError, InputError) and issubclass(FieldError, InputError)
    assert issubclass(UnrecognizedInputError, InputError) and issubclass(UnsafePathError, InputError)
    assert issubclass(UnknownInstanceTypeError, CatalogError)
    assert not issubclass(AnalyzerError, InputError)
    assert issubclass(InvalidChangeError, ValueError) and issubclass(RepositoryError, NotADirectoryError)
    assert not issubclass(RepositoryError, InputError) and not issubclass(VerificationError, InputError)


def test_the_rust_cause_chain_is_kept(tmp_path: Path) -> None:
    """Each `source()` level of the Rust error is in the message, in `causes`, and chained as
    `__cause__`: here the loader's error and, below it, the operating system's."""
    missing = tmp_path / "dump" / "nodes.json"
    with pytest.raises(cloudoptim.InputError) as e:
        cloudoptim.load_cluster(missing)
    err = e.value
    assert err.code == "io"
    assert err.causes == ("No such file or directory (os error 2)",)
    assert str(missing) in str(err)
    levels = [str(err)]
    cause = err.__cause__
    while cause is not None:
        assert isinstance(cause, cloudoptim.CloudOptimError)
        levels.append(str(cause))
        cause = cause.__cause__
    assert len(levels) == 2
    assert levels[1] == "No such file or directory (os error 2)"
    for level in levels[1:]:
        assert level in levels[0]


def test_a_malformed_file_inside_a_dump_is_named(tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    (dump / "apps").mkdir(parents=True)
    (dump / "apps" / "pods.json").write_text('{"kind": "List", "items": [\n  {"kind": "Pod",\n')
    with pytest.raises(cloudoptim.ParseError) as e:
        cloudoptim.load_cluster(dump)
    assert e.value.path == str(dump / "apps" / "pods.json")
    assert e.value.line == 3
    assert str(dump / "apps" / "pods.json") in str(e.value)
    assert isinstance(e.value.causes, tuple)


def test_a_live_error_keeps_its_chain(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: [\n")
    with pytest.raises(cloudoptim.LiveSourceError) as e:
        cloudoptim.load_cluster(kubeconfig=kubeconfig)
    assert e.value.code == "source_config"
    assert isinstance(e.value.causes, tuple)
    chained = []
    cause = e.value.__cause__
    while cause is not None:
        chained.append(str(cause))
        cause = cause.__cause__
    assert tuple(chained) == e.value.causes
