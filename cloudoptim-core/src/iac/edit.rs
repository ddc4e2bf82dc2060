//! Byte-minimal edits: the new value is written over the old one's bytes in the old one's
//! style, lists grow or shrink line by line, and the result is re-parsed and re-located before
//! anything is written.

use std::ops::Range;

use hcl_edit::Span;
use hcl_edit::expr::Expression;

use super::yaml::{self, Node, Style, column_of, line_end, line_start, write_scalar};
use super::{
    Change, Editor, Finding, IacError, Repo, Resolution, Result, SetKey, SetValue, Site, Slot,
    WriteAs,
};

/// The built-in editor: splices bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpliceEditor;

/// The strings a site must hold after the change.
fn wanted(change: &Change, site: &Site) -> Vec<String> {
    let v = &change.set[&site.key];
    match site.write {
        WriteAs::Value => v.strings(),
        WriteAs::First => vec![v.first()],
        WriteAs::KarpenterCapacity => vec![if v.first() == "SPOT" {
            "spot".into()
        } else {
            "on-demand".into()
        }],
        WriteAs::SpotFlag => vec![if v.first() == "SPOT" {
            "true".into()
        } else {
            "false".into()
        }],
        WriteAs::Nth(i) => v.strings().get(i).cloned().into_iter().collect(),
    }
}

struct Splice {
    range: Range<usize>,
    text: String,
}

