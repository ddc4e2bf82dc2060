//! Workloads rendered by Helm charts: the release (from Argo CD, Flux or helmfile) decides the
//! workload's name, the cluster and the values files; the template decides which values path
//! feeds the container; the last values file of the release that sets it is the place to edit.

use super::env::{HelmSource, Scope};
use super::repo::FileKind;
use super::yaml::{Node, line_of};
use super::{
    Candidate, Change, Finding, Locator, Repo, Resolution, SetKey, Site, Slot, TargetKind, WriteAs,
};

/// Finds workloads rendered from Helm charts in the repository.
#[derive(Debug, Clone, Copy, Default)]
pub struct HelmLocator;

#[derive(Debug, Clone)]
struct Chart {
    dir: String,
    name: String,
    /// For a subchart: the parent chart's index and the values key (name or alias).
    parent: Option<(usize, String)>,
}

fn dir_of(rel: &str) -> &str {
    rel.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
}

fn charts(repo: &Repo) -> Vec<Chart> {
    let mut out: Vec<Chart> = Vec::new();
    for (i, f) in repo.files.iter().enumerate() {
        if !(f.rel == "Chart.yaml" || f.rel.ends_with("/Chart.yaml")) {
            continue;
        }
        let Some(name) = repo
            .yaml(i)
            .and_then(|d| d.first())
            .and_then(|d| d.root.get("name"))
            .and_then(Node::as_str)
        else {
            continue;
        };
        out.push(Chart {
            dir: dir_of(&f.rel).to_string(),
            name: name.to_string(),
            parent: None,
        });
    }
    let snapshot = out.clone();
    for c in &mut out {
        if let Some((pdir, _)) = c.dir.rsplit_once("/charts/")
            && let Some(pi) = snapshot.iter().position(|p| p.dir == pdir)
        {
            // an alias in the parent's dependencies renames the values key
            let alias = repo
                .find(&format!("{pdir}/Chart.yaml"))
                .and_then(|i| repo.yaml(i))
                .and_then(|d| d.first())
                .and_then(|d| {
                    d.root
                        .get("dependencies")
                        .map(Node::items)
                        .unwrap_or(&[])
                        .iter()
                        .find_map(|dep| {
                            (dep.get("name").and_then(Node::as_str) == Some(c.name.as_str()))
                                .then(|| {
                                    dep.get("alias").and_then(Node::as_str).map(str::to_string)
                                })
                                .flatten()
                        })
                });
            c.parent = Some((pi, alias.unwrap_or_else(|| c.name.clone())));
        }
    }
    out
}

/// The standard `fullname` helper: the release name when it contains the chart name, else
/// `<release>-<chart>`, unless overridden.
fn fullname(
    release: &str,
    chart: &str,
    full_override: Option<&str>,
    name_override: Option<&str>,
) -> String {
    if let Some(f) = full_override.filter(|s| !s.is_empty()) {
        return f.to_string();
    }
    let name = name_override.filter(|s| !s.is_empty()).unwrap_or(chart);
    if release.contains(name) {
        release.to_string()
    } else {
        format!("{release}-{name}")
    }
}

/// Evaluates a template expression for a name: literals, `.Release.Name`, `.Chart.Name`,
/// `include "*.fullname"` and `include "*.name"`.
fn render_name(
    expr: &str,
    release: &str,
    chart: &str,
    full_override: Option<&str>,
    name_override: Option<&str>,
) -> Option<String> {
    let mut out = String::new();
    let mut rest = expr.trim().trim_matches('"');
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}")? + start;
        let inner = rest[start + 2..end].trim_matches(|c: char| c == '-' || c.is_whitespace());
        let v = if inner == ".Release.Name" {
            release.to_string()
        } else if inner == ".Chart.Name" {
            chart.to_string()
        } else if (inner.starts_with("include") || inner.starts_with("template"))
            && inner.contains(".fullname\"")
        {
            fullname(release, chart, full_override, name_override)
        } else if (inner.starts_with("include") || inner.starts_with("template"))
            && inner.contains(".name\"")
        {
            name_override.unwrap_or(chart).to_string()
        } else {
            return None;
        };
        out.push_str(&v);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    Some(out.trim().to_string())
}

