//! Workloads in plain manifests and Kustomize (bases, overlays, strategic-merge and JSON6902
//! patches, `replicas:` and `namespace:` in kustomizations).

use std::collections::BTreeSet;

use super::env::{Member, Scope, normalize};
use super::repo::FileKind;
use super::yaml::{Node, line_of};
use super::{
    Candidate, Change, Finding, Locator, Repo, Resolution, SetKey, Site, Slot, TargetKind, WriteAs,
};

/// Finds workloads in plain manifests and Kustomize trees.
#[derive(Debug, Clone, Copy, Default)]
pub struct ManifestLocator;

fn s(n: Option<&Node>) -> Option<&str> {
    n.and_then(Node::as_str)
}

fn dir_of(rel: &str) -> String {
    rel.rsplit_once('/')
        .map(|(d, _)| d.to_string())
        .unwrap_or_default()
}

/// A kustomization: its folder, what it includes, its patches.
struct Kustomization<'r> {
    file: usize,
    dir: String,
    namespace: Option<String>,
    /// Included files and folders (normalised paths).
    resources: Vec<String>,
    /// Strategic-merge patch files, and inline patches (file, node).
    patch_files: Vec<String>,
    /// JSON6902 patches: target name, the file holding the ops, the ops.
    json6902: Vec<(Option<String>, usize, Node)>,
    _marker: std::marker::PhantomData<&'r ()>,
    replicas: Vec<&'r Node>,
}

fn kustomizations(repo: &Repo) -> Vec<Kustomization<'_>> {
    let mut out = Vec::new();
    for (i, f) in repo.files.iter().enumerate() {
        let name = f.rel.rsplit('/').next().unwrap_or("");
        if f.kind != FileKind::Yaml
            || !matches!(
                name,
                "kustomization.yaml" | "kustomization.yml" | "Kustomization"
            )
        {
            continue;
        }
        let Some(doc) = repo.yaml(i).and_then(|d| d.first()) else {
            continue;
        };
        let root = &doc.root;
        let dir = dir_of(&f.rel);
        let mut k = Kustomization {
            file: i,
            dir: dir.clone(),
            namespace: s(root.get("namespace")).map(str::to_string),
            resources: vec![],
            patch_files: vec![],
            json6902: vec![],
            _marker: std::marker::PhantomData,
            replicas: root
                .get("replicas")
                .map(|r| r.items().iter().collect())
                .unwrap_or_default(),
        };
        for key in ["resources", "bases", "components"] {
            for r in root.get(key).map(Node::items).unwrap_or(&[]) {
                if let Some(p) = r.as_str()
                    && !p.contains("://")
                {
                    k.resources.push(normalize(&dir, p));
                }
            }
        }
        for p in root
            .get("patchesStrategicMerge")
            .map(Node::items)
            .unwrap_or(&[])
        {
            if let Some(p) = p.as_str() {
                k.patch_files.push(normalize(&dir, p));
            }
        }
        for p in root
            .get("patches")
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .chain(root.get("patchesJson6902").map(Node::items).unwrap_or(&[]))
        {
            let target = s(p.path(&["target", "name"])).map(str::to_string);
            match (s(p.get("path")), p.get("patch")) {
                (Some(path), _) => {
                    let path = normalize(&dir, path);
                    // a YAML list of JSON6902 operations, or a strategic-merge patch
                    let ops = repo
                        .find(&path)
                        .and_then(|pi| {
                            repo.yaml(pi)
                                .and_then(|d| d.first())
                                .map(|d| (pi, d.root.clone()))
                        })
                        .filter(|(_, n)| matches!(n, Node::Seq { .. }));
                    match ops {
                        Some((pi, n)) => k.json6902.push((target, pi, n)),
                        None => k.patch_files.push(path),
                    }
                }
                (None, Some(inline)) => {
                    let ops = match inline {
                        Node::Seq { .. } => Some(inline.clone()),
                        _ => super::yaml::parse_embedded(&f.text, inline)
                            .and_then(|d| d.into_iter().next())
                            .map(|d| d.root),
                    };
                    if let Some(ops) = ops
                        && matches!(ops, Node::Seq { .. })
                    {
                        k.json6902.push((target, i, ops));
                    }
                }
                _ => {}
            }
        }
        out.push(k);
    }
    out
}

