"""cloudoptim: find and fix Kubernetes waste on AWS EKS.

Load a cluster snapshot from the files you already have (``kubectl get … -o json`` dumps, AWS
CLI JSON, Prometheus exports), analyze it, and read the recommendations::

    import cloudoptim

    report = cloudoptim.analyze(cloudoptim.load_cluster("cluster.json", aws="aws/"))
    print(report.to_table())
    for rec in report.recommendations:
        print(rec.monthly_savings_usd, rec.title)

Change an infrastructure repository (Terraform, Helm, Kustomize, eksctl, Karpenter) where the
value lives, and only there::

    change = cloudoptim.Change(
        target={"kind": "NodeGroup", "cluster": "prod-eks", "name": "main-app"},
        set={"instance_types": ["m6i.large"]},
    )
    report = cloudoptim.patch("infra/", change, dry_run=True)
    print(report.outcome, report.diff)

All the work is done by the Rust core (``cloudoptim-core``); this package is a thin binding.
"""

from ._native import (
    AnalyzerError,
    CatalogError,
    Change,
    CloudOptimError,
    Cluster,
    FieldError,
    InputError,
    InvalidChangeError,
    ParseError,
    PatchReport,
    QuantityError,
    Recommendation,
    Report,
    RepositoryError,
    UnknownInstanceTypeError,
    UnrecognizedInputError,
    UnsafePathError,
    VerificationError,
    __version__,
    analyze,
    analyzer_names,
    cpu_millicores,
    demo_cluster,
    instance_type,
    load_cluster,
    locate,
    memory_bytes,
    patch,
    report_schema,
)

__all__ = [
    "AnalyzerError",
    "CatalogError",
    "Change",
    "CloudOptimError",
    "Cluster",
    "FieldError",
    "InputError",
    "InvalidChangeError",
    "ParseError",
    "PatchReport",
    "QuantityError",
    "Recommendation",
    "Report",
    "RepositoryError",
    "UnknownInstanceTypeError",
    "UnrecognizedInputError",
    "UnsafePathError",
    "VerificationError",
    "__version__",
    "analyze",
    "analyzer_names",
    "cpu_millicores",
    "demo_cluster",
    "instance_type",
    "load_cluster",
    "locate",
    "memory_bytes",
    "patch",
    "report_schema",
]
