//! Benchmarks live in `benches/`; see docs/benchmarks.md.
//!
//! This library holds what the benchmarks share: [`generate_monorepo`], a deterministic
//! generator of a realistic platform monorepo for the IaC engine benchmark (`benches/iac.rs`).

pub mod packing;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The cluster of the generated repository's one target.
pub const TARGET_CLUSTER: &str = "prod-eks-use1";
/// The node group of the target (every EKS cluster of the repository has one of that name).
pub const TARGET_NODE_GROUP: &str = "main-app";
/// The one file the change must touch.
pub const TARGET_FILE: &str = "envs/prod/use1/eks/terraform.tfvars";
/// The folder excluded by the generated `.gitignore`.
pub const VENDORED_DIR: &str = "third_party/vendored";

/// What [`generate_monorepo`] made.
#[derive(Debug, Clone)]
pub struct GeneratedRepo {
    /// The folder.
    pub root: PathBuf,
    /// Files written, `.gitignore`d ones included (the minimal `.git` folder is not counted).
    pub files: usize,
    /// Bytes written.
    pub bytes: u64,
    /// Files under the `.gitignore`d vendored folder.
    pub gitignored_files: usize,
    /// Files the engine reads by extension (`.tf`, `.tfvars`, `.hcl`, `.yaml`, `.yml`),
    /// outside the `.gitignore`d folder.
    pub iac_files: usize,
    /// The change to apply, as JSON (the format of `cloudoptim patch --change`).
    pub change_json: String,
    /// The one file the change must touch, relative to the root.
    pub target_file: String,
}

impl GeneratedRepo {
    /// The change, parsed.
    pub fn change(&self) -> cloudoptim_core::iac::Change {
        cloudoptim_core::iac::Change::from_json(&self.change_json)
            .expect("the generated change is valid")
    }
}

/// SplitMix64: small, fast and the same on every platform, so the tree is byte-identical across
/// runs and machines.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

struct Gen {
    root: PathBuf,
    files: usize,
    bytes: u64,
    iac_files: usize,
    dirs: HashSet<PathBuf>,
    rng: Rng,
}

impl Gen {
    fn put(&mut self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.root.join(rel);
        if let Some(parent) = p.parent()
            && !self.dirs.contains(parent)
        {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("creating {}: {e}", parent.display()));
            self.dirs.insert(parent.to_path_buf());
        }
        let content = content.as_ref();
        std::fs::write(&p, content).unwrap_or_else(|e| panic!("writing {}: {e}", p.display()));
        self.files += 1;
        self.bytes += content.len() as u64;
        let iac = [".tf", ".tfvars", ".hcl", ".yaml", ".yml"]
            .iter()
            .any(|x| rel.ends_with(x));
        if iac && !rel.starts_with(VENDORED_DIR) {
            self.iac_files += 1;
        }
    }

    /// Pseudo-random bytes behind a PNG signature: a binary the engine and `rg` both skip.
    fn png(&mut self, rel: &str, len: usize) {
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        while b.len() < len {
            b.extend_from_slice(&self.rng.next().to_le_bytes());
        }
        self.put(rel, b);
    }
}

const REGIONS: &[(&str, &str)] = &[
    ("use1", "us-east-1"),
    ("usw2", "us-west-2"),
    ("euw1", "eu-west-1"),
    ("euc1", "eu-central-1"),
    ("apse1", "ap-southeast-1"),
    ("apne1", "ap-northeast-1"),
];
const TF_ENVS: &[&str] = &["dev", "staging", "prod", "sandbox"];
const APP_ENVS: &[&str] = &["dev", "staging", "prod"];

/// How an EKS root names its cluster.
#[derive(Clone, Copy, PartialEq)]
enum ClusterName {
    /// `cluster_name = var.cluster_name`, set in `terraform.tfvars`.
    Tfvars,
    /// `cluster_name = "prod-eks-usw2"`.
    Literal,
    /// `cluster_name = local.name`, a template of two tfvars.
    Template,
}

/// How the `main-app` group's instance types are written.
#[derive(Clone, Copy, PartialEq)]
enum MainApp {
    /// `instance_types = var.main_app_instance_types`, set in `terraform.tfvars`.
    Tfvars,
    /// A literal list in the node group map.
    Literal,
}

/// EKS clusters: env, region short name, how the name is written, how main-app's types are.
const CLUSTERS: &[(&str, &str, ClusterName, MainApp)] = &[
    ("dev", "use1", ClusterName::Literal, MainApp::Literal),
    ("dev", "euw1", ClusterName::Template, MainApp::Tfvars),
    ("staging", "use1", ClusterName::Tfvars, MainApp::Tfvars),
    ("staging", "euw1", ClusterName::Literal, MainApp::Literal),
    ("prod", "use1", ClusterName::Tfvars, MainApp::Tfvars),
    ("prod", "usw2", ClusterName::Template, MainApp::Tfvars),
    ("prod", "euw1", ClusterName::Literal, MainApp::Literal),
    ("prod", "apse1", ClusterName::Tfvars, MainApp::Literal),
];

const STACK_KINDS: &[&str] = &[
    "network",
    "dns",
    "iam-baseline",
    "s3-buckets",
    "rds",
    "elasticache",
    "queues",
    "topics",
    "kms",
    "ecr",
    "waf",
    "cdn",
    "monitoring",
    "logging",
    "backup",
    "bastion",
    "vpn",
    "secrets",
    "ci-runners",
];

const SERVICE_BASES: &[&str] = &[
    "checkout",
    "cart",
    "search",
    "catalog",
    "payments",
    "orders",
    "inventory",
    "shipping",
    "billing",
    "auth",
    "profile",
    "reviews",
    "pricing",
    "recommend",
    "notify",
    "email",
    "sms",
    "ledger",
    "fraud",
    "ads",
    "media",
    "thumbnail",
    "export",
    "import",
    "reporting",
    "gateway",
    "session",
    "loyalty",
    "coupon",
    "tax",
];
const SERVICE_SUFFIXES: &[&str] = &["", "-api", "-worker", "-consumer", "-sync", "-admin"];

