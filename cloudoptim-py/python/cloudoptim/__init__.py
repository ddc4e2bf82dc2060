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

Propose those changes as pull requests a reviewer merges (one per recommendation or per
namespace; a later run updates them; ``dry_run`` only prints them)::

    result = cloudoptim.propose(cluster, "https://github.com/acme/infra.git", group="namespace")
    for item in result["items"]:
        print(item["status"], item.get("url") or item.get("reason"))

Plan a consolidation (which nodes can go, or the cheapest set of nodes the pods fit on, with
the LP lower bound of the cost beside it)::

    plan = cloudoptim.consolidate(cluster, mode="replace", allow_types=["m6i.*", "c6i.*"])
    print(plan.to_table(), plan.monthly_saving)

Write analyzers in Python; the Rust engine runs them like its own, and their findings are
priced, de-duplicated and totalled in the report::

    class TeamLabels:
        name = "team-labels"
        description = "Namespaces without a team label"

        def analyze(self, context):
            costs = {n["name"]: n["monthly_usd"] for n in context["costs"]["namespaces"]}
            return [
                {
                    "kind": "custom",
                    "title": f"Label namespace {ns['name']} with its team",
                    "target": {"namespace": ns["name"]},
                    "monthly_savings_usd": 0.0,
                    "evidence": [{"name": "monthly_cost", "value": costs.get(ns["name"], 0.0), "unit": "usd_per_month"}],
                }
                for ns in context["cluster"]["namespaces"]
                if "team" not in ns["labels"]
            ]

    report = cloudoptim.analyze(cluster, extra_analyzers=[TeamLabels()])

All the work is done by the Rust core (``cloudoptim-core``); this package is a thin binding.
"""

from ._aio import (
    analyze_async,
    apply_async,
    consolidate_async,
    load_cluster_async,
    propose_async,
)
from ._display import MissingOptionalDependency, spot_scores_frame
from ._native import (
    AnalyzerError,
    CatalogError,
    Change,
    CloudOptimError,
    Cluster,
    FieldError,
    GitOpsError,
    InputError,
    InvalidChangeError,
    LiveSourceError,
    ParseError,
    PatchReport,
    Plan,
    PluginError,
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
    apply,
    consolidate,
    cpu_millicores,
    demo_cluster,
    instance_type,
    load_cluster,
    locate,
    memory_bytes,
    patch,
    plan_interruption,
    plan_schema,
    propose,
    report_schema,
    score_spot_types,
    spot_readiness,
)

__all__ = [
    "AnalyzerError",
    "CatalogError",
    "Change",
    "CloudOptimError",
    "Cluster",
    "FieldError",
    "GitOpsError",
    "InputError",
    "InvalidChangeError",
    "LiveSourceError",
    "MissingOptionalDependency",
    "ParseError",
    "PatchReport",
    "Plan",
    "PluginError",
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
    "analyze_async",
    "analyzer_names",
    "apply",
    "apply_async",
    "consolidate",
    "consolidate_async",
    "cpu_millicores",
    "demo_cluster",
    "instance_type",
    "load_cluster",
    "load_cluster_async",
    "locate",
    "memory_bytes",
    "patch",
    "plan_interruption",
    "plan_schema",
    "propose",
    "propose_async",
    "report_schema",
    "score_spot_types",
    "spot_readiness",
    "spot_scores_frame",
]