fn containers_path(kind: TargetKind) -> &'static [&'static str] {
    match kind {
        TargetKind::CronJob => &[
            "spec",
            "jobTemplate",
            "spec",
            "template",
            "spec",
            "containers",
        ],
        _ => &["spec", "template", "spec", "containers"],
    }
}

/// The container map (and its index) in a workload document.
fn container<'a>(doc: &'a Node, kind: TargetKind, name: Option<&str>) -> Option<(usize, &'a Node)> {
    let items = doc.path(containers_path(kind))?.items();
    match name {
        Some(n) => items
            .iter()
            .enumerate()
            .find(|(_, c)| s(c.get("name")) == Some(n)),
        None if items.len() == 1 => items.first().map(|c| (0, c)),
        None => None,
    }
}

/// Where a setting sits in a workload document (or where it would be added).
fn setting_slot(
    doc: &Node,
    kind: TargetKind,
    container_name: Option<&str>,
    key: SetKey,
) -> Option<Slot> {
    if key == SetKey::Replicas {
        return doc
            .path(&["spec", "replicas"])
            .map(|n| Slot::Yaml { node: n.clone() });
    }
    let (group, field) = key.resource_path()?;
    let (_, c) = container(doc, kind, container_name)?;
    if let Some(n) = c.path(&["resources", group, field]) {
        return Some(Slot::Yaml { node: n.clone() });
    }
    None
}

fn insert_slot(
    doc: &Node,
    kind: TargetKind,
    container_name: Option<&str>,
    key: SetKey,
) -> Option<Slot> {
    let (group, field) = key.resource_path()?;
    let (_, c) = container(doc, kind, container_name)?;
    let (parent, path): (&Node, Vec<&str>) =
        match (c.get("resources"), c.path(&["resources", group])) {
            (_, Some(g)) => (g, vec![field]),
            (Some(r), None) => (r, vec![group, field]),
            (None, None) => (c, vec!["resources", group, field]),
        };
    Some(Slot::YamlInsert {
        parent: parent.clone(),
        path: path.into_iter().map(str::to_string).collect(),
    })
}

struct Def<'r> {
    file: usize,
    doc: &'r Node,
}

impl Locator for ManifestLocator {
    fn name(&self) -> &str {
        "manifests"
    }