fn service_name(i: usize) -> String {
    let n = SERVICE_BASES.len() * SERVICE_SUFFIXES.len();
    let mut s = format!(
        "{}{}",
        SERVICE_BASES[i % SERVICE_BASES.len()],
        SERVICE_SUFFIXES[(i / SERVICE_BASES.len()) % SERVICE_SUFFIXES.len()]
    );
    if i >= n {
        let _ = write!(s, "-v{}", i / n + 1);
    }
    s
}

fn region_full(short: &str) -> &'static str {
    REGIONS
        .iter()
        .find(|(s, _)| *s == short)
        .map(|(_, f)| *f)
        .unwrap_or("us-east-1")
}

fn cluster_of(env: &str, region: &str) -> String {
    format!("{env}-eks-{region}")
}

/// Lays out a platform monorepo of exactly `files` files under `root` (which should be empty):
/// Terraform roots under `envs/<env>/<region>/<stack>/` calling local `modules/`, eight EKS
/// clusters built with terraform-aws-modules/eks (each with a `main-app` node group), Helm
/// charts with per-environment values files, Kustomize bases and overlays, Argo CD
/// Applications, Karpenter NodePools, a legacy eksctl config, service source code, docs and
/// binaries the engine skips, and a `.gitignore`d vendored folder full of Terraform.
///
/// The same `files` always gives the same bytes. The change returned sets the instance types
/// of node group `main-app` on cluster `prod-eks-use1`, which only
/// `envs/prod/use1/eks/terraform.tfvars` controls. Below about 400 files the tree is the fixed
/// part alone. Panics on I/O errors.
pub fn generate_monorepo(root: &Path, files: usize) -> GeneratedRepo {
    let mut g = Gen {
        root: root.to_path_buf(),
        files: 0,
        bytes: 0,
        iac_files: 0,
        dirs: HashSet::new(),
        rng: Rng(0x00C1_0DD0_0001_2345),
    };
    // a checkout has a .git folder; ripgrep reads .gitignore only inside one (not counted)
    for (rel, text) in [
        (".git/HEAD", "ref: refs/heads/main\n"),
        (
            ".git/config",
            "[core]\n\trepositoryformatversion = 0\n\tbare = false\n",
        ),
        (".git/refs/heads/.keep", ""),
        (".git/objects/.keep", ""),
    ] {
        let p = root.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("creating .git");
        }
        std::fs::write(&p, text).expect("writing .git");
    }
    fixed(&mut g);
    let vendored = files / 40;
    vendored_modules(&mut g, vendored);
    for (i, kind) in STACK_KINDS.iter().enumerate() {
        module(&mut g, kind, i);
    }
    module(&mut g, "service-data", STACK_KINDS.len());
    // round robin: a service, then three Terraform stacks, until the next round would overshoot
    let mut round = 0;
    let mut stack = 0;
    while g.files + 60 < files {
        service(&mut g, round);
        for _ in 0..3 {
            tf_stack(&mut g, stack);
            stack += 1;
        }
        round += 1;
    }
    // pad with runbooks and decision records, which the engine skips
    let mut n = 0;
    while g.files < files {
        let rel = if n % 3 == 0 {
            format!("docs/adr/{:04}-decision.md", n / 3 + 1)
        } else {
            format!("docs/runbooks/runbook-{n:04}.md")
        };
        let text = doc_text(&mut g.rng, &format!("Note {n}"));
        g.put(&rel, text);
        n += 1;
    }
    let change_json = format!(
        r#"{{"target":{{"kind":"NodeGroup","cluster":"{TARGET_CLUSTER}","name":"{TARGET_NODE_GROUP}"}},"set":{{"instance_types":["m6i.xlarge","m6a.xlarge"]}}}}"#
    );
    GeneratedRepo {
        root: root.to_path_buf(),
        files: g.files,
        bytes: g.bytes,
        gitignored_files: vendored,
        iac_files: g.iac_files,
        change_json,
        target_file: TARGET_FILE.to_string(),
    }
}

const WORDS: &[&str] = &[
    "the",
    "cluster",
    "node",
    "group",
    "upgrade",
    "terraform",
    "plan",
    "apply",
    "rollback",
    "alert",
    "latency",
    "budget",
    "owner",
    "on-call",
    "dashboard",
    "capacity",
    "quota",
    "region",
    "state",
    "module",
    "review",
    "change",
    "window",
    "traffic",
    "drain",
    "replica",
    "cost",
    "tag",
    "policy",
];

fn doc_text(rng: &mut Rng, title: &str) -> String {
    let mut s = format!("# {title}\n\n");
    let paras = 2 + rng.below(5);
    for _ in 0..paras {
        let words = 30 + rng.below(60);
        for w in 0..words {
            if w > 0 {
                s.push(' ');
            }
            s.push_str(rng.pick(WORDS));
        }
        s.push_str(".\n\n");
    }
    if rng.below(3) == 0 {
        s.push_str("```sh\nterraform init && terraform plan -out tfplan\n```\n");
    }
    s
}

