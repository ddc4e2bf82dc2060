//! Node groups in Terraform: raw `aws_eks_node_group`, terraform-aws-modules/eks maps (managed
//! and self-managed), the module's node-group submodules, `aws_autoscaling_group`, and the
//! launch templates they point at.

use std::collections::HashMap;

use hcl_edit::Span;
use hcl_edit::structure::Block;

use super::terraform::{Terraform, Tv, V, block_labels};
use super::yaml::line_of;
use super::{
    Candidate, Change, Finding, Locator, Repo, Resolution, SetKey, Site, Slot, TargetKind, WriteAs,
};

/// Finds node groups defined in Terraform and Terragrunt.
#[derive(Debug, Clone, Copy, Default)]
pub struct TerraformLocator;

enum Attr {
    Found(Tv, WriteAs, String),
    /// One value per block (`override { instance_type }` of a mixed-instances policy).
    Each(Vec<Tv>, String),
    Missing(String),
}

struct NodeGroup {
    name: String,
    cluster: Tv,
    file: usize,
    pos: usize,
    desc: String,
    attrs: HashMap<SetKey, Attr>,
}

fn is_eks_module(source: &str) -> bool {
    source.contains("terraform-aws-modules/eks")
}

fn attr_tv(
    tf: &Terraform<'_>,
    inst: usize,
    file: usize,
    b: &Block,
    name: &str,
    each: Option<&(Tv, Tv)>,
) -> Option<Tv> {
    let a = b.body.get_attribute(name)?;
    Some(match each {
        Some(e) => tf.eval_each(inst, file, &a.value, e),
        None => tf.eval(inst, file, &a.value),
    })
}

fn launch_template_type(
    tf: &Terraform<'_>,
    inst: usize,
    file: usize,
    lt_block: Option<&Block>,
    each: Option<&(Tv, Tv)>,
) -> Option<Attr> {
    let lt = lt_block?;
    let r = attr_tv(tf, inst, file, lt, "id", each)
        .or_else(|| attr_tv(tf, inst, file, lt, "name", each))?;
    let V::Ref(rtype, rname) = &r.v else {
        return Some(Attr::Missing(
            "the launch template is referenced by an id or name that is not a launch template in this repository".into(),
        ));
    };
    if rtype != "aws_launch_template" {
        return None;
    }
    let module = &tf.modules[tf.instances[inst].module];
    let (lf, lb) = module
        .resources
        .iter()
        .find(|(_, b)| block_labels(b) == ["aws_launch_template", rname.as_str()])?;
    let line = line_of(
        &tf.repo.files[*lf].text,
        lb.span().map(|s| s.start).unwrap_or(0),
    );
    match attr_tv(tf, inst, *lf, lb, "instance_type", None) {
        Some(tv) => Some(Attr::Found(
            tv,
            WriteAs::First,
            format!(
                "the node group's launch template aws_launch_template.{rname} ({} line {line})",
                tf.repo.files[*lf].rel
            ),
        )),
        None => Some(Attr::Missing(format!(
            "launch template aws_launch_template.{rname} sets no instance_type"
        ))),
    }
}