/// What a template says about one workload.
struct TemplateWorkload {
    file: usize,
    kind: String,
    name_expr: String,
    /// Container name expression → how its resources are rendered.
    containers: Vec<(String, Resources)>,
    replicas: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
enum Resources {
    /// `toYaml .Values.<path>`: the values path of the whole block.
    Block(Vec<String>, usize),
    /// Per-field `.Values` paths: (group, field, path).
    Fields(Vec<(String, String, Vec<String>)>, usize),
    /// Computed by a helper or expression.
    Computed(String, usize),
    /// Not rendered.
    None,
}

fn values_path(s: &str) -> Option<Vec<String>> {
    let i = s.find(".Values.")?;
    let p: String = s[i + 8..]
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '.' || *c == '_' || *c == '-')
        .collect();
    let p = p.trim_end_matches('.');
    (!p.is_empty()).then(|| p.split('.').map(str::to_string).collect())
}

fn indent(l: &str) -> usize {
    l.len() - l.trim_start().len()
}

fn scan_template(file: usize, text: &str) -> Vec<TemplateWorkload> {
    let mut out = Vec::new();
    for doc in text.split("\n---") {
        let lines: Vec<&str> = doc.lines().collect();
        let Some(kind) = lines
            .iter()
            .find_map(|l| l.strip_prefix("kind:"))
            .map(|k| k.trim().to_string())
        else {
            continue;
        };
        let meta = lines.iter().position(|l| l.starts_with("metadata:"));
        let name_expr = meta
            .and_then(|m| {
                lines[m + 1..]
                    .iter()
                    .take_while(|l| l.is_empty() || l.starts_with(' '))
                    .find_map(|l| l.trim().strip_prefix("name:"))
            })
            .map(|n| n.trim().to_string())
            .unwrap_or_default();
        let base_line = text[..text.find(doc).unwrap_or(0)].matches('\n').count();
        let mut containers = Vec::new();
        let mut replicas = None;
        for (i, l) in lines.iter().enumerate() {
            if let Some(r) = l.trim().strip_prefix("replicas:") {
                replicas = values_path(r);
            }
            if l.trim() != "containers:" {
                continue;
            }
            let ci = indent(l);
            let mut j = i + 1;
            while j < lines.len() {
                let lj = lines[j];
                if !lj.trim().is_empty()
                    && indent(lj) <= ci
                    && !lj.trim_start().starts_with("- ")
                    && !lj.trim_start().starts_with("{{")
                {
                    break;
                }
                if let Some(n) = lj.trim_start().strip_prefix("- name:") {
                    let item_indent = indent(lj);
                    let cname = n.trim().to_string();
                    let mut res = Resources::None;
                    let mut k = j + 1;
                    while k < lines.len() {
                        let lk = lines[k];
                        let t = lk.trim_start();
                        if !t.is_empty() && !t.starts_with("{{") && indent(lk) <= item_indent {
                            break;
                        }
                        if let Some(after) = t.strip_prefix("resources:") {
                            let rline = base_line + k + 1;
                            let after = after.trim();
                            let next: Vec<&str> = lines[k + 1..]
                                .iter()
                                .take_while(|x| x.trim().is_empty() || indent(x) > indent(lk))
                                .copied()
                                .collect();
                            let first = if after.is_empty() {
                                next.first().map(|x| x.trim()).unwrap_or("")
                            } else {
                                after
                            };
                            res = if first.contains("toYaml") && first.contains(".Values.") {
                                values_path(first)
                                    .map(|p| Resources::Block(p, rline))
                                    .unwrap_or(Resources::Computed(first.to_string(), rline))
                            } else if first.starts_with("{{- with .Values.")
                                || first.starts_with("{{ with .Values.")
                            {
                                values_path(first)
                                    .map(|p| Resources::Block(p, rline))
                                    .unwrap_or(Resources::Computed(first.to_string(), rline))
                            } else if first.contains("{{") && !first.contains(".Values.")
                                || first.contains("include")
                            {
                                Resources::Computed(first.to_string(), rline)
                            } else {
                                // per-field values: requests: / cpu: {{ .Values.x }}
                                let mut fields = Vec::new();
                                let mut group = String::new();
                                for x in &next {
                                    let xt = x.trim();
                                    if let Some(g) = xt.strip_suffix(':') {
                                        group = g.to_string();
                                    } else if let Some((f, v)) = xt.split_once(':') {
                                        if let Some(p) = values_path(v) {
                                            fields.push((group.clone(), f.trim().to_string(), p));
                                        } else if v.contains("{{") {
                                            res = Resources::Computed(xt.to_string(), rline);
                                        }
                                    }
                                }
                                if matches!(res, Resources::Computed(..)) {
                                    res
                                } else {
                                    Resources::Fields(fields, rline)
                                }
                            };
                        }
                        k += 1;
                    }
                    containers.push((cname, res));
                    j = k;
                    continue;
                }
                j += 1;
            }
        }
        out.push(TemplateWorkload {
            file,
            kind,
            name_expr,
            containers,
            replicas,
        });
    }
    out
}