fn fixed(g: &mut Gen) {
    g.put(
        ".gitignore",
        format!(
            "# Terraform\n.terraform/\n*.tfstate\n*.tfstate.*\n*.tfplan\ncrash.log\n\n# third-party modules synced by scripts/vendor.sh; never edited here\n{VENDORED_DIR}/\n\n# build output\ndist/\n__pycache__/\nnode_modules/\n"
        ),
    );
    g.put(
        "README.md",
        "# platform\n\nThe platform monorepo: Terraform for every account and region (`envs/`, `modules/`),\nEKS clusters (`envs/<env>/<region>/eks`), Helm charts (`charts/`), Kustomize apps (`apps/`),\nArgo CD Applications (`argocd/<cluster>/`) and the services' code (`services/`).\n",
    );
    g.put(
        "CODEOWNERS",
        "envs/ @platform\nmodules/ @platform\ncharts/ @apps\napps/ @apps\n",
    );
    g.put(
        "Makefile",
        "fmt:\n\tterraform fmt -recursive envs modules\n\nlint:\n\thelm lint charts/*\n",
    );
    g.put(
        ".editorconfig",
        "root = true\n\n[*]\nindent_style = space\nindent_size = 2\n",
    );
    g.put(
        ".pre-commit-config.yaml",
        "repos:\n  - repo: https://github.com/antonbabenko/pre-commit-terraform\n    rev: v1.92.0\n    hooks:\n      - id: terraform_fmt\n      - id: terraform_validate\n  - repo: https://github.com/gruntwork-io/pre-commit\n    rev: v0.1.23\n    hooks:\n      - id: helmlint\n",
    );
    for wf in ["terraform-plan", "helm-lint", "argocd-diff"] {
        g.put(
            &format!(".github/workflows/{wf}.yml"),
            format!(
                "name: {wf}\n\non:\n  pull_request:\n    branches: [main]\n\njobs:\n  run:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: make {}\n",
                if wf == "helm-lint" { "lint" } else { "fmt" }
            ),
        );
    }
    for (i, (env, region, naming, main_app)) in CLUSTERS.iter().enumerate() {
        eks_root(g, i, env, region, *naming, *main_app);
    }
    // Karpenter NodePools per cluster (the clusters' workloads run on both)
    for (env, region, ..) in CLUSTERS {
        let c = cluster_of(env, region);
        for (pool, arch, types) in [
            (
                "general-purpose",
                "amd64",
                "m5.large, m5.xlarge, m5a.xlarge",
            ),
            ("arm64", "arm64", "m7g.large, m7g.xlarge"),
        ] {
            g.put(
                &format!("platform/karpenter/{c}/nodepool-{pool}.yaml"),
                format!(
                    "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata:\n  name: {pool}\nspec:\n  template:\n    spec:\n      nodeClassRef:\n        group: karpenter.k8s.aws\n        kind: EC2NodeClass\n        name: default\n      requirements:\n        - key: kubernetes.io/arch\n          operator: In\n          values: [\"{arch}\"]\n        - key: node.kubernetes.io/instance-type\n          operator: In\n          values: [{types}]\n        - key: karpenter.sh/capacity-type\n          operator: In\n          values: [\"on-demand\"]\n  limits:\n    cpu: 1000\n  disruption:\n    consolidationPolicy: WhenEmptyOrUnderutilized\n    consolidateAfter: 1m\n"
                ),
            );
        }
    }
    // a legacy eksctl cluster, also with a main-app group
    g.put(
        "legacy/eksctl/sandbox-eks-legacy.yaml",
        "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata:\n  name: sandbox-eks-legacy\n  region: us-east-1\n  version: \"1.29\"\nmanagedNodeGroups:\n  - name: main-app\n    instanceTypes: [\"m5.xlarge\", \"m5a.xlarge\"]\n    minSize: 1\n    maxSize: 4\n    desiredCapacity: 1\n  - name: system\n    instanceType: t3.large\n    minSize: 2\n    maxSize: 2\n",
    );
    g.put(
        "scripts/vendor.sh",
        format!(
            "#!/usr/bin/env bash\nset -euo pipefail\n# Syncs third-party Terraform modules into {VENDORED_DIR} (git-ignored).\nrm -rf {VENDORED_DIR}\nmkdir -p {VENDORED_DIR}\n"
        ),
    );
}

fn eks_root(
    g: &mut Gen,
    i: usize,
    env: &str,
    region: &str,
    naming: ClusterName,
    main_app: MainApp,
) {
    let dir = format!("envs/{env}/{region}/eks");
    let cluster = cluster_of(env, region);
    let full = region_full(region);
    let prod = env == "prod";
    let (min, max, desired) = if prod { (3, 15, 6) } else { (1, 4, 1) };
    let old_types = if prod {
        r#"["m5.xlarge", "m5a.xlarge"]"#
    } else {
        r#"["m5.large"]"#
    };
    let cluster_expr = match naming {
        ClusterName::Tfvars => "var.cluster_name".to_string(),
        ClusterName::Literal => format!("\"{cluster}\""),
        ClusterName::Template => "local.name".to_string(),
    };
    let main_app_types = match main_app {
        MainApp::Tfvars => "var.main_app_instance_types".to_string(),
        MainApp::Literal => old_types.to_string(),
    };
    let mut main = String::new();
    let _ = write!(
        main,
        r#"locals {{
  name = "${{var.environment}}-eks-${{var.region_short}}"

  tags = {{
    Environment = var.environment
    Team        = "platform"
    Repository  = "platform"
  }}
}}

module "vpc" {{
  source  = "terraform-aws-modules/vpc/aws"
  version = "~> 5.8"

  name = "{cluster}"
  cidr = "10.{i}.0.0/16"

  azs             = ["{full}a", "{full}b", "{full}c"]
  private_subnets = ["10.{i}.0.0/19", "10.{i}.32.0/19", "10.{i}.64.0/19"]
  public_subnets  = ["10.{i}.96.0/22", "10.{i}.100.0/22", "10.{i}.104.0/22"]

  enable_nat_gateway     = true
  one_nat_gateway_per_az = {prod}
  enable_dns_hostnames   = true

  private_subnet_tags = {{
    "kubernetes.io/role/internal-elb" = 1
    "karpenter.sh/discovery"          = "{cluster}"
  }}

  tags = local.tags
}}

module "eks" {{
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 20.24"

  cluster_name    = {cluster_expr}
  cluster_version = var.cluster_version

  cluster_endpoint_public_access           = false
  enable_cluster_creator_admin_permissions = true

  vpc_id     = module.vpc.vpc_id
  subnet_ids = module.vpc.private_subnets

  cluster_addons = {{
    coredns    = {{}}
    kube-proxy = {{}}
    vpc-cni = {{
      before_compute = true
    }}
    aws-ebs-csi-driver = {{
      service_account_role_arn = module.ebs_csi_irsa.iam_role_arn
    }}
  }}

  eks_managed_node_group_defaults = {{
    ami_type        = "AL2023_x86_64_STANDARD"
    instance_types  = ["m5.large"]
    use_name_prefix = false

    iam_role_additional_policies = {{
      ssm = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    }}
  }}

