//! Node groups in eksctl `ClusterConfig` files and Karpenter NodePools.

use super::env::{Member, Scope};
use super::repo::FileKind;
use super::yaml::{Node, line_of};
use super::{
    Candidate, Change, Finding, Locator, Repo, Resolution, SetKey, Site, Slot, TargetKind, WriteAs,
};

/// eksctl `ClusterConfig`: `managedNodeGroups[]` and `nodeGroups[]` by name, the cluster from
/// `metadata.name`.
#[derive(Debug, Clone, Copy, Default)]
pub struct EksctlLocator;

/// Karpenter NodePools (v1, v1beta1) and Provisioners (v1alpha5): the cluster from GitOps
/// pointers or folder names.
#[derive(Debug, Clone, Copy, Default)]
pub struct KarpenterLocator;

fn s(n: Option<&Node>) -> Option<&str> {
    n.and_then(Node::as_str)
}

/// The YAML documents of files whose text mentions `needle` (an API group): a cheap text test
/// spares parsing every YAML file of a large repository.
fn yaml_docs<'r>(repo: &'r Repo, needle: &'r str) -> impl Iterator<Item = (usize, &'r Node)> {
    repo.files
        .iter()
        .enumerate()
        .filter(move |(_, f)| f.kind == FileKind::Yaml && f.text.contains(needle))
        .flat_map(move |(i, _)| {
            repo.yaml(i)
                .unwrap_or(&[])
                .iter()
                .map(move |d| (i, &d.root))
        })
}

impl Locator for EksctlLocator {
    fn name(&self) -> &str {
        "eksctl"
    }

    fn locate(&self, repo: &Repo, change: &Change) -> Vec<Finding> {
        let t = &change.target;
        if t.kind != TargetKind::NodeGroup {
            return vec![];
        }
        let mut out = Vec::new();
        for (fi, root) in yaml_docs(repo, "eksctl.io") {
            if !(s(root.get("apiVersion")).is_some_and(|a| a.starts_with("eksctl.io"))
                && s(root.get("kind")) == Some("ClusterConfig"))
            {
                continue;
            }
            if s(root.path(&["metadata", "name"])) != Some(t.cluster.as_str()) {
                continue;
            }
            let rel = &repo.files[fi].rel;
            for list in ["managedNodeGroups", "nodeGroups"] {
                for g in root.get(list).map(Node::items).unwrap_or(&[]) {
                    if s(g.get("name")) != Some(t.name.as_str()) {
                        continue;
                    }
                    let mut sites = Vec::new();
                    let mut blocked = None;
                    for key in change.set.keys() {
                        let found: Option<(&Node, WriteAs, &str)> = match key {
                            SetKey::InstanceTypes => g
                                .get("instanceTypes")
                                .map(|n| (n, WriteAs::Value, "instanceTypes"))
                                .or_else(|| {
                                    g.path(&["instancesDistribution", "instanceTypes"])
                                        .map(|n| {
                                            (
                                                n,
                                                WriteAs::Value,
                                                "instancesDistribution.instanceTypes",
                                            )
                                        })
                                })
                                .or_else(|| {
                                    g.get("instanceType")
                                        .map(|n| (n, WriteAs::First, "instanceType"))
                                }),
                            SetKey::CapacityType => {
                                g.get("spot").map(|n| (n, WriteAs::SpotFlag, "spot"))
                            }
                            SetKey::MinSize => {
                                g.get("minSize").map(|n| (n, WriteAs::Value, "minSize"))
                            }
                            SetKey::MaxSize => {
                                g.get("maxSize").map(|n| (n, WriteAs::Value, "maxSize"))
                            }
                            SetKey::DesiredSize => g
                                .get("desiredCapacity")
                                .map(|n| (n, WriteAs::Value, "desiredCapacity")),
                            _ => None,
                        };
                        match found {
                            Some((node, write, field)) => {
                                let line = line_of(&repo.files[fi].text, node.span().start);
                                let slot = if write == WriteAs::SpotFlag {
                                    Slot::YamlBool { node: node.clone() }
                                } else {
                                    Slot::Yaml { node: node.clone() }
                                };
                                sites.push(Site {
                                    file: fi,
                                    key: *key,
                                    slot,
                                    write,
                                    explanation: format!(
                                        "`{}` of node group {} is `{list}[name={}].{field}` in the eksctl ClusterConfig of {} ({rel} line {line})",
                                        key.as_str(),
                                        t.name,
                                        t.name,
                                        t.cluster
                                    ),
                                });
                            }
                            None => {
                                blocked = Some(format!(
                                    "eksctl node group {} in {rel} does not set {} (a launch template or the default decides it)",
                                    t.name,
                                    key.as_str()
                                ));
                                break;
                            }
                        }
                    }
                    out.push(match blocked {
                        Some(b) => Finding::Blocked(b),
                        None => Finding::Resolved(Resolution {
                            sites,
                            summary: format!(
                                "eksctl node group {} of {} in {rel}",
                                t.name, t.cluster
                            ),
                        }),
                    });
                }
            }
        }
        out
    }
}