fn node_groups(tf: &Terraform<'_>) -> Vec<NodeGroup> {
    let mut out = Vec::new();
    for (inst_i, inst) in tf.instances.iter().enumerate() {
        let module = &tf.modules[inst.module];
        for (f, b) in &module.resources {
            let labels = block_labels(b);
            let rtype = labels.first().copied().unwrap_or("");
            let rname = labels.get(1).copied().unwrap_or("");
            if rtype != "aws_eks_node_group" && rtype != "aws_autoscaling_group" {
                continue;
            }
            let expansions: Vec<Option<(Tv, Tv)>> = match tf.for_each(inst_i, *f, b) {
                Some(list) => list.into_iter().map(Some).collect(),
                None => vec![None],
            };
            for each in expansions {
                let each = each.as_ref();
                let pos = b.span().map(|s| s.start).unwrap_or(0);
                let desc = format!(
                    "{rtype}.{rname}{} in {} ({})",
                    each.and_then(|e| e.0.as_str().map(|k| format!("[\"{k}\"]")))
                        .unwrap_or_default(),
                    tf.repo.files[*f].rel,
                    inst.label
                );
                let mut attrs = HashMap::new();
                let (name, cluster) = if rtype == "aws_eks_node_group" {
                    let name = attr_tv(tf, inst_i, *f, b, "node_group_name", each);
                    let cluster =
                        attr_tv(tf, inst_i, *f, b, "cluster_name", each).unwrap_or_else(|| Tv {
                            v: V::Unknown("no cluster_name".into()),
                            origin: None,
                        });
                    let it = match attr_tv(tf, inst_i, *f, b, "instance_types", each) {
                        Some(tv) => Attr::Found(tv, WriteAs::Value, "instance_types".into()),
                        None => launch_template_type(
                            tf,
                            inst_i,
                            *f,
                            b.body
                                .blocks()
                                .find(|x| x.ident.as_str() == "launch_template"),
                            each,
                        )
                        .unwrap_or_else(|| {
                            Attr::Missing(
                                "the node group sets no instance_types (the AWS default applies)"
                                    .into(),
                            )
                        }),
                    };
                    attrs.insert(SetKey::InstanceTypes, it);
                    attrs.insert(
                        SetKey::CapacityType,
                        match attr_tv(tf, inst_i, *f, b, "capacity_type", each) {
                            Some(tv) => Attr::Found(tv, WriteAs::Value, "capacity_type".into()),
                            None => Attr::Missing(
                                "capacity_type is not set (ON_DEMAND by default)".into(),
                            ),
                        },
                    );
                    let sc = b
                        .body
                        .blocks()
                        .find(|x| x.ident.as_str() == "scaling_config");
                    for (k, a) in [
                        (SetKey::MinSize, "min_size"),
                        (SetKey::MaxSize, "max_size"),
                        (SetKey::DesiredSize, "desired_size"),
                    ] {
                        attrs.insert(
                            k,
                            match sc.and_then(|sc| attr_tv(tf, inst_i, *f, sc, a, each)) {
                                Some(tv) => {
                                    Attr::Found(tv, WriteAs::Value, format!("scaling_config.{a}"))
                                }
                                None => Attr::Missing(format!("scaling_config.{a} is not set")),
                            },
                        );
                    }
                    (name, cluster)
                } else {
                    let name = attr_tv(tf, inst_i, *f, b, "name", each);
                    // the cluster an ASG joins: a `kubernetes.io/cluster/<name>` tag
                    let mut cluster = Tv {
                        v: V::Unknown("the ASG carries no kubernetes.io/cluster/<name> tag".into()),
                        origin: None,
                    };
                    for t in b.body.blocks().filter(|x| x.ident.as_str() == "tag") {
                        if let Some(k) = attr_tv(tf, inst_i, *f, t, "key", each)
                            && let Some(c) = k
                                .as_str()
                                .and_then(|k| k.strip_prefix("kubernetes.io/cluster/"))
                        {
                            cluster = Tv {
                                v: V::Str(c.to_string()),
                                origin: None,
                            };
                        }
                    }
                    let lt = b
                        .body
                        .blocks()
                        .find(|x| x.ident.as_str() == "launch_template");
                    let overrides: Vec<Tv> = b
                        .body
                        .blocks()
                        .filter(|x| x.ident.as_str() == "mixed_instances_policy")
                        .flat_map(|m| {
                            m.body
                                .blocks()
                                .filter(|x| x.ident.as_str() == "launch_template")
                        })
                        .flat_map(|l| l.body.blocks().filter(|x| x.ident.as_str() == "override"))
                        .filter_map(|o| attr_tv(tf, inst_i, *f, o, "instance_type", each))
                        .collect();
                    let it = if !overrides.is_empty() {
                        Attr::Each(
                            overrides,
                            "mixed_instances_policy.launch_template.override[*].instance_type"
                                .into(),
                        )
                    } else {
                        launch_template_type(tf, inst_i, *f, lt, each).unwrap_or_else(|| {
                            Attr::Missing("instance types come from a launch configuration".into())
                        })
                    };
                    attrs.insert(SetKey::InstanceTypes, it);
                    for (k, a) in [
                        (SetKey::MinSize, "min_size"),
                        (SetKey::MaxSize, "max_size"),
                        (SetKey::DesiredSize, "desired_capacity"),
                    ] {
                        attrs.insert(
                            k,
                            match attr_tv(tf, inst_i, *f, b, a, each) {
                                Some(tv) => Attr::Found(tv, WriteAs::Value, a.to_string()),
                                None => Attr::Missing(format!("{a} is not set")),
                            },
                        );
                    }
                    (name, cluster)
                };
                let Some(name) = name.and_then(|n| n.as_str().map(str::to_string)) else {
                    continue;
                };
                out.push(NodeGroup {
                    name,
                    cluster,
                    file: *f,
                    pos,
                    desc,
                    attrs,
                });
            }
        }
        for (f, b) in &module.calls {
            let Some(source) = b
                .body
                .get_attribute("source")
                .and_then(|a| a.value.as_str())
            else {
                continue;
            };
            if !is_eks_module(source) {
                continue;
            }
            let call = block_labels(b).first().copied().unwrap_or("").to_string();
            let cluster = attr_tv(tf, inst_i, *f, b, "cluster_name", None)
                .or_else(|| attr_tv(tf, inst_i, *f, b, "name", None))
                .unwrap_or_else(|| Tv {
                    v: V::Unknown("the module call sets no cluster name".into()),
                    origin: None,
                });
            let pos = b.span().map(|s| s.start).unwrap_or(0);
            // a direct call of the node-group submodule
            if source.contains("eks-managed-node-group")
                || source.contains("self-managed-node-group")
            {
                let Some(name) = attr_tv(tf, inst_i, *f, b, "name", None)
                    .and_then(|n| n.as_str().map(str::to_string))
                else {
                    continue;
                };
                let cluster = attr_tv(tf, inst_i, *f, b, "cluster_name", None).unwrap_or(cluster);
                let mut attrs = HashMap::new();
                fill_group_attrs(&mut attrs, |k| attr_tv(tf, inst_i, *f, b, k, None), None);
                out.push(NodeGroup {
                    name,
                    cluster,
                    file: *f,
                    pos,
                    desc: format!(
                        "module.{call} in {} ({})",
                        tf.repo.files[*f].rel, inst.label
                    ),
                    attrs,
                });
                continue;
            }
            for map_attr in ["eks_managed_node_groups", "self_managed_node_groups"] {
                let Some(groups) = attr_tv(tf, inst_i, *f, b, map_attr, None) else {
                    continue;
                };
                let defaults = attr_tv(
                    tf,
                    inst_i,
                    *f,
                    b,
                    &map_attr.replace("groups", "group_defaults"),
                    None,
                );
                let V::Map(entries) = &groups.v else { continue };
                for (key, obj) in entries {
                    let name = obj
                        .get("name")
                        .and_then(|n| n.as_str())
                        .unwrap_or(key)
                        .to_string();
                    let mut attrs = HashMap::new();
                    fill_group_attrs(
                        &mut attrs,
                        |k| obj.get(k).cloned(),
                        defaults.as_ref().map(|d| (d, map_attr)),
                    );
                    let gpos = obj.origin.as_ref().map(|o| o.span.start).unwrap_or(pos);
                    let gfile = obj.origin.as_ref().map(|o| o.file).unwrap_or(*f);
                    out.push(NodeGroup {
                        name,
                        cluster: cluster.clone(),
                        file: gfile,
                        pos: gpos,
                        desc: format!(
                            "{map_attr}[\"{key}\"] of module.{call} in {} ({})",
                            tf.repo.files[*f].rel, inst.label
                        ),
                        attrs,
                    });
                }
            }
        }
    }
    out
}