  eks_managed_node_groups = {{
    # Cluster add-ons only.
    system = {{
      instance_types = ["m5.large"]
      min_size       = 2
      max_size       = 3
      desired_size   = 2

      labels = {{
        role = "system"
      }}

      taints = {{
        critical = {{
          key    = "CriticalAddonsOnly"
          value  = "true"
          effect = "NO_SCHEDULE"
        }}
      }}
    }}

    # Every namespace without a dedicated group.
    main-app = {{
      instance_types = {main_app_types}
      capacity_type  = "ON_DEMAND"
      min_size       = {min}
      max_size       = {max}
      desired_size   = {desired}

      labels = {{
        role = "app"
      }}
    }}

    # Same workloads on spot for burst capacity; shares the name prefix.
    main-app-spot = {{
      instance_types = {old_types}
      capacity_type  = "SPOT"
      min_size       = 0
      max_size       = {max}
      desired_size   = 0

      labels = {{
        role = "app"
      }}
    }}

    batch = {{
      instance_types = ["c5.xlarge", "c5a.xlarge", "c5n.xlarge"]
      capacity_type  = "SPOT"
      min_size       = 0
      max_size       = 30
      desired_size   = 0

      taints = {{
        batch = {{
          key    = "dedicated"
          value  = "batch"
          effect = "NO_SCHEDULE"
        }}
      }}
    }}
  }}

  tags = merge(local.tags, {{
    "karpenter.sh/discovery" = "{cluster}"
  }})
}}
"#,
        prod = if prod { "true" } else { "false" }
    );
    g.put(&format!("{dir}/main.tf"), main);
    g.put(
        &format!("{dir}/irsa.tf"),
        format!(
            r#"module "ebs_csi_irsa" {{
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts-eks"
  version = "~> 5.39"

  role_name             = "{cluster}-ebs-csi"
  attach_ebs_csi_policy = true

  oidc_providers = {{
    main = {{
      provider_arn               = module.eks.oidc_provider_arn
      namespace_service_accounts = ["kube-system:ebs-csi-controller-sa"]
    }}
  }}
}}

module "karpenter" {{
  source  = "terraform-aws-modules/eks/aws//modules/karpenter"
  version = "~> 20.24"

  cluster_name = module.eks.cluster_name

  enable_v1_permissions = true
  node_iam_role_additional_policies = {{
    ssm = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
  }}
}}
"#
        ),
    );
    g.put(
        &format!("{dir}/variables.tf"),
        r#"variable "cluster_name" {
  description = "EKS cluster name"
  type        = string
  default     = null
}

variable "cluster_version" {
  type    = string
  default = "1.30"
}

variable "environment" {
  type = string
}

variable "region_short" {
  type = string
}

variable "main_app_instance_types" {
  description = "Instance types of the main-app node group"
  type        = list(string)
  default     = ["m5.large"]
}
"#,
    );
    let mut tfvars = format!("environment  = \"{env}\"\nregion_short = \"{region}\"\n");
    if naming == ClusterName::Tfvars {
        let _ = writeln!(tfvars, "cluster_name = \"{cluster}\"");
    }
    if main_app == MainApp::Tfvars {
        let _ = writeln!(
            tfvars,
            "\n# Reviewed with the capacity report every quarter.\nmain_app_instance_types = {old_types}"
        );
    }
    g.put(&format!("{dir}/terraform.tfvars"), tfvars);
    g.put(
        &format!("{dir}/outputs.tf"),
        "output \"cluster_name\" {\n  value = module.eks.cluster_name\n}\n\noutput \"cluster_endpoint\" {\n  value = module.eks.cluster_endpoint\n}\n\noutput \"node_groups\" {\n  value = module.eks.eks_managed_node_groups\n}\n",
    );
    g.put(&format!("{dir}/versions.tf"), versions_tf(env, full, "eks"));
    g.put(&format!("{dir}/.terraform.lock.hcl"), lock_hcl());
    g.put(
        &format!("{dir}/README.md"),
        format!("# {cluster}\n\nEKS cluster `{cluster}` in {full}. Node groups: system, main-app, main-app-spot, batch.\n"),
    );
}

fn versions_tf(env: &str, region: &str, stack: &str) -> String {
    format!(
        r#"terraform {{
  required_version = ">= 1.6"

  required_providers {{
    aws = {{
      source  = "hashicorp/aws"
      version = ">= 5.40, < 6.0"
    }}
  }}

  backend "s3" {{
    bucket         = "acme-platform-tfstate-{env}"
    key            = "{region}/{stack}/terraform.tfstate"
    region         = "{region}"
    dynamodb_table = "acme-platform-tflock"
    encrypt        = true
  }}
}}

provider "aws" {{
  region = "{region}"

  default_tags {{
    tags = {{
      Environment = "{env}"
      Stack       = "{stack}"
    }}
  }}
}}
"#
    )
}

fn lock_hcl() -> &'static str {
    r#"# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "registry.terraform.io/hashicorp/aws" {
  version     = "5.62.0"
  constraints = ">= 5.40.0, < 6.0.0"
  hashes = [
    "h1:X3LAZdkVhb/77gTlhPwKYCA9oblBCSu866fZDDOojPY=",
    "zh:1f366cbcda72fb123015439a42ab19f96e10ce4edb404273f4e1b7e06da20b73",
    "zh:25f098454a34b483279e0382b24b4f42e51c067222c6e797eda5d3ec33b9beb1",
    "zh:4b59d48b527e3cefd73f196853bfc265b3e1e57b55c1c8a2d12ff6e3534b4f07",
  ]
}
"#
}

