//! Which cluster a file belongs to: decided from GitOps pointers (Argo CD Applications and
//! ApplicationSets, Flux Kustomizations and HelmReleases, helmfile kube contexts) and, failing
//! those, from directory names.

use super::repo::{FileKind, Repo};
use super::yaml::Node;

/// A GitOps pointer: "this path is deployed to that cluster".
#[derive(Debug, Clone)]
pub(crate) struct Pointer {
    pub cluster: Option<String>,
    /// Directory (relative to the repository root) that is deployed.
    pub path: String,
    /// The file that says so.
    pub file: usize,
    /// Helm: release name, namespace, value files (relative to the repository root) in order,
    /// and inline values (`values: |` or `valuesObject`).
    pub helm: Option<HelmSource>,
}

/// How a pointer deploys a Helm chart.
#[derive(Debug, Clone, Default)]
pub(crate) struct HelmSource {
    pub release: Option<String>,
    pub namespace: Option<String>,
    pub value_files: Vec<String>,
    pub inline: Option<Node>,
}

/// Where files are deployed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    pub pointers: Vec<Pointer>,
    pub known_clusters: Vec<String>,
}

/// Membership of a file in a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Member {
    Yes(String),
    No,
    Unknown,
}

pub(crate) fn normalize(dir: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = if dir.is_empty() {
        vec![]
    } else {
        dir.split('/').collect()
    };
    for seg in rel.trim_start_matches("./").split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

fn s(n: Option<&Node>) -> Option<String> {
    n.and_then(Node::as_str).map(str::to_string)
}

fn substitute(t: &str, vars: &[(String, String)]) -> String {
    let mut out = t.to_string();
    for (k, v) in vars {
        for pat in [
            format!("{{{{.{k}}}}}"),
            format!("{{{{{k}}}}}"),
            format!("{{{{ .{k} }}}}"),
            format!("{{{{ {k} }}}}"),
        ] {
            out = out.replace(&pat, v);
        }
    }
    out
}

fn argo_sources(spec: &Node) -> Vec<&Node> {
    let mut v: Vec<&Node> = spec.get("source").into_iter().collect();
    if let Some(ss) = spec.get("sources") {
        v.extend(ss.items());
    }
    v
}

fn dir_of(rel: &str) -> &str {
    rel.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
}

impl Scope {
    pub fn build(repo: &Repo, target_cluster: &str) -> Scope {
        let mut sc = Scope {
            known_clusters: vec![target_cluster.to_string()],
            ..Default::default()
        };
        for (i, f) in repo.files.iter().enumerate() {
            // only GitOps pointers, helmfiles and eksctl configs matter here: skip the rest unparsed
            let t = &f.text;
            if f.kind != FileKind::Yaml
                || !(t.contains("argoproj.io")
                    || t.contains("fluxcd.io")
                    || t.contains("releases:")
                    || t.contains("eksctl.io"))
            {
                continue;
            }
            let Some(docs) = repo.yaml(i) else { continue };
            for d in docs {
                let root = &d.root;
                let kind = s(root.get("kind")).unwrap_or_default();
                let api = s(root.get("apiVersion")).unwrap_or_default();
                if api.starts_with("argoproj.io") && kind == "Application" {
                    if let Some(spec) = root.get("spec") {
                        sc.add_argo(i, spec, &[]);
                    }
                } else if api.starts_with("argoproj.io") && kind == "ApplicationSet" {
                    let Some(spec) = root.get("spec") else {
                        continue;
                    };
                    let Some(tpl) = spec.path(&["template", "spec"]) else {
                        continue;
                    };
                    for g in spec.get("generators").map(Node::items).unwrap_or(&[]) {
                        for el in g
                            .path(&["list", "elements"])
                            .map(Node::items)
                            .unwrap_or(&[])
                        {
                            let vars: Vec<(String, String)> = el
                                .entries()
                                .iter()
                                .filter_map(|(k, v)| {
                                    Some((k.as_str()?.to_string(), v.as_str()?.to_string()))
                                })
                                .collect();
                            sc.add_argo(i, tpl, &vars);
                        }
                    }
                } else if api.starts_with("kustomize.toolkit.fluxcd.io") && kind == "Kustomization"
                {
                    if let Some(p) = s(root.path(&["spec", "path"])) {
                        sc.pointers.push(Pointer {
                            cluster: None,
                            path: normalize("", &p),
                            file: i,
                            helm: None,
                        });
                    }
                } else if api.starts_with("helm.toolkit.fluxcd.io") && kind == "HelmRelease" {
                    let spec = root.get("spec");
                    let chart = spec
                        .and_then(|x| x.path(&["chart", "spec", "chart"]))
                        .and_then(Node::as_str);
                    if let Some(c) = chart.filter(|c| c.starts_with("./") || c.contains('/')) {
                        let path = normalize("", c);
                        let helm = HelmSource {
                            release: s(spec.and_then(|x| x.get("releaseName")))
                                .or_else(|| s(root.path(&["metadata", "name"]))),
                            namespace: s(spec.and_then(|x| x.get("targetNamespace")))
                                .or_else(|| s(root.path(&["metadata", "namespace"]))),
                            value_files: spec
                                .and_then(|x| x.path(&["chart", "spec", "valuesFiles"]))
                                .map(|v| {
                                    v.items()
                                        .iter()
                                        .filter_map(|x| x.as_str())
                                        .map(|x| normalize(&path, x))
                                        .collect()
                                })
                                .unwrap_or_default(),
                            inline: spec.and_then(|x| x.get("values")).cloned(),
                        };
                        sc.pointers.push(Pointer {
                            cluster: None,
                            path,
                            file: i,
                            helm: Some(helm),
                        });
                    }
                } else if root.get("releases").is_some() && kind.is_empty() {
                    // helmfile
                    let default_ctx = s(root.path(&["helmDefaults", "kubeContext"]));
                    let base = dir_of(&f.rel).to_string();
                    for r in root.get("releases").map(Node::items).unwrap_or(&[]) {
                        let Some(chart) = s(r.get("chart")) else {
                            continue;
                        };
                        if !(chart.starts_with("./") || chart.starts_with("../")) {
                            continue;
                        }
                        let path = normalize(&base, &chart);
                        let cluster = s(r.get("kubeContext")).or_else(|| default_ctx.clone());
                        let helm = HelmSource {
                            release: s(r.get("name")),
                            namespace: s(r.get("namespace")),
                            value_files: r
                                .get("values")
                                .map(|v| {
                                    v.items()
                                        .iter()
                                        .filter_map(|x| x.as_str())
                                        .map(|x| normalize(&base, x))
                                        .collect()
                                })
                                .unwrap_or_default(),
                            inline: None,
                        };
                        if let Some(c) = &cluster {
                            sc.known_clusters.push(c.clone());
                        }
                        sc.pointers.push(Pointer {
                            cluster,
                            path,
                            file: i,
                            helm: Some(helm),
                        });
                    }
                } else if api.starts_with("eksctl.io")
                    && kind == "ClusterConfig"
                    && let Some(n) = s(root.path(&["metadata", "name"]))
                {
                    sc.known_clusters.push(n);
                }
            }
        }
        // Flux objects: the cluster is the one whose folder holds the Flux file
        let known = sc.known_clusters.clone();
        let mut found = Vec::new();
        for p in sc.pointers.iter_mut().filter(|p| p.cluster.is_none()) {
            let rel = &repo.files[p.file].rel;
            let segs: Vec<&str> = rel.split('/').collect();
            p.cluster = known
                .iter()
                .find(|c| segs.iter().any(|seg| seg == c))
                .cloned()
                // Flux's layout: clusters/<name>/…
                .or_else(|| {
                    segs[..segs.len().saturating_sub(1)]
                        .windows(2)
                        .find(|w| matches!(w[0], "clusters" | "cluster"))
                        .map(|w| w[1].to_string())
                });
            if let Some(c) = &p.cluster {
                found.push(c.clone());
            }
        }
        sc.known_clusters.extend(found);
        sc.known_clusters.sort();
        sc.known_clusters.dedup();
        sc
    }

    fn add_argo(&mut self, file: usize, spec: &Node, vars: &[(String, String)]) {
        let cluster = s(spec.path(&["destination", "name"]))
            .or_else(|| s(spec.path(&["destination", "server"])))
            .map(|c| substitute(&c, vars));
        let namespace = s(spec.path(&["destination", "namespace"])).map(|c| substitute(&c, vars));
        if let Some(c) = &cluster {
            self.known_clusters.push(c.clone());
        }
        for src in argo_sources(spec) {
            let Some(path) = s(src.get("path")).map(|p| normalize("", &substitute(&p, vars)))
            else {
                continue;
            };
            let helm = src.get("helm").map(|h| HelmSource {
                release: s(h.get("releaseName")).map(|r| substitute(&r, vars)),
                namespace: namespace.clone(),
                value_files: h
                    .get("valueFiles")
                    .map(|v| {
                        v.items()
                            .iter()
                            .filter_map(|x| x.as_str())
                            .map(|x| normalize(&path, &substitute(x, vars)))
                            .collect()
                    })
                    .unwrap_or_default(),
                inline: h
                    .get("valuesObject")
                    .cloned()
                    .or_else(|| h.get("values").cloned()),
            });
            self.pointers.push(Pointer {
                cluster: cluster.clone(),
                path,
                file,
                helm,
            });
        }
    }

    /// Whether `rel` is deployed to `cluster`.
    pub fn member(&self, repo: &Repo, rel: &str, cluster: &str) -> Member {
        let mut no = false;
        for p in &self.pointers {
            let inside =
                rel == p.path || rel.starts_with(&format!("{}/", p.path)) || p.path.is_empty();
            if !inside {
                continue;
            }
            match &p.cluster {
                Some(c) if c == cluster => {
                    return Member::Yes(format!(
                        "{} deploys {} to {cluster}",
                        repo.files[p.file].rel, p.path
                    ));
                }
                Some(_) => no = true,
                None => {}
            }
        }
        if no {
            return Member::No;
        }
        path_member(rel, cluster, &self.known_clusters)
    }
}

const ENV_WORDS: &[&str] = &[
    "prod",
    "production",
    "prd",
    "staging",
    "stage",
    "stg",
    "dev",
    "development",
    "qa",
    "test",
    "testing",
    "sandbox",
    "uat",
    "preprod",
];
const GENERIC: &[&str] = &[
    "eks", "k8s", "cluster", "aws", "main", "primary", "use1", "usw2",
];

fn env_tokens(cluster: &str) -> Vec<String> {
    cluster
        .split(['-', '_', '.'])
        .map(str::to_lowercase)
        .filter(|t| !t.is_empty() && !GENERIC.contains(&t.as_str()))
        .collect()
}

fn same_env(a: &str, b: &str) -> bool {
    let group = |w: &str| match w {
        "prod" | "production" | "prd" => "prod",
        "staging" | "stage" | "stg" | "preprod" => "staging",
        "dev" | "development" => "dev",
        "qa" | "test" | "testing" | "uat" => "test",
        other => {
            if other == "sandbox" {
                "sandbox"
            } else {
                ""
            }
        }
    };
    a == b || (!group(a).is_empty() && group(a) == group(b))
}

/// Membership from directory and file names alone.
pub(crate) fn path_member(rel: &str, cluster: &str, known: &[String]) -> Member {
    let segs: Vec<String> = rel
        .split('/')
        .map(|s| {
            s.trim_end_matches(".yaml")
                .trim_end_matches(".yml")
                .to_lowercase()
        })
        .collect();
    let dirs = &segs[..segs.len().saturating_sub(1)];
    if dirs.iter().any(|s| s == &cluster.to_lowercase()) {
        return Member::Yes(format!("{rel} is under a folder named {cluster}"));
    }
    if dirs
        .iter()
        .any(|s| known.iter().any(|k| k != cluster && s == &k.to_lowercase()))
    {
        return Member::No;
    }
    let tokens = env_tokens(cluster);
    // folder or file names that are environment words: values-prod.yaml, envs/prod, overlays/staging
    let words: Vec<String> = segs
        .iter()
        .flat_map(|s| {
            s.split(['-', '_', '.'])
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|w| ENV_WORDS.contains(&w.as_str()))
        .collect();
    if words.is_empty() {
        return Member::Unknown;
    }
    if words.iter().any(|w| tokens.iter().any(|t| same_env(w, t))) {
        return Member::Yes(format!(
            "{rel} is named for the {} environment",
            tokens.join("-")
        ));
    }
    Member::No
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_membership() {
        let known = vec!["prod-eks".to_string(), "staging-eks".to_string()];
        assert!(matches!(
            path_member("clusters/prod-eks/a.yaml", "prod-eks", &known),
            Member::Yes(_)
        ));
        assert_eq!(
            path_member("clusters/staging-eks/a.yaml", "prod-eks", &known),
            Member::No
        );
        assert!(matches!(
            path_member("envs/production/main.yaml", "prod-eks", &known),
            Member::Yes(_)
        ));
        assert_eq!(
            path_member("overlays/staging/patch.yaml", "prod-eks", &known),
            Member::No
        );
        assert_eq!(
            path_member("apps/checkout/deploy.yaml", "prod-eks", &known),
            Member::Unknown
        );
        assert!(matches!(
            path_member("charts/x/values-prod.yaml", "prod-eks", &known),
            Member::Yes(_)
        ));
    }
}
