"""Type stubs of the native module ``cloudoptim._native`` (built from ``cloudoptim-py/src/lib.rs``).

Use the ``cloudoptim`` package, which re-exports every public name. The dict shapes below are
the JSON shapes of ``docs/schema/report.schema.json``, of ``plan_schema()`` and of the IaC
engine's change and patch report; the underscore-named ``TypedDict``s exist only for type checkers.
"""

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Literal, Protocol, TypeAlias, TypedDict, final

__all__ = [
    "__version__",
    "Cluster",
    "Report",
    "Recommendation",
    "Change",
    "PatchReport",
    "Plan",
    "load_cluster",
    "demo_cluster",
    "analyze",
    "consolidate",
    "plan_schema",
    "report_schema",
    "analyzer_names",
    "cpu_millicores",
    "memory_bytes",
    "instance_type",
    "patch",
    "locate",
    "propose",
    "score_spot_types",
    "spot_readiness",
    "plan_interruption",
    "apply",
    "cli_main",
    "_from_json",
    "CloudOptimError",
    "InputError",
    "ParseError",
    "FieldError",
    "UnrecognizedInputError",
    "UnsafePathError",
    "CatalogError",
    "UnknownInstanceTypeError",
    "AnalyzerError",
    "QuantityError",
    "InvalidChangeError",
    "RepositoryError",
    "VerificationError",
    "GitOpsError",
    "PluginError",
    "LiveSourceError",
]

__version__: str

_StrPath: TypeAlias = str | os.PathLike[str]
_Kind: TypeAlias = Literal[
    "workload_rightsizing",
    "oom_remediation",
    "node_rightsizing",
    "office_hours",
    "zombie_volume",
    "ghost_instance",
    "cross_az_traffic",
    "node_removal",
    "node_replacement",
    "spot_migration",
    "custom",
]

# --- dict shapes -------------------------------------------------------------------------------

class _ClusterSummary(TypedDict):
    name: str
    region: str | None
    nodes: int
    pods: int
    workloads: int
    namespaces: int
    hpas: int
    pvcs: int
    pvs: int
    pdbs: int
    ec2_instances: int
    ebs_volumes: int
    spot_price_points: int
    containers_with_usage: int

class _KindTotal(TypedDict):
    kind: _Kind
    count: int
    monthly_savings_usd: float

class _BufferPattern(TypedDict):
    match: str

class _Buffer(_BufferPattern, total=False):
    cpu: float
    memory: float

class _Filters(TypedDict, total=False):
    include_namespaces: Sequence[str]
    exclude_namespaces: Sequence[str]
    exclude_workloads: Sequence[str]
    exclude_node_groups: Sequence[str]
    min_monthly_savings: float
    strategy: Literal["percentile", "vpa"]
    limits: Literal["keep-ratio", "unset-cpu", "memory-equals-request"]
    buffers: Sequence[_Buffer]
    team_label: str

class _Readiness(TypedDict):
    workload: str
    kind: str
    pods: int
    ready: bool
    reason: str | None

class _GroupTotal(TypedDict):
    name: str
    count: int
    monthly_savings_usd: float

class _Totals(TypedDict):
    recommendations: int
    monthly_savings_usd: float
    gross_monthly_savings_usd: float
    savings_ratio: float
    by_kind: list[_KindTotal]
    by_namespace: list[_GroupTotal]
    by_team: list[_GroupTotal]

class _GroupCost(TypedDict):
    name: str
    kind: str
    nodes: int
    instance_types: list[str]
    spot_nodes: int
    monthly_usd: float
    cpu_requested_ratio: float
    memory_requested_ratio: float

class _NamedCost(TypedDict):
    name: str
    monthly_usd: float

class _CostSummary(TypedDict):
    monthly_usd: float
    nodes_monthly_usd: float
    control_plane_monthly_usd: float
    volumes_monthly_usd: float
    idle_monthly_usd: float
    by_node_group: list[_GroupCost]
    by_namespace: list[_NamedCost]
    region: str
    price_sources: dict[str, int]
    estimated: bool