    fn locate(&self, repo: &Repo, change: &Change) -> Vec<Finding> {
        let t = &change.target;
        if !t.kind.is_workload() {
            return vec![];
        }
        // every non-template document of the target's kind and name
        let mut defs: Vec<Def<'_>> = Vec::new();
        for (i, f) in repo.files.iter().enumerate() {
            if f.kind != FileKind::Yaml {
                continue;
            }
            for d in repo.yaml(i).unwrap_or(&[]) {
                if s(d.root.get("kind")) == Some(t.kind.as_str())
                    && s(d.root.path(&["metadata", "name"])) == Some(t.name.as_str())
                    && d.root.path(containers_path(t.kind)).is_some()
                {
                    defs.push(Def {
                        file: i,
                        doc: &d.root,
                    });
                }
            }
        }
        if defs.is_empty() {
            return vec![];
        }
        let ks = kustomizations(repo);
        let scope = Scope::build(repo, &t.cluster);
        // which kustomizations include which paths, transitively
        let includes = |k: &Kustomization<'_>, rel: &str| -> bool {
            let mut seen = BTreeSet::new();
            let mut stack = vec![k.dir.clone()];
            while let Some(d) = stack.pop() {
                if !seen.insert(d.clone()) {
                    continue;
                }
                let Some(kk) = ks.iter().find(|x| x.dir == d) else {
                    continue;
                };
                for r in &kk.resources {
                    if r == rel {
                        return true;
                    }
                    if ks.iter().any(|x| &x.dir == r) {
                        stack.push(r.clone());
                    }
                }
            }
            false
        };
        let mut out = Vec::new();
        for def in &defs {
            let rel = repo.files[def.file].rel.clone();
            // roots: kustomizations that include this file and that nothing else includes
            let including: Vec<&Kustomization<'_>> =
                ks.iter().filter(|k| includes(k, &rel)).collect();
            let roots: Vec<&Kustomization<'_>> = including
                .iter()
                .copied()
                .filter(|k| {
                    !ks.iter()
                        .any(|o| o.dir != k.dir && o.resources.contains(&k.dir))
                })
                .collect();
            if roots.is_empty() {
                // a plain manifest
                let ns = s(def.doc.path(&["metadata", "namespace"]));
                if let (Some(want), Some(have)) = (&t.namespace, ns)
                    && want != have
                {
                    continue;
                }
                let member = scope.member(repo, &rel, &t.cluster);
                if member == Member::No {
                    continue;
                }
                let unique = defs.len() == 1;
                if member == Member::Unknown && !unique {
                    out.push(Finding::Candidate(Candidate {
                        file: rel.clone(),
                        line: line_of(&repo.files[def.file].text, def.doc.span().start),
                        reason: format!("{} {} is defined here, but nothing says which cluster this file is applied to", t.kind.as_str(), t.name),
                    }));
                    continue;
                }
                let why = match member {
                    Member::Yes(e) => e,
                    _ => format!(
                        "it is the only definition of {} {} in the repository",
                        t.kind.as_str(),
                        t.name
                    ),
                };
                out.push(resolve_in_doc(repo, change, def.file, def.doc, &why));
                continue;
            }
            for root in roots {
                let member = scope.member(repo, &root_path(&root.dir), &t.cluster);
                let why = match member {
                    Member::Yes(e) => e,
                    Member::No => continue,
                    Member::Unknown => {
                        out.push(Finding::Candidate(Candidate {
                            file: repo.files[root.file].rel.clone(),
                            line: 1,
                            reason: format!("kustomization {} builds {} {}, but nothing says which cluster it is applied to", root.dir, t.kind.as_str(), t.name),
                        }));
                        continue;
                    }
                };
                // effective namespace: the outermost kustomization's namespace, else the manifest's
                let ns = root
                    .namespace
                    .clone()
                    .or_else(|| s(def.doc.path(&["metadata", "namespace"])).map(str::to_string));
                if let (Some(want), Some(have)) = (&t.namespace, &ns)
                    && want != have
                {
                    continue;
                }
                // the chain from the base outwards: kustomizations that include the file, innermost first
                let mut chain: Vec<&Kustomization<'_>> = including
                    .iter()
                    .copied()
                    .filter(|k| includes(root, &k.dir) || k.dir == root.dir)
                    .collect();
                chain.sort_by_key(|k| std::cmp::Reverse(k.dir.matches('/').count()));
                chain.sort_by_key(|k| if k.dir == root.dir { 1 } else { 0 });
                let other_roots: Vec<&Kustomization<'_>> = ks
                    .iter()
                    .filter(|k| {
                        k.dir != root.dir
                            && includes(k, &rel)
                            && !ks
                                .iter()
                                .any(|o| o.dir != k.dir && o.resources.contains(&k.dir))
                    })
                    .collect();
                out.push(resolve_kustomized(
                    repo,
                    change,
                    def,
                    &chain,
                    root,
                    &other_roots,
                    &why,
                ));
            }
        }
        out
    }
}

fn root_path(dir: &str) -> String {
    format!("{dir}/kustomization.yaml")
}