/// A local module `modules/<kind>`, called by the stacks of that kind.
fn module(g: &mut Gen, kind: &str, i: usize) {
    let dir = format!("modules/{kind}");
    let (res, attrs): (&str, &[(&str, &str)]) = match kind {
        "rds" => (
            "aws_db_instance",
            &[
                ("identifier", "var.name"),
                ("engine", "\"postgres\""),
                ("engine_version", "\"16.3\""),
                ("instance_class", "var.instance_class"),
                ("allocated_storage", "var.size"),
                ("multi_az", "var.multi_az"),
            ],
        ),
        "elasticache" => (
            "aws_elasticache_replication_group",
            &[
                ("replication_group_id", "var.name"),
                ("node_type", "var.instance_class"),
                ("num_cache_clusters", "var.size"),
            ],
        ),
        "bastion" | "vpn" => (
            "aws_instance",
            &[
                ("ami", "data.aws_ami.al2023.id"),
                ("instance_type", "var.instance_class"),
                ("subnet_id", "var.subnet_id"),
            ],
        ),
        "ci-runners" => (
            "aws_autoscaling_group",
            &[
                ("name", "\"${var.name}-runners\""),
                ("min_size", "0"),
                ("max_size", "var.size"),
                ("vpc_zone_identifier", "[var.subnet_id]"),
            ],
        ),
        _ => (
            "aws_ssm_parameter",
            &[
                ("name", "\"/platform/${var.name}\""),
                ("type", "\"String\""),
                ("value", "jsonencode(var.settings)"),
            ],
        ),
    };
    let mut main = String::new();
    let n = 2 + i % 4;
    for r in 0..n {
        let _ = writeln!(main, "resource \"{res}\" \"r{r}\" {{");
        for (k, v) in attrs {
            let _ = writeln!(main, "  {k:<20} = {v}");
        }
        main.push_str("\n  tags = merge(var.tags, {\n");
        let _ = writeln!(
            main,
            "    Module = \"{kind}\"\n    Index  = \"{r}\"\n  }})\n}}\n"
        );
    }
    if kind == "bastion" || kind == "vpn" {
        main.push_str("data \"aws_ami\" \"al2023\" {\n  most_recent = true\n  owners      = [\"amazon\"]\n\n  filter {\n    name   = \"name\"\n    values = [\"al2023-ami-*-x86_64\"]\n  }\n}\n");
    }
    g.put(&format!("{dir}/main.tf"), main);
    g.put(
        &format!("{dir}/variables.tf"),
        "variable \"name\" {\n  type = string\n}\n\nvariable \"instance_class\" {\n  type    = string\n  default = \"db.t4g.medium\"\n}\n\nvariable \"size\" {\n  type    = number\n  default = 2\n}\n\nvariable \"multi_az\" {\n  type    = bool\n  default = false\n}\n\nvariable \"subnet_id\" {\n  type    = string\n  default = null\n}\n\nvariable \"settings\" {\n  type    = map(string)\n  default = {}\n}\n\nvariable \"tags\" {\n  type    = map(string)\n  default = {}\n}\n",
    );
    g.put(
        &format!("{dir}/outputs.tf"),
        format!(
            "output \"ids\" {{\n  value = [for r in [{}] : r.id]\n}}\n",
            {
                (0..n)
                    .map(|r| format!("{res}.r{r}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
    );
    g.put(
        &format!("{dir}/versions.tf"),
        "terraform {\n  required_providers {\n    aws = {\n      source  = \"hashicorp/aws\"\n      version = \">= 5.40\"\n    }\n  }\n}\n",
    );
    let readme = doc_text(&mut g.rng, &format!("modules/{kind}"));
    g.put(&format!("{dir}/README.md"), readme);
}

/// Terraform root number `n`: `envs/<env>/<region>/<stack>/`, a call of a local module.
fn tf_stack(g: &mut Gen, n: usize) {
    let pairs = TF_ENVS.len() * REGIONS.len();
    let pair = n % pairs;
    let env = TF_ENVS[pair / REGIONS.len()];
    let (region, full) = REGIONS[pair % REGIONS.len()];
    let k = n / pairs;
    let (stack, module_kind) = if k < STACK_KINDS.len() {
        (STACK_KINDS[k].to_string(), STACK_KINDS[k])
    } else {
        (
            format!("svc-{}", service_name(k - STACK_KINDS.len())),
            "service-data",
        )
    };
    let dir = format!("envs/{env}/{region}/{stack}");
    let prod = env == "prod";
    let class = g.rng.pick(&[
        "db.t4g.medium",
        "db.r6g.large",
        "db.r6g.xlarge",
        "cache.r7g.large",
        "t3.small",
    ]);
    let mut main = format!(
        r#"data "aws_caller_identity" "current" {{}}

data "aws_vpc" "main" {{
  tags = {{
    Name = "{env}-{region}"
  }}
}}

module "{module}" {{
  source = "../../../../modules/{module_kind}"

  name           = "${{var.environment}}-{stack}"
  instance_class = var.instance_class
  size           = var.size
  multi_az       = {prod}

  settings = {{
    owner   = "team-{owner}"
    account = data.aws_caller_identity.current.account_id
  }}

  tags = local.tags
}}

locals {{
  tags = {{
    Environment = var.environment
    Stack       = "{stack}"
    CostCenter  = "cc-{cc}"
  }}
}}
"#,
        module = module_kind.replace('-', "_"),
        owner = g
            .rng
            .pick(&["platform", "payments", "search", "data", "growth"]),
        cc = 4000 + g.rng.below(900),
    );
    for r in 0..g.rng.below(4) {
        let _ = write!(
            main,
            r#"
resource "aws_security_group_rule" "ingress_{r}" {{
  description       = "from the {env} VPC"
  type              = "ingress"
  from_port         = {port}
  to_port           = {port}
  protocol          = "tcp"
  cidr_blocks       = [data.aws_vpc.main.cidr_block]
  security_group_id = module.{module}.ids[0]
}}
"#,
            port = 443 + r * 1000,
            module = module_kind.replace('-', "_"),
        );
    }
    g.put(&format!("{dir}/main.tf"), main);
    g.put(
        &format!("{dir}/variables.tf"),
        "variable \"environment\" {\n  type = string\n}\n\nvariable \"instance_class\" {\n  type = string\n}\n\nvariable \"size\" {\n  type    = number\n  default = 1\n}\n",
    );
    g.put(
        &format!("{dir}/terraform.tfvars"),
        format!(
            "environment    = \"{env}\"\ninstance_class = \"{class}\"\nsize           = {}\n",
            if prod { 3 } else { 1 }
        ),
    );
    g.put(
        &format!("{dir}/outputs.tf"),
        format!(
            "output \"ids\" {{\n  value = module.{}.ids\n}}\n",
            module_kind.replace('-', "_")
        ),
    );
    g.put(
        &format!("{dir}/versions.tf"),
        versions_tf(env, full, &stack),
    );
    g.put(&format!("{dir}/.terraform.lock.hcl"), lock_hcl());
    if g.rng.below(2) == 0 {
        let readme = doc_text(&mut g.rng, &dir);
        g.put(&format!("{dir}/README.md"), readme);
    }
}

/// Service number `i`: a Helm chart (two in three) or a Kustomize app, its Argo CD
/// Applications, and its source code.
fn service(g: &mut Gen, i: usize) {
    let name = service_name(i);
    let helm = i % 3 != 2;
    let cpu = g.rng.pick(&["100m", "250m", "500m", "1"]);
    let mem = g.rng.pick(&["256Mi", "512Mi", "1Gi", "2Gi"]);
    let port = 8000 + g.rng.below(100);
    // where it runs: dev and staging in use1, prod in one to three regions
    let mut clusters: Vec<(&str, String)> = vec![
        ("dev", cluster_of("dev", "use1")),
        ("staging", cluster_of("staging", "use1")),
    ];
    let prod_regions = ["use1", "usw2", "euw1", "apse1"];
    let start = g.rng.below(prod_regions.len());
    for k in 0..1 + g.rng.below(3) {
        clusters.push((
            "prod",
            cluster_of("prod", prod_regions[(start + k) % prod_regions.len()]),
        ));
    }
    if helm {
        chart(g, &name, cpu, mem, port);
    } else {
        kustomize_app(g, &name, cpu, mem, port);
    }
    for (env, cluster) in &clusters {
        let source = if helm {
            format!(
                "    path: charts/{name}\n    helm:\n      releaseName: {name}\n      valueFiles:\n        - values-{env}.yaml\n"
            )
        } else {
            format!("    path: apps/{name}/overlays/{env}\n")
        };
        g.put(
            &format!("argocd/{cluster}/{name}.yaml"),
            format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}-{cluster}\n  namespace: argocd\n  finalizers:\n    - resources-finalizer.argocd.argoproj.io\nspec:\n  project: apps\n  source:\n    repoURL: https://git.example.com/acme/platform.git\n    targetRevision: main\n{source}  destination:\n    name: {cluster}\n    namespace: {ns}\n  syncPolicy:\n    automated:\n      prune: true\n      selfHeal: true\n",
                ns = name.split('-').next().unwrap_or("apps"),
            ),
        );
    }
    source_code(g, &name, port);
}

fn chart(g: &mut Gen, name: &str, cpu: &str, mem: &str, port: usize) {
    let dir = format!("charts/{name}");
    let (v1, v2, v3) = (g.rng.below(20), g.rng.below(30), g.rng.below(10));
    g.put(
        &format!("{dir}/Chart.yaml"),
        format!(
            "apiVersion: v2\nname: {name}\ndescription: The {name} service\ntype: application\nversion: 1.{v1}.0\nappVersion: \"2.{v2}.{v3}\"\n"
        ),
    );
    g.put(
        &format!("{dir}/values.yaml"),
        format!(
            "replicaCount: 1\n\nimage:\n  repository: registry.example.com/platform/{name}\n  tag: \"\"\n  pullPolicy: IfNotPresent\n\nserviceAccount:\n  create: true\n  annotations: {{}}\n\nservice:\n  type: ClusterIP\n  port: 80\n  targetPort: {port}\n\ningress:\n  enabled: false\n  className: nginx\n  hosts: []\n\n# Laptop-sized defaults; every cluster overrides these.\nresources:\n  requests:\n    cpu: 100m\n    memory: 128Mi\n  limits:\n    memory: 256Mi\n\nautoscaling:\n  enabled: false\n  minReplicas: 1\n  maxReplicas: 3\n  targetCPUUtilizationPercentage: 70\n\nnodeSelector: {{}}\ntolerations: []\naffinity: {{}}\n\nconfig:\n  logLevel: info\n  featureFlags: \"\"\n"
        ),
    );
    for env in APP_ENVS {
        let (replicas, c, m) = match *env {
            "prod" => (3 + g.rng.below(6), cpu, mem),
            "staging" => (2, cpu, mem),
            _ => (1, "100m", "256Mi"),
        };
        g.put(
            &format!("{dir}/values-{env}.yaml"),
            format!(
                "# {env}\nreplicaCount: {replicas}\n\nresources:\n  requests:\n    cpu: {c}\n    memory: {m}\n  limits:\n    memory: {m}\n\nautoscaling:\n  enabled: {}\n  minReplicas: {replicas}\n  maxReplicas: {}\n\nconfig:\n  logLevel: {}\n",
                *env == "prod",
                replicas * 3,
                if *env == "prod" { "warn" } else { "debug" }
            ),
        );
    }
    g.put(
        &format!("{dir}/.helmignore"),
        ".DS_Store\n.git/\n*.swp\n*.bak\n*.tmp\n.idea/\n.vscode/\n",
    );
    g.put(
        &format!("{dir}/templates/_helpers.tpl"),
        format!(
            "{{{{- define \"{name}.fullname\" -}}}}\n{{{{- if contains .Chart.Name .Release.Name }}}}\n{{{{- .Release.Name | trunc 63 | trimSuffix \"-\" }}}}\n{{{{- else }}}}\n{{{{- printf \"%s-%s\" .Release.Name .Chart.Name | trunc 63 | trimSuffix \"-\" }}}}\n{{{{- end }}}}\n{{{{- end }}}}\n\n{{{{- define \"{name}.selectorLabels\" -}}}}\napp.kubernetes.io/name: {{{{ .Chart.Name }}}}\napp.kubernetes.io/instance: {{{{ .Release.Name }}}}\n{{{{- end }}}}\n"
        ),
    );
    g.put(
        &format!("{dir}/templates/deployment.yaml"),
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{{{ include \"{name}.fullname\" . }}}}\n  labels:\n    {{{{- include \"{name}.selectorLabels\" . | nindent 4 }}}}\nspec:\n  {{{{- if not .Values.autoscaling.enabled }}}}\n  replicas: {{{{ .Values.replicaCount }}}}\n  {{{{- end }}}}\n  selector:\n    matchLabels:\n      {{{{- include \"{name}.selectorLabels\" . | nindent 6 }}}}\n  template:\n    metadata:\n      labels:\n        {{{{- include \"{name}.selectorLabels\" . | nindent 8 }}}}\n    spec:\n      serviceAccountName: {{{{ include \"{name}.fullname\" . }}}}\n      containers:\n        - name: {name}\n          image: \"{{{{ .Values.image.repository }}}}:{{{{ .Values.image.tag | default .Chart.AppVersion }}}}\"\n          imagePullPolicy: {{{{ .Values.image.pullPolicy }}}}\n          ports:\n            - name: http\n              containerPort: {{{{ .Values.service.targetPort }}}}\n          env:\n            - name: LOG_LEVEL\n              value: {{{{ .Values.config.logLevel | quote }}}}\n          resources:\n            {{{{- toYaml .Values.resources | nindent 12 }}}}\n      {{{{- with .Values.nodeSelector }}}}\n      nodeSelector:\n        {{{{- toYaml . | nindent 8 }}}}\n      {{{{- end }}}}\n"
        ),
    );
    for (t, kind) in [
        ("service", "Service"),
        ("serviceaccount", "ServiceAccount"),
        ("hpa", "HorizontalPodAutoscaler"),
        ("ingress", "Ingress"),
        ("configmap", "ConfigMap"),
    ] {
        g.put(
            &format!("{dir}/templates/{t}.yaml"),
            format!(
                "{{{{- if or (ne \"{kind}\" \"Ingress\") .Values.ingress.enabled }}}}\napiVersion: v1\nkind: {kind}\nmetadata:\n  name: {{{{ include \"{name}.fullname\" . }}}}\n  labels:\n    {{{{- include \"{name}.selectorLabels\" . | nindent 4 }}}}\n{{{{- end }}}}\n"
            ),
        );
    }
    g.put(
        &format!("{dir}/templates/tests/test-connection.yaml"),
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"{{{{ include \"{name}.fullname\" . }}}}-test\"\n  annotations:\n    \"helm.sh/hook\": test\nspec:\n  containers:\n    - name: wget\n      image: busybox\n      command: ['wget']\n      args: ['{{{{ include \"{name}.fullname\" . }}}}:{{{{ .Values.service.port }}}}']\n  restartPolicy: Never\n"
        ),
    );
    g.put(
        &format!("{dir}/templates/NOTES.txt"),
        format!("{name} is installed. Try: kubectl port-forward svc/{name} 8080:80\n"),
    );
    let readme = doc_text(&mut g.rng, &format!("{name} chart"));
    g.put(&format!("{dir}/README.md"), readme);
}

fn kustomize_app(g: &mut Gen, name: &str, cpu: &str, mem: &str, port: usize) {
    let dir = format!("apps/{name}");
    g.put(
        &format!("{dir}/base/kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n  - service.yaml\nlabels:\n  - pairs:\n      app.kubernetes.io/name: {name}\n    includeSelectors: true\n"
        ),
    );
    g.put(
        &format!("{dir}/base/deployment.yaml"),
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: {name}\n  template:\n    metadata:\n      labels:\n        app.kubernetes.io/name: {name}\n    spec:\n      containers:\n        - name: {name}\n          image: ghcr.io/acme/{name}:latest\n          ports:\n            - name: http\n              containerPort: {port}\n          readinessProbe:\n            httpGet:\n              path: /ready\n              port: http\n          resources:\n            requests:\n              cpu: 100m\n              memory: 128Mi\n            limits:\n              memory: 256Mi\n"
        ),
    );
    g.put(
        &format!("{dir}/base/service.yaml"),
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  selector:\n    app.kubernetes.io/name: {name}\n  ports:\n    - name: http\n      port: 80\n      targetPort: http\n"
        ),
    );
    for env in APP_ENVS {
        let replicas = if *env == "prod" {
            3 + g.rng.below(5)
        } else {
            1
        };
        let (month, patch) = (1 + g.rng.below(12), g.rng.below(9));
        g.put(
            &format!("{dir}/overlays/{env}/kustomization.yaml"),
            format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {ns}\nresources:\n  - ../../base\nimages:\n  - name: ghcr.io/acme/{name}\n    newTag: \"2024.{month}.{patch}\"\nreplicas:\n  - name: {name}\n    count: {replicas}\npatches:\n  - path: resources-patch.yaml\n",
                ns = name.split('-').next().unwrap_or("apps"),
            ),
        );
        let (c, m) = if *env == "dev" {
            ("100m", "256Mi")
        } else {
            (cpu, mem)
        };
        g.put(
            &format!("{dir}/overlays/{env}/resources-patch.yaml"),
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  template:\n    spec:\n      containers:\n        - name: {name}\n          resources:\n            requests:\n              cpu: \"{c}\"\n              memory: {m}\n            limits:\n              memory: {m}\n"
            ),
        );
    }
}