class _TargetRequired(TypedDict):
    cluster: str

class _Target(_TargetRequired, total=False):
    namespace: str
    workload_kind: str
    workload: str
    container: str
    node_group: str
    node: str
    volume: str
    instance: str

class _Change(TypedDict):
    field: str
    current: str
    proposed: str

class _Risk(TypedDict):
    level: Literal["low", "medium", "high"]
    reasons: list[str]

class _Evidence(TypedDict):
    name: str
    value: float
    unit: str

class _Resources(TypedDict):
    cpu_milli: int
    memory_bytes: int
    ephemeral_storage_bytes: int
    gpus: int
    pods: int

class _InstanceType(TypedDict):
    name: str
    vcpu: int
    memory_mib: int
    arch: str
    family: str
    category: str
    generation: int
    cpu_manufacturer: str
    hypervisor: str
    gpu_count: int
    gpu_name: str | None
    network_bandwidth_mbps: int | None
    allocatable: _Resources
    max_pods: int
    od_price_us_east_1: float | None

_TargetKind: TypeAlias = Literal["NodeGroup", "NodePool", "Deployment", "StatefulSet", "DaemonSet", "CronJob"]

class _ChangeTargetRequired(TypedDict):
    kind: _TargetKind
    cluster: str
    name: str

class _ChangeTarget(_ChangeTargetRequired, total=False):
    namespace: str
    container: str

# keys with a dot (``requests.cpu``) need the functional syntax
_ChangeSet = TypedDict(
    "_ChangeSet",
    {
        "instance_types": list[str],
        "capacity_type": Literal["ON_DEMAND", "SPOT"],
        "min_size": int,
        "max_size": int,
        "desired_size": int,
        "requests.cpu": str,
        "requests.memory": str,
        "limits.cpu": str,
        "limits.memory": str,
        "replicas": int,
    },
    total=False,
)

class _ChangeDict(TypedDict):
    target: _ChangeTarget
    set: _ChangeSet

_Outcome: TypeAlias = Literal["patched", "ambiguous", "not_found"]

class _Candidate(TypedDict):
    file: str
    line: int
    reason: str

class _FileChange(TypedDict):
    file: str
    lines: list[list[int]]
    explanations: list[str]

class _PatchReportDict(TypedDict):
    outcome: _Outcome
    files: list[str]
    candidates: list[_Candidate]
    warnings: list[str]
    diff: str
    changes: list[_FileChange]
    explanation: str
    written: bool

class _PlanNode(TypedDict):
    name: str
    instance_type: str
    zone: str
    capacity_type: str
    hourly_cost: float
    new: bool
    group: str | None

class _Assignment(TypedDict):
    pod: str
    node: str

class _Unplaced(TypedDict):
    pod: str
    reason: str

class _BlockedNode(TypedDict):
    node: str
    pod: str
    reason: str

# ``from`` is a keyword: the functional syntax
_Move = TypedDict("_Move", {"pod": str, "from": str, "to": str})

class _Step(TypedDict):
    action: Literal["remove", "replace"]
    removed: list[str]
    added: list[str]
    moves: list[_Move]
    hourly_saving: float
    monthly_saving: float
    disruption_cost: float
    score: float
    approved: bool

class _PlanDict(TypedDict):
    mode: Literal["remove", "replace"]
    cost_before_hourly: float
    cost_after_hourly: float
    lower_bound_hourly: float
    gap_to_bound: float
    nodes: list[_PlanNode]
    removed: list[str]
    assignments: list[_Assignment]
    unplaced: list[_Unplaced]
    blocked: list[_BlockedNode]
    steps: list[_Step]
    solver: str

class _Analyzer(Protocol):
    """What ``analyze(extra_analyzers=…)`` takes: an object with a ``name`` (and optionally a
    ``description`` str and an ``include_usage`` bool) whose ``analyze`` takes the context
    (``cluster``, ``costs``, ``now``) and returns recommendations as dicts (``kind``, ``title``,
    ``target``, ``monthly_savings_usd``, …)."""

    @property
    def name(self) -> str: ...
    def analyze(self, context: dict[str, Any], /) -> Sequence[Mapping[str, Any]]: ...