fn resolve_in_doc(repo: &Repo, change: &Change, file: usize, doc: &Node, why: &str) -> Finding {
    let t = &change.target;
    let rel = &repo.files[file].rel;
    let mut sites = Vec::new();
    for key in change.set.keys() {
        let slot = setting_slot(doc, t.kind, t.container.as_deref(), *key)
            .or_else(|| insert_slot(doc, t.kind, t.container.as_deref(), *key));
        let Some(slot) = slot else {
            return Finding::Blocked(format!(
                "{} {} in {rel} has no container {}",
                t.kind.as_str(),
                t.name,
                t.container
                    .as_deref()
                    .unwrap_or("(it has several: name one)")
            ));
        };
        let line = match &slot {
            Slot::Yaml { node } => line_of(&repo.files[file].text, node.span().start),
            Slot::YamlInsert { parent, .. } => line_of(&repo.files[file].text, parent.span().start),
            _ => 0,
        };
        sites.push(Site {
            file,
            key: *key,
            slot,
            write: WriteAs::Value,
            explanation: format!(
                "`{}` of {} {} is set in {rel} line {line}; {why}",
                key.as_str(),
                t.kind.as_str(),
                t.name
            ),
        });
    }
    Finding::Resolved(Resolution {
        sites,
        summary: format!("{} {} in {rel}", t.kind.as_str(), t.name),
    })
}

fn patch_doc<'r>(repo: &'r Repo, rel: &str, t: &super::ChangeTarget) -> Option<(usize, &'r Node)> {
    let i = repo.find(rel)?;
    repo.yaml(i)?
        .iter()
        .find(|d| {
            s(d.root.get("kind")) == Some(t.kind.as_str())
                && s(d.root.path(&["metadata", "name"])) == Some(t.name.as_str())
        })
        .map(|d| (i, &d.root))
}