/// The service's code, tests, scripts, docs and images: files the engine never reads.
fn source_code(g: &mut Gen, name: &str, port: usize) {
    let dir = format!("services/{name}");
    let module = name.replace('-', "_");
    let readme = doc_text(&mut g.rng, name);
    g.put(&format!("{dir}/README.md"), readme);
    g.put(&format!("{dir}/{module}/__init__.py"), "");
    let mut main = format!(
        "\"\"\"{name}: HTTP entry point.\"\"\"\n\nimport logging\nimport os\n\nfrom fastapi import FastAPI\n\nlog = logging.getLogger(__name__)\napp = FastAPI(title=\"{name}\")\nPORT = int(os.environ.get(\"PORT\", \"{port}\"))\n\n"
    );
    for h in 0..3 + g.rng.below(8) {
        let _ = write!(
            main,
            "\n@app.get(\"/v1/{module}/{h}\")\nasync def handler_{h}(limit: int = 50) -> dict:\n    log.info(\"handler_{h} limit=%s\", limit)\n    return {{\"items\": [], \"limit\": limit}}\n\n"
        );
    }
    g.put(&format!("{dir}/{module}/main.py"), main);
    g.put(
        &format!("{dir}/{module}/models.py"),
        "from dataclasses import dataclass\n\n\n@dataclass\nclass Item:\n    id: str\n    quantity: int\n    price_cents: int\n",
    );
    g.put(
        &format!("{dir}/tests/test_main.py"),
        format!(
            "from {module}.main import app\n\n\ndef test_app_has_routes():\n    assert app.routes\n"
        ),
    );
    g.put(
        &format!("{dir}/scripts/entrypoint.sh"),
        format!("#!/bin/sh\nset -eu\nexec uvicorn {module}.main:app --host 0.0.0.0 --port \"${{PORT:-{port}}}\"\n"),
    );
    g.put(
        &format!("{dir}/Dockerfile"),
        format!("FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nRUN pip install --no-cache-dir .\nEXPOSE {port}\nENTRYPOINT [\"/app/scripts/entrypoint.sh\"]\n"),
    );
    g.put(
        &format!("{dir}/pyproject.toml"),
        format!("[project]\nname = \"{name}\"\nversion = \"0.1.0\"\ndependencies = [\"fastapi>=0.110\", \"uvicorn>=0.29\"]\n"),
    );
    g.put(
        &format!("{dir}/openapi.json"),
        format!("{{\"openapi\": \"3.1.0\", \"info\": {{\"title\": \"{name}\", \"version\": \"1\"}}, \"paths\": {{}}}}\n"),
    );
    let doc = doc_text(&mut g.rng, &format!("{name} architecture"));
    g.put(&format!("{dir}/docs/architecture.md"), doc);
    let len = 2048 + g.rng.below(16 * 1024);
    g.png(&format!("{dir}/docs/img/architecture.png"), len);
}