/// One values source of a release, lowest precedence first.
struct Layer<'a> {
    file: Option<usize>,
    node: &'a Node,
    prefix: Vec<String>,
    label: String,
}

fn layer_get<'a>(l: &Layer<'a>, path: &[String]) -> Option<&'a Node> {
    let mut n = l.node;
    for k in l.prefix.iter().chain(path.iter()) {
        n = n.get(k)?;
    }
    Some(n)
}

/// The deepest existing mapping along the path, and the keys still missing.
fn insert_point<'a>(l: &Layer<'a>, path: &[String]) -> Option<(&'a Node, Vec<String>)> {
    let full: Vec<String> = l.prefix.iter().chain(path.iter()).cloned().collect();
    let mut n = l.node;
    let mut i = 0;
    while i < full.len() {
        match n.get(&full[i]) {
            Some(next @ Node::Map { flow: false, .. }) => {
                n = next;
                i += 1;
            }
            Some(_) => return None,
            None => break,
        }
    }
    matches!(n, Node::Map { flow: false, .. }).then(|| (n, full[i..].to_vec()))
}

struct Release {
    cluster: Option<String>,
    name: String,
    namespace: Option<String>,
    chart: usize,
    value_files: Vec<String>,
    inline: Option<Node>,
    /// `values: |` parsed, with spans in the pointer file.
    inline_docs: Option<Vec<super::yaml::Doc>>,
    pointer_file: usize,
}

fn releases(repo: &Repo, scope: &Scope, charts: &[Chart]) -> Vec<Release> {
    let mut out = Vec::new();
    for p in &scope.pointers {
        let Some(HelmSource {
            release,
            namespace,
            value_files,
            inline,
        }) = &p.helm
        else {
            continue;
        };
        let Some(ci) = charts.iter().position(|c| c.dir == p.path) else {
            continue;
        };
        out.push(Release {
            cluster: p.cluster.clone(),
            name: release.clone().unwrap_or_else(|| charts[ci].name.clone()),
            namespace: namespace.clone(),
            chart: ci,
            value_files: value_files.clone(),
            inline: inline.clone(),
            inline_docs: inline
                .as_ref()
                .and_then(|n| super::yaml::parse_embedded(&repo.files[p.file].text, n)),
            pointer_file: p.file,
        });
    }
    out
}

fn root_values<'a>(repo: &'a Repo, rel: &str) -> Option<(usize, &'a Node)> {
    let i = repo.find(rel)?;
    repo.yaml(i)?.first().map(|d| (i, &d.root))
}