fn hcl_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Rewrites a list whose elements sit one per line (HCL multi-line arrays, YAML block
/// sequences): elements are replaced in place, extra lines removed, new lines added in the
/// style of the last element.
fn splice_list(
    text: &str,
    elems: &[Range<usize>],
    items: &[String],
    quote: &dyn Fn(&str, &str) -> String,
    out: &mut Vec<Splice>,
) -> std::result::Result<(), String> {
    if elems.is_empty() {
        return Err("cannot grow an empty list in place".into());
    }
    // one element per line, or this is not a line list
    for w in elems.windows(2) {
        if line_start(text, w[0].start) == line_start(text, w[1].start) {
            return Err("list elements share a line".into());
        }
    }
    let n = elems.len().min(items.len());
    for i in 0..n {
        out.push(Splice {
            range: elems[i].clone(),
            text: quote(&text[elems[i].clone()], &items[i]),
        });
    }
    if items.len() < elems.len() {
        let from = line_start(text, elems[items.len()].start);
        let last = elems[elems.len() - 1].end;
        let to = (line_end(text, last) + 1).min(text.len());
        // a kept last element must not end with a separator the grammar does not allow: HCL and
        // YAML both accept a trailing comma (HCL) or none (YAML block list), so nothing to fix
        out.push(Splice {
            range: from..to,
            text: String::new(),
        });
    } else if items.len() > elems.len() {
        let last = elems[elems.len() - 1].clone();
        let ls = line_start(text, last.start);
        let le = line_end(text, last.end);
        let prefix = &text[ls..last.start];
        let after = &text[last.end..le];
        let comma = after.trim_start().starts_with(',');
        let mut add = String::new();
        if !comma && prefix.trim().is_empty() && text[..ls].trim_end().ends_with('[') {
            // HCL list without a trailing comma: add one to the old last element
            out.push(Splice {
                range: last.end..last.end,
                text: ",".into(),
            });
        }
        let needs_comma = comma || (prefix.trim().is_empty() && !prefix.contains('-'));
        for (i, it) in items[elems.len()..].iter().enumerate() {
            let is_last = i + elems.len() == items.len() - 1;
            add.push('\n');
            add.push_str(prefix);
            add.push_str(&quote(&text[last.clone()], it));
            if needs_comma && (comma || !is_last) {
                add.push(',');
            }
        }
        out.push(Splice {
            range: le..le,
            text: add,
        });
    }
    Ok(())
}

fn hcl_edit_value(
    text: &str,
    span: &Range<usize>,
    want: &[String],
    write: WriteAs,
    out: &mut Vec<Splice>,
) -> std::result::Result<(), String> {
    let old = &text[span.clone()];
    let expr: Expression =
        hcl_edit::parser::parse_expr(old).map_err(|e| format!("cannot re-read {old:?}: {e}"))?;
    match &expr {
        Expression::Array(a) => {
            if write == WriteAs::First {
                return Err("a list where a single value was expected".into());
            }
            let elems: Vec<Range<usize>> = a
                .iter()
                .filter_map(|e| e.span())
                .map(|s| span.start + s.start..span.start + s.end)
                .collect();
            if !old.contains('\n') || elems.len() != a.len() {
                let inner = &old[1..old.len() - 1];
                let lead = if inner.starts_with(' ') { " " } else { "" };
                let trail = if inner.ends_with(' ') { " " } else { "" };
                let sep = if inner.contains(", ") || a.len() < 2 {
                    ", "
                } else {
                    ","
                };
                let trailing_comma = inner.trim_end().ends_with(',');
                let mut s = format!(
                    "[{lead}{}",
                    want.iter()
                        .map(|w| hcl_quote(w))
                        .collect::<Vec<_>>()
                        .join(sep)
                );
                if trailing_comma {
                    s.push(',');
                }
                s.push_str(trail);
                s.push(']');
                out.push(Splice {
                    range: span.clone(),
                    text: s,
                });
                Ok(())
            } else {
                splice_list(text, &elems, want, &|_, v| hcl_quote(v), out)
            }
        }
        Expression::String(_) => {
            let v = want.first().ok_or("no value")?;
            out.push(Splice {
                range: span.clone(),
                text: hcl_quote(v),
            });
            Ok(())
        }
        Expression::Number(_) => {
            let v = want.first().ok_or("no value")?;
            if v.parse::<f64>().is_err() {
                return Err(format!("{v:?} is not a number"));
            }
            out.push(Splice {
                range: span.clone(),
                text: v.clone(),
            });
            Ok(())
        }
        Expression::Bool(_)
            if matches!(want.first().map(String::as_str), Some("true" | "false")) =>
        {
            out.push(Splice {
                range: span.clone(),
                text: want[0].clone(),
            });
            Ok(())
        }
        _ => Err(format!("{old:?} is not a literal cloudoptim can rewrite")),
    }
}

fn scalar_style(n: &Node) -> Style {
    match n {
        Node::Scalar { style, .. } => *style,
        _ => Style::Plain,
    }
}

fn yaml_edit_value(
    text: &str,
    node: &Node,
    want: &[String],
    write: WriteAs,
    out: &mut Vec<Splice>,
) -> std::result::Result<(), String> {
    match node {
        Node::Scalar {
            style: Style::Literal | Style::Folded,
            ..
        } => Err("a block scalar cannot hold this value".into()),
        Node::Scalar { style, span, .. } => {
            let v = want.first().ok_or("no value")?;
            let text = if write == WriteAs::SpotFlag && *style == Style::Plain {
                v.clone()
            } else {
                write_scalar(v, *style)
            };
            out.push(Splice {
                range: span.clone(),
                text,
            });
            Ok(())
        }
        Node::Seq {
            items,
            flow: true,
            start,
            end,
        } => {
            if write == WriteAs::First {
                return Err("a list where a single value was expected".into());
            }
            let old = &text[*start..*end];
            let inner = &old[1..old.len().saturating_sub(1)];
            let lead = if inner.starts_with(' ') { " " } else { "" };
            let trail = if inner.ends_with(' ') { " " } else { "" };
            let sep = if inner.contains(", ") || items.len() < 2 {
                ", "
            } else {
                ","
            };
            let style = items.first().map(scalar_style).unwrap_or(Style::Plain);
            let body: Vec<String> = want.iter().map(|w| write_scalar(w, style)).collect();
            out.push(Splice {
                range: *start..*end,
                text: format!("[{lead}{}{trail}]", body.join(sep)),
            });
            Ok(())
        }
        Node::Seq {
            items, flow: false, ..
        } => {
            if items.iter().any(|i| !matches!(i, Node::Scalar { .. })) {
                return Err("the list holds more than plain values".into());
            }
            let elems: Vec<Range<usize>> = items.iter().map(Node::span).collect();
            let styles: Vec<Style> = items.iter().map(scalar_style).collect();
            let last_style = styles.last().copied().unwrap_or(Style::Plain);
            splice_list(
                text,
                &elems,
                want,
                &|old, v| {
                    let st = match old.as_bytes().first() {
                        Some(b'"') => Style::Double,
                        Some(b'\'') => Style::Single,
                        _ => last_style,
                    };
                    write_scalar(v, st)
                },
                out,
            )
        }
        _ => Err("the value there is a mapping or an alias".into()),
    }
}

/// Renders nested keys for an insert.
fn render_insert(path: &[String], value: &str, indent: usize, step: usize) -> String {
    let mut s = String::new();
    for (i, k) in path.iter().enumerate() {
        s.push('\n');
        s.push_str(&" ".repeat(indent + i * step));
        s.push_str(k);
        s.push(':');
        if i == path.len() - 1 {
            s.push(' ');
            s.push_str(&write_scalar(value, Style::Plain));
        }
    }
    s
}

fn yaml_insert(
    text: &str,
    parent: &Node,
    path: &[String],
    value: &str,
    out: &mut Vec<Splice>,
) -> std::result::Result<(), String> {
    let Node::Map {
        entries,
        flow: false,
        end,
        ..
    } = parent
    else {
        return Err("can only add keys to a block mapping".into());
    };
    let Some((first_key, _)) = entries.first() else {
        return Err("cannot add keys to an empty mapping".into());
    };
    let indent = column_of(text, first_key.span().start);
    // indentation step: from a nested mapping in the file, else 2
    let step = entries
        .iter()
        .find_map(|(k, v)| match v {
            Node::Map {
                entries: e,
                flow: false,
                ..
            } => e.first().map(|(k2, _)| {
                column_of(text, k2.span().start).saturating_sub(column_of(text, k.span().start))
            }),
            _ => None,
        })
        .filter(|s| *s > 0)
        .unwrap_or(2);
    let at = line_end(text, *end);
    let mut add = String::new();
    if indent == 0 && path.len() > 1 {
        add.push('\n');
    }
    add.push_str(&render_insert(path, value, indent, step));
    out.push(Splice {
        range: at..at,
        text: add,
    });
    Ok(())
}

impl Editor for SpliceEditor {
    fn apply(
        &self,
        repo: &Repo,
        file: usize,
        sites: &[&Site],
        change: &Change,
    ) -> std::result::Result<String, String> {
        let text = &repo.files[file].text;
        let mut splices = Vec::new();
        // inserts under the same parent are merged into one block
        let mut inserts: Vec<(&Node, Vec<String>, String)> = Vec::new();
        for s in sites {
            let want = wanted(change, s);
            match &s.slot {
                Slot::Hcl { span } => hcl_edit_value(text, span, &want, s.write, &mut splices)?,
                Slot::Yaml { node } | Slot::YamlBool { node } => {
                    yaml_edit_value(text, node, &want, s.write, &mut splices)?
                }
                Slot::YamlInsert { parent, path } => inserts.push((
                    parent,
                    path.clone(),
                    want.first().cloned().unwrap_or_default(),
                )),
            }
        }
        // merge inserts that share a parent and a key prefix: render them as one tree
        inserts.sort_by(|a, b| a.0.span().start.cmp(&b.0.span().start).then(a.1.cmp(&b.1)));
        let mut i = 0;
        while i < inserts.len() {
            let (parent, path, value) = &inserts[i];
            let mut group = vec![(path.clone(), value.clone())];
            let mut j = i + 1;
            while j < inserts.len() && inserts[j].0.span() == parent.span() {
                group.push((inserts[j].1.clone(), inserts[j].2.clone()));
                j += 1;
            }
            if group.len() == 1 {
                yaml_insert(text, parent, path, value, &mut splices)?;
            } else {
                // shared prefix, then one line per leaf
                let mut tmp = Vec::new();
                yaml_insert(text, parent, &group[0].0, &group[0].1, &mut tmp)?;
                let Some(first) = tmp.pop() else {
                    return Err("insert failed".into());
                };
                let mut block = first.text;
                for (p, v) in &group[1..] {
                    let common = p
                        .iter()
                        .zip(group[0].0.iter())
                        .take_while(|(a, b)| a == b)
                        .count();
                    let base_indent = match parent {
                        Node::Map { entries, .. } => entries
                            .first()
                            .map(|(k, _)| column_of(text, k.span().start))
                            .unwrap_or(0),
                        _ => 0,
                    };
                    block.push_str(&render_insert(&p[common..], v, base_indent + common * 2, 2));
                }
                splices.push(Splice {
                    range: first.range,
                    text: block,
                });
            }
            i = j;
        }
        splices.sort_by(|a, b| {
            b.range
                .start
                .cmp(&a.range.start)
                .then(b.range.end.cmp(&a.range.end))
        });
        for w in splices.windows(2) {
            if w[1].range.end > w[0].range.start && w[1].range != w[0].range {
                return Err("two edits overlap".into());
            }
        }
        let mut new = text.clone();
        for s in splices {
            new.replace_range(s.range, &s.text);
        }
        Ok(new)
    }
}

/// The value a site holds now, as strings.
pub(crate) fn site_value(repo: &Repo, site: &Site) -> Option<Vec<String>> {
    let text = &repo.files[site.file].text;
    match &site.slot {
        Slot::Hcl { span } => {
            let e = hcl_edit::parser::parse_expr(text.get(span.clone())?).ok()?;
            fn strs(e: &Expression) -> Option<Vec<String>> {
                match e {
                    Expression::Array(a) => a
                        .iter()
                        .map(|x| strs(x).and_then(|v| v.into_iter().next()))
                        .collect(),
                    Expression::String(s) => Some(vec![s.value().clone()]),
                    Expression::Number(n) => Some(vec![n.value().to_string()]),
                    Expression::Bool(b) => Some(vec![b.value().to_string()]),
                    _ => None,
                }
            }
            strs(&e)
        }
        Slot::Yaml { node } | Slot::YamlBool { node } => node.str_list(),
        Slot::YamlInsert { .. } => None,
    }
}

/// Checks the edited repository: the edited files parse, and locating the target again gives
/// one answer whose every site holds the requested value.
pub(crate) fn verify(
    edited: &Repo,
    change: &Change,
    findings: &[Finding],
    replaced: &[(usize, String)],
    original: &Repo,
) -> Result<()> {
    for (f, _) in replaced {
        let rel = edited.files[*f].rel.clone();
        let ok = match edited.files[*f].kind {
            super::FileKind::Yaml => yaml::parse(&edited.files[*f].text)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            _ => super::terraform::parse_hcl(&edited.files[*f].text).map(|_| ()),
        };
        if let Err(e) = ok {
            return Err(IacError::Verification {
                file: rel,
                reason: format!("the edited file no longer parses: {e}"),
            });
        }
    }
    let resolved: Vec<&Resolution> = findings
        .iter()
        .filter_map(|f| match f {
            Finding::Resolved(r) => Some(r),
            _ => None,
        })
        .collect();
    let file_of = |r: &Resolution| {
        r.sites
            .first()
            .map(|s| original.files[s.file].rel.clone())
            .unwrap_or_default()
    };
    let Some(r) = resolved.first() else {
        return Err(IacError::Verification {
            file: replaced
                .first()
                .map(|(f, _)| original.files[*f].rel.clone())
                .unwrap_or_default(),
            reason: "after the edit the target no longer resolves".into(),
        });
    };
    for s in &r.sites {
        let want = wanted(change, s);
        let got = site_value(edited, s);
        if got.as_deref() != Some(want.as_slice()) {
            return Err(IacError::Verification {
                file: file_of(r),
                reason: format!(
                    "{} reads {:?} after the edit, expected {:?}",
                    s.key.as_str(),
                    got,
                    want
                ),
            });
        }
    }
    Ok(())
}

/// Changed line ranges (1-based, inclusive, in the new text).
pub(crate) fn changed_lines(old: &str, new: &str) -> Vec<(usize, usize)> {
    let diff = similar::TextDiff::from_lines(old, new);
    let mut out = Vec::new();
    for op in diff.ops() {
        let r = op.new_range();
        if op.tag() != similar::DiffTag::Equal {
            let start = r.start + 1;
            let end = r.end.max(r.start + 1);
            out.push((start, end));
        }
    }
    out
}

/// A unified diff of one file, `a/` and `b/` prefixed.
pub fn unified_diff(rel: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{rel}"), &format!("b/{rel}"))
        .to_string()
}

const ARCH_PINS: &[&str] = &[
    "ami_type",
    "ami_id",
    "image_id",
    "amiFamily",
    "amiSelectorTerms",
    "kubernetes.io/arch",
    "arch:",
    "architecture",
];

/// Warns when an instance-type change crosses architectures, naming what pins the architecture.
pub(crate) fn arch_warnings(repo: &Repo, change: &Change, res: &Resolution) -> Vec<String> {
    let Some(SetValue::List(new)) = change.set.get(&SetKey::InstanceTypes) else {
        return vec![];
    };
    let cat = crate::catalog::Catalog::embedded();
    let arch = |t: &str| cat.get(t).map(|x| x.arch.clone());
    let new_arch: std::collections::BTreeSet<String> = new.iter().filter_map(|t| arch(t)).collect();
    let mut out = Vec::new();
    for s in res.sites.iter().filter(|s| s.key == SetKey::InstanceTypes) {
        let Some(old) = site_value(repo, s) else {
            continue;
        };
        let old_arch: std::collections::BTreeSet<String> =
            old.iter().filter_map(|t| arch(t)).collect();
        if old_arch.is_empty() || old_arch == new_arch {
            continue;
        }
        let text = &repo.files[s.file].text;
        let pins: Vec<String> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| ARCH_PINS.iter().any(|p| l.contains(p)))
            .map(|(i, l)| format!("{} line {}: {}", repo.files[s.file].rel, i + 1, l.trim()))
            .take(8)
            .collect();
        out.push(format!(
            "instance types change architecture ({} → {}): AMIs, ami_type and images must support it{}",
            old_arch.into_iter().collect::<Vec<_>>().join(", "),
            new_arch.iter().cloned().collect::<Vec<_>>().join(", "),
            if pins.is_empty() { String::new() } else { format!("; what pins the architecture: {}", pins.join("; ")) }
        ));
    }
    out
}