class _SpotScore(TypedDict):
    instance_type: str
    region: str
    risk: float
    rate: float
    volatility: float
    gap: float
    time: float
    interruption: str | None
    spot_hourly: float | None
    on_demand_hourly: float | None
    savings_ratio: float | None
    from_history: bool
    explanation: str

class _SpotPricePoint(TypedDict):
    instance_type: str
    zone: str
    product: str
    price: float
    timestamp: str

class _ScoreRequest(TypedDict):
    """What a spot risk scorer's ``score`` is given."""

    instance_type: str
    region: str
    seed: _SpotScore
    history: list[_SpotPricePoint]

class _ScoreAnswer(TypedDict, total=False):
    """What a spot risk scorer's ``score`` returns: ``risk`` (required) and optionally the
    terms and the explanation, each number in [0, 1]; the rest comes from the seed score."""

    risk: float
    rate: float
    volatility: float
    gap: float
    time: float
    explanation: str

class _SpotScorer(Protocol):
    """What ``score_spot_types(scorer=…)`` takes: an object (optionally with a ``name``) whose
    ``score`` takes a request (``instance_type``, ``region``, ``seed``, ``history``) and
    returns at least ``risk`` (the shapes of ``_ScoreRequest`` and ``_ScoreAnswer``)."""

    def score(self, request: dict[str, Any], /) -> Mapping[str, Any]: ...

_FileKind: TypeAlias = Literal["terraform", "tfvars", "terragrunt", "yaml", "helm_template"]

class _RepoFile(TypedDict):
    file: str
    kind: _FileKind
    text: str

class _LocateRequest(TypedDict):
    """What an IaC locator's ``locate`` is given: the change, the repository root and every
    file the engine reads (after an edit, the edited texts)."""

    change: _ChangeDict
    root: str
    files: list[_RepoFile]

class _Locator(Protocol):
    """What ``patch()``/``locate()`` take in ``locators``: an object (optionally with a
    ``name``) whose ``locate`` takes a request and returns findings: dicts with ``kind``
    ``resolved`` (``summary``, ``sites``: ``file``, ``key``, ``explanation``, ``path`` and
    ``doc`` in YAML or ``span`` in HCL, optional ``write``), ``candidate`` (``file``, ``line``,
    ``reason``) or ``blocked`` (``reason``). The request has the shape of ``_LocateRequest``."""

    def locate(self, request: dict[str, Any], /) -> Sequence[Mapping[str, Any]]: ...

class _ActionPlan(TypedDict):
    steps: Sequence[Mapping[str, Any]]

class _ApplyOutcome(TypedDict, total=False):
    step: dict[str, Any]
    status: Literal["dry_run", "done", "skipped", "failed"]
    detail: str
    reason: str
    error: str
    code: str

# a pandas.DataFrame (pandas is optional: ``pip install "cloudoptim[pandas]"``)
_DataFrame: TypeAlias = Any

# --- classes -----------------------------------------------------------------------------------

_Restore: TypeAlias = Callable[[str, str], Cluster | Report | Recommendation | PatchReport | Plan]

@final
class Cluster:
    """A cluster snapshot: Kubernetes objects, AWS inventory, metrics and usage history."""

    __hash__: ClassVar[None]  # type: ignore[assignment]
    @property
    def name(self) -> str: ...
    @property
    def region(self) -> str | None: ...
    @property
    def node_count(self) -> int: ...
    @property
    def pod_count(self) -> int: ...
    def summary(self) -> _ClusterSummary: ...
    def to_dict(self) -> dict[str, Any]: ...
    def to_json(self) -> str: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __reduce__(self) -> tuple[_Restore, tuple[str, str]]: ...