fn layers<'a>(repo: &'a Repo, charts: &[Chart], r: &'a Release, chart: usize) -> Vec<Layer<'a>> {
    let mut out = Vec::new();
    // the subchart's own defaults, then the top chart's values, then the release's files
    let (top, prefix): (usize, Vec<String>) = match &charts[chart].parent {
        Some((pi, key)) => {
            if let Some((f, n)) = root_values(repo, &format!("{}/values.yaml", charts[chart].dir)) {
                out.push(Layer {
                    file: Some(f),
                    node: n,
                    prefix: vec![],
                    label: repo.files[f].rel.clone(),
                });
            }
            (*pi, vec![key.clone()])
        }
        None => (chart, vec![]),
    };
    if let Some((f, n)) = root_values(repo, &format!("{}/values.yaml", charts[top].dir)) {
        out.push(Layer {
            file: Some(f),
            node: n,
            prefix: prefix.clone(),
            label: repo.files[f].rel.clone(),
        });
    }
    for vf in &r.value_files {
        if let Some((f, n)) = root_values(repo, vf) {
            if out.iter().any(|l| l.file == Some(f)) {
                continue;
            }
            out.push(Layer {
                file: Some(f),
                node: n,
                prefix: prefix.clone(),
                label: repo.files[f].rel.clone(),
            });
        }
    }
    if let Some(n) = &r.inline {
        let label = format!("the inline values of {}", repo.files[r.pointer_file].rel);
        match n {
            Node::Map { .. } => out.push(Layer {
                file: Some(r.pointer_file),
                node: n,
                prefix: prefix.clone(),
                label,
            }),
            Node::Scalar { .. } => {
                if let Some(d) = r.inline_docs.as_ref().and_then(|d| d.first()) {
                    out.push(Layer {
                        file: Some(r.pointer_file),
                        node: &d.root,
                        prefix: prefix.clone(),
                        label,
                    });
                }
            }
            _ => {}
        }
    }
    out
}

impl Locator for HelmLocator {
    fn name(&self) -> &str {
        "helm"
    }

    fn locate(&self, repo: &Repo, change: &Change) -> Vec<Finding> {
        let t = &change.target;
        if !t.kind.is_workload() {
            return vec![];
        }
        let charts = charts(repo);
        if charts.is_empty() {
            return vec![];
        }
        let scope = Scope::build(repo, &t.cluster);
        let rels = releases(repo, &scope, &charts);
        // templates per chart
        let mut tmpl: Vec<Vec<TemplateWorkload>> = charts.iter().map(|_| vec![]).collect();
        for (i, f) in repo.files.iter().enumerate() {
            if f.kind != FileKind::HelmTemplate || f.rel.ends_with(".tpl") {
                continue;
            }
            if let Some(ci) = charts
                .iter()
                .enumerate()
                .filter(|(_, c)| f.rel.starts_with(&format!("{}/templates/", c.dir)))
                .map(|(i, _)| i)
                .max_by_key(|i| charts[*i].dir.len())
            {
                tmpl[ci].extend(scan_template(i, &f.text));
            }
        }
        let mut out = Vec::new();
        for r in &rels {
            let top_chart = r.chart;
            // the release renders its chart and its subcharts
            let family: Vec<usize> = (0..charts.len())
                .filter(|&c| {
                    c == top_chart
                        || charts[c]
                            .parent
                            .as_ref()
                            .is_some_and(|(p, _)| *p == top_chart)
                })
                .collect();
            for &ci in &family {
                for w in &tmpl[ci] {
                    if w.kind != t.kind.as_str() {
                        continue;
                    }
                    let ls = layers(repo, &charts, r, ci);
                    let get_str = |k: &str| {
                        ls.iter().rev().find_map(|l| {
                            layer_get(l, &[k.to_string()])
                                .and_then(Node::as_str)
                                .map(str::to_string)
                        })
                    };
                    let Some(name) = render_name(
                        &w.name_expr,
                        &r.name,
                        &charts[ci].name,
                        get_str("fullnameOverride").as_deref(),
                        get_str("nameOverride").as_deref(),
                    ) else {
                        continue;
                    };
                    if name != t.name {
                        continue;
                    }
                    if let (Some(want), Some(have)) = (&t.namespace, &r.namespace)
                        && want != have
                    {
                        continue;
                    }
                    let tfile = &repo.files[w.file].rel;
                    let reason_release = format!(
                        "release {} of chart {} ({})",
                        r.name, charts[top_chart].dir, repo.files[r.pointer_file].rel
                    );
                    match &r.cluster {
                        Some(c) if c == &t.cluster => {}
                        Some(_) => continue,
                        None => {
                            out.push(Finding::Candidate(Candidate {
                                file: repo.files[r.pointer_file].rel.clone(),
                                line: 1,
                                reason: format!("{reason_release} renders {} {name}, but nothing says which cluster it deploys to", t.kind.as_str()),
                            }));
                            continue;
                        }
                    }
                    out.push(resolve_release(
                        repo,
                        change,
                        &rels,
                        r,
                        &charts,
                        ci,
                        w,
                        &ls,
                        tfile,
                        &reason_release,
                    ));
                }
            }
        }
        out
    }
}