fn resolve_kustomized(
    repo: &Repo,
    change: &Change,
    def: &Def<'_>,
    chain: &[&Kustomization<'_>],
    root: &Kustomization<'_>,
    other_roots: &[&Kustomization<'_>],
    why: &str,
) -> Finding {
    let t = &change.target;
    let mut sites = Vec::new();
    for key in change.set.keys() {
        // the outermost place that sets it wins
        let mut found: Option<(usize, Slot, String)> = None;
        if *key == SetKey::Replicas {
            for k in chain.iter().rev() {
                if let Some(r) = k
                    .replicas
                    .iter()
                    .find(|r| s(r.get("name")) == Some(t.name.as_str()))
                    && let Some(count) = r.get("count")
                {
                    found = Some((
                        k.file,
                        Slot::Yaml {
                            node: count.clone(),
                        },
                        format!("the `replicas:` entry of {}", repo.files[k.file].rel),
                    ));
                    break;
                }
            }
        }
        if found.is_none() {
            'outer: for k in chain.iter().rev() {
                for pf in k.patch_files.iter().rev() {
                    if let Some((pi, pdoc)) = patch_doc(repo, pf, t)
                        && let Some(slot) = setting_slot(pdoc, t.kind, t.container.as_deref(), *key)
                    {
                        found = Some((
                            pi,
                            slot,
                            format!(
                                "the patch {} of {}",
                                repo.files[pi].rel, repo.files[k.file].rel
                            ),
                        ));
                        break 'outer;
                    }
                }
                for (target, pf, ops) in k.json6902.iter().rev() {
                    if target.as_deref().is_some_and(|n| n != t.name) {
                        continue;
                    }
                    if let Some(slot) =
                        json6902_slot(ops, def.doc, t.kind, t.container.as_deref(), *key)
                    {
                        found = Some((
                            *pf,
                            slot,
                            format!(
                                "a JSON6902 patch in {} ({})",
                                repo.files[*pf].rel, repo.files[k.file].rel
                            ),
                        ));
                        break 'outer;
                    }
                }
            }
        }
        let (file, slot, what) = match found {
            Some(f) => f,
            None => {
                // set in the base: only if no other deployed root would change with it
                let shared: Vec<String> = other_roots.iter().map(|k| k.dir.clone()).collect();
                if !shared.is_empty() {
                    // add it to the root's own patch instead, when it has one for this workload
                    let own = root
                        .patch_files
                        .iter()
                        .find_map(|pf| patch_doc(repo, pf, t));
                    match own.and_then(|(pi, pdoc)| {
                        insert_slot(pdoc, t.kind, t.container.as_deref(), *key).map(|s| (pi, s))
                    }) {
                        Some((pi, slot)) => (
                            pi,
                            slot,
                            format!(
                                "the patch {} (the base is shared with {})",
                                repo.files[pi].rel,
                                shared.join(", ")
                            ),
                        ),
                        None => {
                            return Finding::Candidate(Candidate {
                                file: repo.files[def.file].rel.clone(),
                                line: line_of(&repo.files[def.file].text, def.doc.span().start),
                                reason: format!(
                                    "`{}` is set only in the base, which {} also build; {} has no patch for {} to add it to",
                                    key.as_str(),
                                    shared.join(", "),
                                    root.dir,
                                    t.name
                                ),
                            });
                        }
                    }
                } else {
                    match setting_slot(def.doc, t.kind, t.container.as_deref(), *key)
                        .or_else(|| insert_slot(def.doc, t.kind, t.container.as_deref(), *key))
                    {
                        Some(slot) => (
                            def.file,
                            slot,
                            format!("the base manifest {}", repo.files[def.file].rel),
                        ),
                        None => {
                            return Finding::Blocked(format!(
                                "{} {} has no container {:?}",
                                t.kind.as_str(),
                                t.name,
                                t.container
                            ));
                        }
                    }
                }
            }
        };
        let start = match &slot {
            Slot::Yaml { node } => node.span().start,
            Slot::YamlInsert { parent, .. } => parent.span().start,
            _ => 0,
        };
        let line = line_of(&repo.files[file].text, start);
        sites.push(Site {
            file,
            key: *key,
            slot,
            write: WriteAs::Value,
            explanation: format!(
                "`{}` of {} {} on {} is set by {what} (line {line}), the outermost layer of overlay {} that sets it; {why}",
                key.as_str(),
                t.kind.as_str(),
                t.name,
                t.cluster,
                root.dir
            ),
        });
    }
    Finding::Resolved(Resolution {
        sites,
        summary: format!(
            "{} {} built by kustomization {}",
            t.kind.as_str(),
            t.name,
            root.dir
        ),
    })
}

/// A JSON6902 `replace`/`add` op that sets the key: `/spec/template/spec/containers/0/resources/requests/cpu`.
fn json6902_slot(
    patch: &Node,
    base: &Node,
    kind: TargetKind,
    container_name: Option<&str>,
    key: SetKey,
) -> Option<Slot> {
    let ops: Vec<&Node> = match patch {
        Node::Seq { items, .. } => items.iter().collect(),
        _ => return None,
    };
    let mut want: Vec<String> = containers_path(kind)
        .iter()
        .map(|x| x.to_string())
        .collect();
    if key == SetKey::Replicas {
        want = vec!["spec".into(), "replicas".into()];
    } else {
        let (idx, _) = container(base, kind, container_name)?;
        let (g, f) = key.resource_path()?;
        want.extend([idx.to_string(), "resources".into(), g.into(), f.into()]);
    }
    let want = format!("/{}", want.join("/"));
    ops.into_iter()
        .filter(|op| {
            matches!(s(op.get("op")), Some("replace" | "add"))
                && s(op.get("path")) == Some(want.as_str())
        })
        .filter_map(|op| op.get("value"))
        .rfind(|v| matches!(v, Node::Scalar { .. }))
        .map(|v| Slot::Yaml { node: v.clone() })
}