/// The `.gitignore`d vendored copy of terraform-aws-modules/eks: Terraform that sets
/// `instance_types` for node groups (one is even called `main-app`), and that nothing may read.
fn vendored_modules(g: &mut Gen, n: usize) {
    for i in 0..n {
        let copy = i / 8;
        let base = format!("{VENDORED_DIR}/terraform-aws-eks-{copy}");
        match i % 8 {
            0 => g.put(
                &format!("{base}/examples/eks-managed/main.tf"),
                "locals {\n  name = \"ex-${basename(path.cwd)}\"\n}\n\nmodule \"eks\" {\n  source  = \"terraform-aws-modules/eks/aws\"\n  version = \"~> 20.0\"\n\n  cluster_name = local.name\n\n  eks_managed_node_groups = {\n    main-app = {\n      instance_types = [\"m6i.large\", \"m5.large\"]\n      min_size       = 1\n      max_size       = 3\n    }\n  }\n}\n",
            ),
            1 => g.put(
                &format!("{base}/node_groups.tf"),
                "module \"eks_managed_node_group\" {\n  source   = \"./modules/eks-managed-node-group\"\n  for_each = var.eks_managed_node_groups\n\n  instance_types = try(each.value.instance_types, var.eks_managed_node_group_defaults.instance_types, null)\n}\n",
            ),
            2 => g.put(
                &format!("{base}/variables.tf"),
                "variable \"eks_managed_node_groups\" {\n  type    = any\n  default = {}\n}\n",
            ),
            3 => g.put(
                &format!("{base}/README.md"),
                "# AWS EKS Terraform module\n\nVendored copy; see scripts/vendor.sh.\n",
            ),
            4 => g.put(
                &format!("{base}/modules/eks-managed-node-group/main.tf"),
                "resource \"aws_eks_node_group\" \"this\" {\n  cluster_name   = var.cluster_name\n  node_group_name = var.name\n  instance_types = var.instance_types\n}\n",
            ),
            5 => g.put(
                &format!("{base}/modules/eks-managed-node-group/variables.tf"),
                "variable \"instance_types\" {\n  type    = list(string)\n  default = null\n}\n",
            ),
            6 => g.put(
                &format!("{base}/examples/karpenter/main.tf"),
                "locals {\n  name = \"ex-karpenter\"\n}\n",
            ),
            _ => g.put(
                &format!("{base}/.github/workflows/pr.yml"),
                "name: pr\non: pull_request\njobs: {}\n",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudoptim_core::iac::{Engine, Outcome};

    #[test]
    fn a_small_monorepo_patches_exactly_one_file() {
        let d = tempfile::tempdir().unwrap();
        let g = generate_monorepo(d.path(), 2_000);
        assert_eq!(g.files, 2_000);
        assert!(g.gitignored_files > 0);
        let r = Engine::default()
            .patch(d.path(), &g.change(), true)
            .unwrap();
        assert_eq!(r.outcome, Outcome::Patched, "{r:#?}");
        assert_eq!(r.files, vec![g.target_file.clone()], "{r:#?}");
        assert!(!r.written);
        // the diff changes one line, the main-app types in the prod use1 tfvars
        let changed: Vec<&str> = r
            .diff
            .lines()
            .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
            .collect();
        assert_eq!(
            changed,
            vec![r#"+main_app_instance_types = ["m6i.xlarge", "m6a.xlarge"]"#],
            "{}",
            r.diff
        );
        // the real patch touches that file only
        let before = std::fs::read_to_string(d.path().join(&g.target_file)).unwrap();
        let r = Engine::default()
            .patch(d.path(), &g.change(), false)
            .unwrap();
        assert!(r.written);
        let after = std::fs::read_to_string(d.path().join(&g.target_file)).unwrap();
        assert_ne!(before, after);
        assert!(after.contains(r#"main_app_instance_types = ["m6i.xlarge", "m6a.xlarge"]"#));
    }

    #[test]
    fn generation_is_deterministic() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let ga = generate_monorepo(a.path(), 1_200);
        let gb = generate_monorepo(b.path(), 1_200);
        assert_eq!((ga.files, ga.bytes), (gb.files, gb.bytes));
        for rel in [TARGET_FILE, "envs/prod/usw2/eks/main.tf", ".gitignore"] {
            assert_eq!(
                std::fs::read(a.path().join(rel)).unwrap(),
                std::fs::read(b.path().join(rel)).unwrap()
            );
        }
    }

    #[test]
    fn without_the_gitignore_the_vendored_copy_makes_it_ambiguous() {
        // proves the .gitignore matters: the vendored example has a main-app group whose
        // cluster name nothing in the repository decides
        let d = tempfile::tempdir().unwrap();
        let g = generate_monorepo(d.path(), 1_000);
        std::fs::remove_file(d.path().join(".gitignore")).unwrap();
        let r = Engine::default()
            .patch(d.path(), &g.change(), true)
            .unwrap();
        assert_eq!(r.outcome, Outcome::Ambiguous, "{r:#?}");
    }
}