fn fill_group_attrs(
    attrs: &mut HashMap<SetKey, Attr>,
    get: impl Fn(&str) -> Option<Tv>,
    defaults: Option<(&Tv, &str)>,
) {
    let it = match (get("instance_types"), get("instance_type")) {
        (Some(tv), _) => Attr::Found(tv, WriteAs::Value, "instance_types".into()),
        (None, Some(tv)) => Attr::Found(tv, WriteAs::First, "instance_type".into()),
        _ => Attr::Missing(String::new()),
    };
    attrs.insert(SetKey::InstanceTypes, it);
    let ct = get("capacity_type")
        .map(|tv| Attr::Found(tv, WriteAs::Value, "capacity_type".into()))
        .unwrap_or(Attr::Missing(String::new()));
    attrs.insert(SetKey::CapacityType, ct);
    for (k, a) in [
        (SetKey::MinSize, "min_size"),
        (SetKey::MaxSize, "max_size"),
        (SetKey::DesiredSize, "desired_size"),
    ] {
        attrs.insert(
            k,
            get(a)
                .map(|tv| Attr::Found(tv, WriteAs::Value, a.to_string()))
                .unwrap_or(Attr::Missing(String::new())),
        );
    }
    for (k, a) in attrs.iter_mut() {
        if let Attr::Missing(reason) = a {
            let key = match k {
                SetKey::InstanceTypes => "instance_types",
                other => other.as_str(),
            };
            *reason = match defaults.and_then(|(d, m)| d.get(key).map(|_| m)) {
                Some(m) => format!(
                    "{key} is not set for the group; it comes from {}, which every group shares",
                    m.replace("groups", "group_defaults")
                ),
                None => format!("{key} is not set for the group (the module's default applies)"),
            };
        }
    }
}