@final
class Report:
    """An analysis report: costs, totals, and recommendations by savings, largest first."""

    __hash__: ClassVar[None]  # type: ignore[assignment]
    @property
    def totals(self) -> _Totals: ...
    @property
    def costs(self) -> _CostSummary: ...
    @property
    def cluster(self) -> _ClusterSummary: ...
    @property
    def notes(self) -> list[str]: ...
    @property
    def analyzers(self) -> list[str]: ...
    @property
    def recommendations(self) -> list[Recommendation]: ...
    def to_dict(self) -> dict[str, Any]: ...
    def to_json(self) -> str: ...
    def to_table(self) -> str: ...
    def to_pandas(self) -> _DataFrame:
        """One row per recommendation: ``id``, ``kind``, ``analyzer``, ``title``, the target
        (``cluster``, ``namespace``, ``workload_kind``, ``workload``, ``container``, ``node``,
        ``node_group``, ``volume``, ``instance``), ``monthly_savings_usd``, ``risk``,
        ``priority``, ``confidence``, ``explanation``."""
    def _repr_html_(self) -> str: ...
    def __len__(self) -> int: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __reduce__(self) -> tuple[_Restore, tuple[str, str]]: ...

@final
class Recommendation:
    """One recommendation: what to change, what it saves, its risk and why."""

    __hash__: ClassVar[None]  # type: ignore[assignment]
    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> _Kind: ...
    @property
    def analyzer(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def target(self) -> _Target: ...
    @property
    def changes(self) -> list[_Change]: ...
    @property
    def monthly_savings_usd(self) -> float: ...
    @property
    def risk(self) -> _Risk: ...
    @property
    def priority(self) -> Literal["normal", "high"]: ...
    @property
    def confidence(self) -> float: ...
    @property
    def evidence(self) -> list[_Evidence]: ...
    @property
    def explanation(self) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...
    def to_json(self) -> str: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __reduce__(self) -> tuple[_Restore, tuple[str, str]]: ...

@final
class Change:
    """A change to make in an infrastructure repository: a target and the values to set."""

    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __new__(cls, target: _ChangeTarget | dict[str, Any], set: _ChangeSet | dict[str, Any]) -> Change: ...
    @staticmethod
    def from_json(text: str) -> Change: ...
    @property
    def target(self) -> _ChangeTarget: ...
    @property
    def set(self) -> _ChangeSet: ...
    def to_dict(self) -> _ChangeDict: ...
    def to_json(self) -> str: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __reduce__(self) -> tuple[type[Change], tuple[_ChangeTarget, _ChangeSet]]: ...

@final
class PatchReport:
    """What ``patch()`` or ``locate()`` did: the outcome, files, diff, candidates and why."""

    __hash__: ClassVar[None]  # type: ignore[assignment]
    @property
    def outcome(self) -> _Outcome: ...
    @property
    def files(self) -> list[str]: ...
    @property
    def candidates(self) -> list[_Candidate]: ...
    @property
    def warnings(self) -> list[str]: ...
    @property
    def diff(self) -> str: ...
    @property
    def changes(self) -> list[_FileChange]: ...
    @property
    def explanation(self) -> str: ...
    @property
    def written(self) -> bool: ...
    def to_dict(self) -> _PatchReportDict: ...
    def to_json(self) -> str: ...
    def _repr_html_(self) -> str: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __reduce__(self) -> tuple[_Restore, tuple[str, str]]: ...

@final
class Plan:
    """A consolidation plan: nodes after it, pod assignments, steps, and the LP lower bound."""

    __hash__: ClassVar[None]  # type: ignore[assignment]
    @property
    def mode(self) -> Literal["remove", "replace"]: ...
    @property
    def cost_before_hourly(self) -> float: ...
    @property
    def cost_after_hourly(self) -> float: ...
    @property
    def lower_bound_hourly(self) -> float: ...
    @property
    def gap_to_bound(self) -> float: ...
    @property
    def nodes(self) -> list[_PlanNode]: ...
    @property
    def removed(self) -> list[str]: ...
    @property
    def assignments(self) -> list[_Assignment]: ...
    @property
    def unplaced(self) -> list[_Unplaced]: ...
    @property
    def blocked(self) -> list[_BlockedNode]: ...
    @property
    def steps(self) -> list[_Step]: ...
    @property
    def solver(self) -> str: ...
    @property
    def monthly_saving(self) -> float: ...
    def to_dict(self) -> _PlanDict: ...
    def to_json(self) -> str: ...
    def to_table(self) -> str: ...
    def to_pandas(self, table: Literal["nodes", "assignments", "steps"] = "nodes") -> _DataFrame:
        """``nodes``: ``name``, ``instance_type``, ``zone``, ``capacity_type``, ``hourly_cost``,
        ``new``, ``removed``, ``group``; ``assignments``: ``namespace``, ``pod``, ``node``;
        ``steps``: ``action``, ``removed``, ``added``, ``moves`` (count), savings, ``score``,
        ``approved``."""
    def _repr_html_(self) -> str: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __reduce__(self) -> tuple[_Restore, tuple[str, str]]: ...

# --- exceptions --------------------------------------------------------------------------------

class CloudOptimError(Exception):
    """Base class of every error cloudoptim raises. ``causes`` holds the text of each level of
    the underlying error's cause chain, outermost first (also in the message)."""

    code: str
    causes: tuple[str, ...]

class InputError(CloudOptimError):
    """An input file or folder could not be used (code ``io`` when it could not be read)."""

    path: str

class ParseError(InputError):
    """An input file is not valid JSON or YAML (code ``syntax``)."""

    line: int
    column: int

class FieldError(InputError):
    """An object in an input file has a field with a wrong type or value (code ``field``)."""

    object: str
    field: str

class UnrecognizedInputError(InputError):
    """An input is none of the formats read (``unrecognized``) or holds nothing (``empty_input``)."""

class UnsafePathError(InputError):
    """A symbolic link points outside the folder being loaded (code ``symlink_outside_tree``)."""

class CatalogError(CloudOptimError):
    """Catalog or price data was rejected (code ``catalog``)."""

class UnknownInstanceTypeError(CatalogError, LookupError):
    """An instance type is not in the catalog (code ``unknown_instance_type``)."""

    name: str

class AnalyzerError(CloudOptimError):
    """An analyzer is unknown, misconfigured or failed; ``name`` is the analyzer."""

    name: str | None

class QuantityError(CloudOptimError, ValueError):
    """A Kubernetes quantity string is malformed or out of range (code ``quantity``)."""

class InvalidChangeError(CloudOptimError, ValueError):
    """An IaC change is malformed (code ``invalid_change``); raised before any file is read."""

class RepositoryError(CloudOptimError, NotADirectoryError):
    """The repository given to ``patch()`` or ``locate()`` is not a directory (code ``not_a_directory``)."""

class VerificationError(CloudOptimError):
    """An IaC edit did not verify (code ``verification``); nothing was written."""

class GitOpsError(CloudOptimError):
    """A GitOps step of ``propose()`` failed (codes ``gitops_config``, ``git``, ``auth``, ``rate_limited``, ``forge_api``)."""

class PluginError(CloudOptimError):
    """A Python spot scorer or IaC locator raised or answered something unusable (code
    ``plugin``); ``plugin`` names it, ``field`` is the wrong key of its answer."""

    plugin: str | None
    field: str | None

class LiveSourceError(CloudOptimError):
    """A live source (the Kubernetes API, Prometheus, AWS) could not be read."""

# --- functions ---------------------------------------------------------------------------------

def load_cluster(
    path: _StrPath | None = None,
    *,
    aws: _StrPath | Sequence[_StrPath] | None = None,
    usage: _StrPath | Sequence[_StrPath] | None = None,
    cluster_name: str | None = None,
    kubeconfig: _StrPath | None = None,
    context: str | None = None,
    request_timeout: int = 30,
    prometheus: str | None = None,
    days: int = 7,
    prometheus_timeout: int = 30,
    aws_live: bool = False,
    region: str | None = None,
) -> Cluster: ...
def demo_cluster() -> Cluster: ...
def analyze(
    cluster: Cluster | _StrPath,
    *,
    region: str | None = None,
    prices: _StrPath | None = None,
    spot_advisor: _StrPath | None = None,
    analyzers: Sequence[str] | None = None,
    extra_analyzers: Sequence[_Analyzer] | None = None,
    filters: _Filters | Mapping[str, Any] | _StrPath | None = None,
    prometheus: str | None = None,
    days: int = 7,
    prometheus_timeout: int = 30,
    aws_live: bool = False,
) -> Report: ...
def consolidate(
    cluster: Cluster | _StrPath,
    *,
    mode: Literal["remove", "replace"] = "replace",
    allow_types: Sequence[str] | None = None,
    region: str | None = None,
) -> Plan: ...
def plan_schema() -> dict[str, Any]: ...
def report_schema() -> dict[str, Any]: ...
def analyzer_names() -> list[str]: ...
def cpu_millicores(q: str) -> int: ...
def memory_bytes(q: str) -> int: ...
def instance_type(name: str) -> _InstanceType: ...
def patch(
    repo: _StrPath,
    change: Change | _ChangeDict | dict[str, Any] | str,
    *,
    dry_run: bool = False,
    locators: Sequence[_Locator] | None = None,
) -> PatchReport: ...
def locate(
    repo: _StrPath,
    change: Change | _ChangeDict | dict[str, Any] | str,
    *,
    locators: Sequence[_Locator] | None = None,
) -> PatchReport: ...
_ProposeStatus: TypeAlias = Literal[
    "opened",
    "updated",
    "up_to_date",
    "dry_run",
    "already_applied",
    "ambiguous",
    "not_found",
    "closed_by_human",
    "branch_modified",
    "not_applicable",
    "failed",
]

class _ProposeItemBase(TypedDict):
    recommendation_ids: list[str]
    target: str
    status: _ProposeStatus
    monthly_savings_usd: float

class _ProposeItem(_ProposeItemBase, total=False):
    branch: str
    title: str
    url: str
    number: int
    reason: str
    files: list[str]
    body: str
    diff: str

class _ProposeReport(TypedDict):
    repository: str
    base: str
    dry_run: bool
    items: list[_ProposeItem]

def propose(
    cluster: Cluster | _StrPath,
    repo: _StrPath,
    *,
    base: str | None = None,
    dry_run: bool = False,
    group: Literal["none", "namespace"] = "none",
    github_repo: str | None = None,
    api_url: str | None = None,
    token: str | None = None,
    labels: Sequence[str] | None = None,
    reviewers: Sequence[str] | None = None,
    draft: bool = False,
    reopen_closed: bool = False,
    author_name: str | None = None,
    author_email: str | None = None,
    include_namespaces: Sequence[str] | None = None,
    exclude_namespaces: Sequence[str] | None = None,
    exclude_workloads: Sequence[str] | None = None,
    exclude_node_groups: Sequence[str] | None = None,
    min_saving: float | None = None,
    progress: Callable[[_ProposeItem], object] | None = None,
) -> _ProposeReport: ...
def score_spot_types(
    types: str = "*",
    *,
    region: str = "us-east-1",
    advisor: _StrPath | None = None,
    prices: _StrPath | None = None,
    scorer: _SpotScorer | None = None,
) -> list[_SpotScore]: ...
def spot_readiness(cluster: Cluster | _StrPath) -> list[_Readiness]: ...
def plan_interruption(cluster: Cluster | _StrPath, message: str) -> dict[str, Any]: ...
def apply(
    plan: _ActionPlan | Mapping[str, Any] | str | os.PathLike[str],
    *,
    yes: bool = False,
    keep_going: bool = False,
    kubeconfig: _StrPath | None = None,
    context: str | None = None,
    request_timeout: int = 30,
) -> list[_ApplyOutcome]: ...
def cli_main(argv: Sequence[str]) -> int: ...
def _from_json(kind: str, text: str) -> Cluster | Report | Recommendation | PatchReport | Plan: ...