#[allow(clippy::too_many_arguments)]
fn resolve_release(
    repo: &Repo,
    change: &Change,
    rels: &[Release],
    r: &Release,
    charts: &[Chart],
    ci: usize,
    w: &TemplateWorkload,
    ls: &[Layer<'_>],
    tfile: &str,
    reason_release: &str,
) -> Finding {
    let t = &change.target;
    let container = match &t.container {
        Some(c) => w.containers.iter().find(|(n, _)| {
            render_name(n, &r.name, &charts[ci].name, None, None).as_deref() == Some(c.as_str())
        }),
        None if w.containers.len() == 1 => w.containers.first(),
        None => None,
    };
    let mut sites = Vec::new();
    for key in change.set.keys() {
        let (path, tline): (Vec<String>, usize) = if *key == SetKey::Replicas {
            match &w.replicas {
                Some(p) => (p.clone(), 0),
                None => {
                    return Finding::Blocked(format!("{tfile} does not take replicas from values"));
                }
            }
        } else {
            let Some((_, res)) = container else {
                return Finding::Blocked(format!(
                    "{tfile} has no container {:?} in {} {}",
                    t.container,
                    t.kind.as_str(),
                    t.name
                ));
            };
            let Some((g, f)) = key.resource_path() else {
                continue;
            };
            match res {
                Resources::Block(p, line) => (
                    p.iter()
                        .cloned()
                        .chain([g.to_string(), f.to_string()])
                        .collect(),
                    *line,
                ),
                Resources::Fields(fields, line) => {
                    match fields.iter().find(|(gg, ff, _)| gg == g && ff == f) {
                        Some((_, _, p)) => (p.clone(), *line),
                        None => {
                            return Finding::Blocked(format!(
                                "{tfile} line {line} does not render {g}.{f} from values"
                            ));
                        }
                    }
                }
                Resources::Computed(expr, line) => {
                    return Finding::Blocked(format!(
                        "the container's resources in {tfile} line {line} are computed by `{expr}`, not read from a values key: no values file controls {}",
                        key.as_str()
                    ));
                }
                Resources::None => {
                    return Finding::Blocked(format!(
                        "{tfile} renders no resources for the container"
                    ));
                }
            }
        };
        let dotted = path.join(".");
        // the last layer that sets the path wins
        let winner = ls
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, l)| layer_get(l, &path).map(|n| (i, n)));
        // files of this release that no other release reads
        let own = |f: usize| {
            !rels.iter().any(|o| {
                !std::ptr::eq(o, r)
                    && (o.pointer_file == f
                        || layers(repo, charts, o, o.chart)
                            .iter()
                            .any(|l| l.file == Some(f)))
            })
        };
        let shared_with = |f: usize| -> Vec<String> {
            rels.iter()
                .filter(|o| {
                    !std::ptr::eq(*o, r)
                        && layers(repo, charts, o, o.chart)
                            .iter()
                            .any(|l| l.file == Some(f))
                })
                .map(|o| {
                    format!(
                        "release {} on {}",
                        o.name,
                        o.cluster.as_deref().unwrap_or("an unknown cluster")
                    )
                })
                .collect()
        };
        let (layer_idx, slot) = match winner {
            Some((i, node))
                if ls[i].file.is_some_and(own)
                    || ls
                        .iter()
                        .all(|l| l.file.is_none_or(|f| shared_with(f).is_empty())) =>
            {
                if matches!(node, Node::Alias { .. }) {
                    return Finding::Candidate(Candidate {
                        file: ls[i].label.clone(),
                        line: line_of(&repo.files[ls[i].file.unwrap_or(0)].text, node.span().start),
                        reason: format!(
                            "`{dotted}` is an alias of an anchor that other keys share"
                        ),
                    });
                }
                (i, Slot::Yaml { node: node.clone() })
            }
            _ => {
                // add the key to the release's own, most specific values file
                let target_layer = ls
                    .iter()
                    .enumerate()
                    .rev()
                    .find(|(_, l)| l.file.is_some_and(own));
                match target_layer
                    .and_then(|(i, l)| insert_point(l, &path).map(|(p, rest)| (i, p, rest)))
                {
                    Some((i, parent, rest)) if !rest.is_empty() => (
                        i,
                        Slot::YamlInsert {
                            parent: parent.clone(),
                            path: rest,
                        },
                    ),
                    _ => {
                        let (f, n) = match winner {
                            Some((i, n)) => (
                                ls[i].label.clone(),
                                line_of(&repo.files[ls[i].file.unwrap_or(0)].text, n.span().start),
                            ),
                            None => (ls.last().map(|l| l.label.clone()).unwrap_or_default(), 1),
                        };
                        let others = winner
                            .and_then(|(i, _)| ls[i].file)
                            .map(shared_with)
                            .unwrap_or_default();
                        return Finding::Candidate(Candidate {
                            file: f,
                            line: n,
                            reason: format!(
                                "`{dotted}` for {reason_release} is set in a values file that {} also read, and the release has no values file of its own to override it in",
                                if others.is_empty() {
                                    "other releases".into()
                                } else {
                                    others.join(", ")
                                }
                            ),
                        });
                    }
                }
            }
        };
        let l = &ls[layer_idx];
        let Some(file) = l.file else { continue };
        let at = match &slot {
            Slot::Yaml { node } => node.span().start,
            Slot::YamlInsert { parent, .. } => parent.span().start,
            _ => 0,
        };
        let line = line_of(&repo.files[file].text, at);
        let how = match &slot {
            Slot::YamlInsert { .. } => format!(
                "added to {} (the release's own values file; the key is not set there yet)",
                l.label
            ),
            _ => format!(
                "set in {} line {line}, the last values file of the release that sets it",
                l.label
            ),
        };
        sites.push(Site {
            file,
            key: *key,
            slot,
            write: WriteAs::Value,
            explanation: format!(
                "`{}` of {} {} on {} is rendered by {tfile}{} from `.Values.{dotted}`; {how}. The values come from {reason_release}.",
                key.as_str(),
                t.kind.as_str(),
                t.name,
                t.cluster,
                if tline > 0 { format!(" line {tline}") } else { String::new() },
            ),
        });
    }
    let _ = TargetKind::Deployment;
    Finding::Resolved(Resolution {
        sites,
        summary: format!("{} {} from {reason_release}", t.kind.as_str(), t.name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_render_like_helm() {
        assert_eq!(
            render_name(
                "{{ include \"checkout.fullname\" . }}",
                "checkout",
                "checkout",
                None,
                None
            )
            .as_deref(),
            Some("checkout")
        );
        assert_eq!(
            render_name(
                "{{ include \"x.fullname\" . }}",
                "prod",
                "checkout",
                None,
                None
            )
            .as_deref(),
            Some("prod-checkout")
        );
        assert_eq!(
            render_name("{{ .Release.Name }}-api", "shop", "api", None, None).as_deref(),
            Some("shop-api")
        );
        assert_eq!(
            render_name("{{ .Values.name }}", "a", "b", None, None),
            None
        );
        assert_eq!(
            values_path("{{- toYaml .Values.resources | nindent 12 }}"),
            Some(vec!["resources".to_string()])
        );
    }
}