fn explain(repo: &Repo, tv: &Tv) -> String {
    let Some(o) = &tv.origin else {
        return String::new();
    };
    let line = line_of(&repo.files[o.file].text, o.span.start);
    let mut steps: Vec<String> = o.via.iter().rev().cloned().collect();
    steps.push(format!("written in {} line {line}", repo.files[o.file].rel));
    steps.join(", ")
}

impl Locator for TerraformLocator {
    fn name(&self) -> &str {
        "terraform"
    }

    fn locate(&self, repo: &Repo, change: &Change) -> Vec<Finding> {
        let t = &change.target;
        if t.kind != TargetKind::NodeGroup {
            return vec![];
        }
        let tf = Terraform::build(repo);
        let groups = node_groups(&tf);
        let mut out = Vec::new();
        let matches: Vec<&NodeGroup> = groups.iter().filter(|g| g.name == t.name).collect();
        for g in &matches {
            let line = line_of(&repo.files[g.file].text, g.pos);
            match &g.cluster.v {
                V::Str(c) if *c == t.cluster => {}
                V::Str(_) => continue,
                other => {
                    let reason = match other {
                        V::Unknown(r) => r.clone(),
                        _ => "the cluster name is not a string".into(),
                    };
                    out.push(Finding::Candidate(Candidate {
                        file: repo.files[g.file].rel.clone(),
                        line,
                        reason: format!(
                            "node group {} ({}) may belong to {}: {reason}",
                            g.name, g.desc, t.cluster
                        ),
                    }));
                    continue;
                }
            }
            let mut sites = Vec::new();
            let mut blocked = None;
            for key in change.set.keys() {
                match g.attrs.get(key) {
                    Some(Attr::Found(tv, write, what)) => {
                        let Some(o) = &tv.origin else {
                            blocked = Some(format!(
                                "{} of node group {} ({}) is {}",
                                key.as_str(),
                                g.name,
                                g.desc,
                                tv.unknown_reason()
                                    .unwrap_or("computed, not written literally")
                            ));
                            break;
                        };
                        // the same literal must not also set another node group
                        let shared: Vec<String> = groups
                            .iter()
                            .filter(|o2| !(o2.name == g.name && o2.cluster.v == g.cluster.v))
                            .filter(|o2| match o2.attrs.get(key) {
                                Some(Attr::Found(tv2, ..)) => tv2
                                    .origin
                                    .as_ref()
                                    .is_some_and(|x| x.file == o.file && x.span == o.span),
                                _ => false,
                            })
                            .map(|o2| format!("{} ({})", o2.name, o2.desc))
                            .collect();
                        let mut shared = shared;
                        for (k2, a2) in &g.attrs {
                            if change.set.contains_key(k2) {
                                continue;
                            }
                            if let Attr::Found(tv2, ..) = a2
                                && tv2
                                    .origin
                                    .as_ref()
                                    .is_some_and(|x| x.file == o.file && x.span == o.span)
                            {
                                shared.push(format!("{} of the same node group", k2.as_str()));
                            }
                        }
                        if !shared.is_empty() {
                            out.push(Finding::Candidate(Candidate {
                                file: repo.files[o.file].rel.clone(),
                                line: line_of(&repo.files[o.file].text, o.span.start),
                                reason: format!(
                                    "{} of node group {} is written here, but the same value also sets {}",
                                    key.as_str(),
                                    g.name,
                                    shared.join(", ")
                                ),
                            }));
                            blocked = Some(String::new());
                            break;
                        }
                        sites.push(Site {
                            file: o.file,
                            key: *key,
                            slot: Slot::Hcl {
                                span: o.span.clone(),
                            },
                            write: *write,
                            explanation: format!(
                                "`{}` of node group {} on {} ({}) is {what}: {}",
                                key.as_str(),
                                g.name,
                                t.cluster,
                                g.desc,
                                explain(repo, tv)
                            ),
                        });
                    }
                    Some(Attr::Each(tvs, what)) => {
                        let want = change.set[key].strings();
                        if want.len() != tvs.len() {
                            blocked = Some(format!(
                                "node group {} ({}) lists its types in {} `override` blocks; {} types were asked for: add or remove override blocks by hand",
                                g.name,
                                g.desc,
                                tvs.len(),
                                want.len()
                            ));
                            break;
                        }
                        for (i, tv) in tvs.iter().enumerate() {
                            let Some(o) = &tv.origin else {
                                blocked = Some(format!(
                                    "override {i} of node group {} is computed",
                                    g.name
                                ));
                                break;
                            };
                            sites.push(Site {
                                file: o.file,
                                key: *key,
                                slot: Slot::Hcl {
                                    span: o.span.clone(),
                                },
                                write: WriteAs::Nth(i),
                                explanation: format!(
                                    "`{}` of node group {} on {} ({}) is {what} (override {}): {}",
                                    key.as_str(),
                                    g.name,
                                    t.cluster,
                                    g.desc,
                                    i + 1,
                                    explain(repo, tv)
                                ),
                            });
                        }
                    }
                    Some(Attr::Missing(reason)) => {
                        blocked = Some(format!("node group {} ({}): {reason}", g.name, g.desc));
                        break;
                    }
                    None => {
                        blocked = Some(format!(
                            "node group {} ({}) has no {}",
                            g.name,
                            g.desc,
                            key.as_str()
                        ));
                        break;
                    }
                }
            }
            match blocked {
                Some(b) if !b.is_empty() => out.push(Finding::Blocked(b)),
                Some(_) => {}
                None => out.push(Finding::Resolved(Resolution {
                    summary: format!("node group {} on {}: {}", g.name, t.cluster, g.desc),
                    sites,
                })),
            }
        }
        out
    }
}
