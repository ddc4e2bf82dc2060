"""cloudoptim: find and fix Kubernetes waste on AWS EKS.

Load a cluster snapshot from the files you already have (``kubectl get … -o json`` dumps, AWS
CLI JSON, Prometheus exports), analyze it, and read the recommendations::

    import cloudoptim

    report = cloudoptim.analyze(cloudoptim.load_cluster("cluster.json", aws="aws/"))
    print(report.to_table())
    for rec in report.recommendations:
        print(rec.monthly_savings_usd, rec.title)

All the work is done by the Rust core (``cloudoptim-core``); this package is a thin binding.
"""

from ._native import (
    AnalyzerError,
    CatalogError,
    CloudOptimError,
    Cluster,
    FieldError,
    InputError,
    ParseError,
    QuantityError,
    Recommendation,
    Report,
    UnknownInstanceTypeError,
    UnrecognizedInputError,
    UnsafePathError,
    __version__,
    analyze,
    analyzer_names,
    cpu_millicores,
    demo_cluster,
    instance_type,
    load_cluster,
    memory_bytes,
    report_schema,
)

__all__ = [
    "AnalyzerError",
    "CatalogError",
    "CloudOptimError",
    "Cluster",
    "FieldError",
    "InputError",
    "ParseError",
    "QuantityError",
    "Recommendation",
    "Report",
    "UnknownInstanceTypeError",
    "UnrecognizedInputError",
    "UnsafePathError",
    "__version__",
    "analyze",
    "analyzer_names",
    "cpu_millicores",
    "demo_cluster",
    "instance_type",
    "load_cluster",
    "memory_bytes",
    "report_schema",
]