fn requirements(root: &Node) -> Option<&Node> {
    root.path(&["spec", "template", "spec", "requirements"])
        .or_else(|| root.path(&["spec", "requirements"]))
}

impl Locator for KarpenterLocator {
    fn name(&self) -> &str {
        "karpenter"
    }

    fn locate(&self, repo: &Repo, change: &Change) -> Vec<Finding> {
        let t = &change.target;
        if t.kind != TargetKind::NodePool {
            return vec![];
        }
        let scope = Scope::build(repo, &t.cluster);
        let mut out = Vec::new();
        for (fi, root) in yaml_docs(repo, "karpenter.sh") {
            let api = s(root.get("apiVersion")).unwrap_or("");
            let kind = s(root.get("kind")).unwrap_or("");
            if !(api.starts_with("karpenter.sh") && (kind == "NodePool" || kind == "Provisioner")) {
                continue;
            }
            if s(root.path(&["metadata", "name"])) != Some(t.name.as_str()) {
                continue;
            }
            let rel = &repo.files[fi].rel;
            let line = line_of(&repo.files[fi].text, root.span().start);
            let evidence = match scope.member(repo, rel, &t.cluster) {
                Member::Yes(e) => e,
                Member::No => continue,
                Member::Unknown => {
                    out.push(Finding::Candidate(Candidate {
                        file: rel.clone(),
                        line,
                        reason: format!(
                            "NodePool {} here, but nothing says which cluster {rel} is deployed to",
                            t.name
                        ),
                    }));
                    continue;
                }
            };
            let reqs = requirements(root).map(Node::items).unwrap_or(&[]);
            let mut sites = Vec::new();
            let mut blocked = None;
            for key in change.set.keys() {
                let (req_key, write) = match key {
                    SetKey::InstanceTypes => ("node.kubernetes.io/instance-type", WriteAs::Value),
                    SetKey::CapacityType => {
                        ("karpenter.sh/capacity-type", WriteAs::KarpenterCapacity)
                    }
                    _ => unreachable_key(key),
                };
                let req = reqs.iter().find(|r| {
                    s(r.get("key")) == Some(req_key) && s(r.get("operator")) == Some("In")
                });
                match req.and_then(|r| r.get("values")) {
                    Some(values) => {
                        let vline = line_of(&repo.files[fi].text, values.span().start);
                        sites.push(Site {
                            file: fi,
                            key: *key,
                            slot: Slot::Yaml { node: values.clone() },
                            write,
                            explanation: format!(
                                "`{}` of NodePool {} is its `{req_key} In` requirement ({rel} line {vline}); {evidence}",
                                key.as_str(),
                                t.name
                            ),
                        });
                    }
                    None => {
                        blocked = Some(format!(
                            "NodePool {} ({rel}) has no `{req_key} In [...]` requirement: it selects instances by other requirements (category, family, size), so there is no list to change",
                            t.name
                        ));
                        break;
                    }
                }
            }
            out.push(match blocked {
                Some(b) => Finding::Blocked(b),
                None => Finding::Resolved(Resolution {
                    sites,
                    summary: format!("NodePool {} for {} in {rel}", t.name, t.cluster),
                }),
            });
        }
        out
    }
}

fn unreachable_key(key: &SetKey) -> (&'static str, WriteAs) {
    // Change::from_value refuses other keys for NodePools; keep a harmless answer anyway
    let _ = key;
    ("", WriteAs::Value)
}
