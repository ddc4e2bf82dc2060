//! A YAML tree with byte spans, built from `saphyr-parser` events, for locating values and
//! splicing new bytes in without touching anything else (comments, quoting, layout).
//!
//! Only the parser's events and positions are used: nothing is re-emitted, so the file keeps
//! every byte the edit does not name.

use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle};

/// How a scalar is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `value`
    Plain,
    /// `'value'`
    Single,
    /// `"value"`
    Double,
    /// `|`
    Literal,
    /// `>`
    Folded,
}

/// A node with its byte span in the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A scalar.
    Scalar {
        /// Decoded value.
        value: String,
        /// Style.
        style: Style,
        /// Bytes of the scalar as written (quotes included; for block scalars, the content lines).
        span: Range<usize>,
    },
    /// A sequence.
    Seq {
        /// Items.
        items: Vec<Node>,
        /// `[a, b]` rather than `- a` lines.
        flow: bool,
        /// Start byte (the `[` or the first `-`).
        start: usize,
        /// End byte (after `]`, or after the last item).
        end: usize,
    },
    /// A mapping.
    Map {
        /// Entries in order.
        entries: Vec<(Node, Node)>,
        /// `{a: b}` rather than indented lines.
        flow: bool,
        /// Start byte.
        start: usize,
        /// End byte.
        end: usize,
    },
    /// An alias (`*name`).
    Alias {
        /// Position.
        span: Range<usize>,
    },
}

impl Node {
    /// The scalar value, if a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// A mapping's value by key.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map { entries, .. } => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// A mapping entry (key node and value node) by key.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match self {
            Node::Map { entries, .. } => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// Follows a dotted path of mapping keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        let mut n = self;
        for k in keys {
            n = n.get(k)?;
        }
        Some(n)
    }

    /// Sequence items.
    pub fn items(&self) -> &[Node] {
        match self {
            Node::Seq { items, .. } => items,
            _ => &[],
        }
    }

    /// Mapping entries.
    pub fn entries(&self) -> &[(Node, Node)] {
        match self {
            Node::Map { entries, .. } => entries,
            _ => &[],
        }
    }

    /// Byte span.
    pub fn span(&self) -> Range<usize> {
        match self {
            Node::Scalar { span, .. } | Node::Alias { span } => span.clone(),
            Node::Seq { start, end, .. } | Node::Map { start, end, .. } => *start..*end,
        }
    }

    /// A string list from a sequence of scalars (or a single scalar).
    pub fn str_list(&self) -> Option<Vec<String>> {
        match self {
            Node::Seq { items, .. } => items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect(),
            Node::Scalar { value, .. } => Some(vec![value.clone()]),
            _ => None,
        }
    }
}

/// A parsed YAML document.
#[derive(Debug, Clone)]
pub struct Doc {
    /// The root node.
    pub root: Node,
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct YamlError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Message.
    pub message: String,
}

/// Maps character indexes (what the parser reports) to byte offsets.
struct CharIndex {
    /// Byte offset of every char boundary, or empty when the text is ASCII.
    offsets: Vec<usize>,
    len: usize,
}

impl CharIndex {
    fn new(text: &str) -> CharIndex {
        if text.is_ascii() {
            CharIndex {
                offsets: vec![],
                len: text.len(),
            }
        } else {
            let mut offsets: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
            offsets.push(text.len());
            CharIndex {
                offsets,
                len: text.len(),
            }
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        if self.offsets.is_empty() {
            char_index.min(self.len)
        } else {
            self.offsets.get(char_index).copied().unwrap_or(self.len)
        }
    }
}

/// End of a quoted scalar starting at `start` (the parser's end position can run past trailing
/// comments, so it is recomputed from the text).
fn quoted_end(text: &str, start: usize, quote: u8) -> usize {
    let b = text.as_bytes();
    let mut i = start + 1;
    while i < b.len() {
        if quote == b'"' && b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == quote {
            if quote == b'\'' && b.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

enum Frame {
    Seq {
        items: Vec<Node>,
        flow: bool,
        start: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        pending: Option<Node>,
        flow: bool,
        start: usize,
    },
}

/// Parses every document of a YAML text.
pub fn parse(text: &str) -> Result<Vec<Doc>, YamlError> {
    let idx = CharIndex::new(text);
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut last_end = 0usize;
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| YamlError {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_string(),
        })?;
        let s = idx.byte(span.start.index());
        let e = idx.byte(span.end.index());
        let node = match ev {
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                root = None;
                continue;
            }
            Event::DocumentEnd => {
                if let Some(r) = root.take() {
                    docs.push(Doc { root: r });
                }
                continue;
            }
            Event::Scalar(value, style, _, _) => {
                let (style, span) = match style {
                    ScalarStyle::Plain => (Style::Plain, s..e),
                    ScalarStyle::SingleQuoted => (Style::Single, s..quoted_end(text, s, b'\'')),
                    ScalarStyle::DoubleQuoted => (Style::Double, s..quoted_end(text, s, b'"')),
                    ScalarStyle::Literal => (Style::Literal, s..e),
                    ScalarStyle::Folded => (Style::Folded, s..e),
                };
                last_end = span.end;
                Node::Scalar {
                    value: value.into_owned(),
                    style,
                    span,
                }
            }
            Event::Alias(_) => {
                last_end = e;
                Node::Alias { span: s..e }
            }
            Event::SequenceStart(_, _) => {
                let flow = text.as_bytes().get(s) == Some(&b'[');
                stack.push(Frame::Seq {
                    items: vec![],
                    flow,
                    start: s,
                });
                continue;
            }
            Event::MappingStart(_, _) => {
                let flow = text.as_bytes().get(s) == Some(&b'{');
                stack.push(Frame::Map {
                    entries: vec![],
                    pending: None,
                    flow,
                    start: s,
                });
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { items, flow, start }) => {
                    let end = if flow { e } else { last_end };
                    last_end = end;
                    Node::Seq {
                        items,
                        flow,
                        start,
                        end,
                    }
                }
                _ => continue,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    entries,
                    flow,
                    start,
                    ..
                }) => {
                    let end = if flow { e } else { last_end };
                    last_end = end;
                    Node::Map {
                        entries,
                        flow,
                        start,
                        end,
                    }
                }
                _ => continue,
            },
            _ => continue,
        };
        match stack.last_mut() {
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries, pending, ..
            }) => match pending.take() {
                Some(k) => entries.push((k, node)),
                None => *pending = Some(node),
            },
            None => root = Some(node),
        }
    }
    if let Some(r) = root.take() {
        docs.push(Doc { root: r });
    }
    Ok(docs)
}

/// Parses YAML held in a literal block scalar (`values: |`, an inline kustomize `patch: |-`),
/// with every span mapped back to the outer file, so edits splice into the outer file directly.
pub fn parse_embedded(text: &str, node: &Node) -> Option<Vec<Doc>> {
    let Node::Scalar {
        style: Style::Literal,
        span,
        ..
    } = node
    else {
        return None;
    };
    let k = column_of(text, span.start);
    let region_start = line_start(text, span.start);
    let region = &text[region_start..span.end.min(text.len())];
    let mut decoded = String::new();
    let mut dec_starts = Vec::new();
    let mut file_starts = Vec::new();
    let mut off = region_start;
    for line in region.split_inclusive('\n') {
        let strip = line
            .len()
            .min(k)
            .min(line.len() - line.trim_start_matches(' ').len());
        dec_starts.push(decoded.len());
        file_starts.push(off + strip);
        decoded.push_str(&line[strip..]);
        off += line.len();
    }
    let map = |o: usize| -> usize {
        let i = match dec_starts.binary_search(&o) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        file_starts
            .get(i)
            .map(|f| f + (o - dec_starts[i]))
            .unwrap_or(off)
    };
    fn remap(n: &mut Node, map: &dyn Fn(usize) -> usize) {
        match n {
            Node::Scalar { span, .. } | Node::Alias { span } => {
                *span = map(span.start)..map(span.end)
            }
            Node::Seq {
                items, start, end, ..
            } => {
                *start = map(*start);
                *end = map(*end);
                items.iter_mut().for_each(|i| remap(i, map));
            }
            Node::Map {
                entries,
                start,
                end,
                ..
            } => {
                *start = map(*start);
                *end = map(*end);
                for (a, b) in entries.iter_mut() {
                    remap(a, map);
                    remap(b, map);
                }
            }
        }
    }
    let mut docs = parse(&decoded).ok()?;
    for d in &mut docs {
        remap(&mut d.root, &map);
    }
    Some(docs)
}

/// The column (0-based, in bytes) of a byte offset.
pub fn column_of(text: &str, offset: usize) -> usize {
    let line_start = text[..offset.min(text.len())]
        .rfind('\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    offset - line_start
}

/// Start of the line holding `offset`.
pub fn line_start(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .rfind('\n')
        .map(|i| i + 1)
        .unwrap_or(0)
}

/// End of the line holding `offset` (the position of its `\n`, or the end of text).
pub fn line_end(text: &str, offset: usize) -> usize {
    text[offset.min(text.len())..]
        .find('\n')
        .map(|i| offset + i)
        .unwrap_or(text.len())
}

/// 1-based line number of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Whether a string can be written as a plain scalar without changing meaning.
pub fn plain_safe(v: &str) -> bool {
    if v.is_empty() {
        return false;
    }
    let lower = v.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "~" | "y" | "n"
    ) {
        return false;
    }
    let first = v.as_bytes()[0];
    if b"-?:,[]{}#&*!|>'\"%@` ".contains(&first) {
        return false;
    }
    !(v.contains(": ") || v.contains(" #") || v.ends_with(' ') || v.ends_with(':'))
}

/// Writes `value` as a scalar in `style` (falling back to double quotes when plain would change
/// the meaning).
pub fn write_scalar(value: &str, style: Style) -> String {
    match style {
        Style::Single => format!("'{}'", value.replace('\'', "''")),
        Style::Double => format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")),
        _ if plain_safe(value) => value.to_string(),
        _ => format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_exactly_the_written_value() {
        let t = "a: 1 # c\nb: \"x\"  # cm\nl: [m5.large, 'm6i.large']\nk:\n  - one\n  - two\nz: {p: 1}\n";
        let docs = parse(t).unwrap();
        let r = &docs[0].root;
        let b = r.get("b").unwrap();
        assert_eq!(&t[b.span()], "\"x\"");
        let l = r.get("l").unwrap();
        assert_eq!(&t[l.span()], "[m5.large, 'm6i.large']");
        assert_eq!(&t[l.items()[1].span()], "'m6i.large'");
        let k = r.get("k").unwrap();
        assert_eq!(&t[k.span()], "- one\n  - two");
        assert_eq!(r.path(&["z", "p"]).and_then(Node::as_str), Some("1"));
    }

    #[test]
    fn multi_document_and_unicode() {
        let t = "# é\na: ü\n---\nb: [x]\n";
        let docs = parse(t).unwrap();
        assert_eq!(docs.len(), 2);
        let a = docs[0].root.get("a").unwrap();
        assert_eq!(&t[a.span()], "ü");
        assert_eq!(&t[docs[1].root.get("b").unwrap().span()], "[x]");
    }

    #[test]
    fn embedded_yaml_maps_back_to_the_file() {
        let t = "spec:\n  helm:\n    values: |\n      resources:\n        requests:\n          cpu: 250m # peak\n";
        let docs = parse(t).unwrap();
        let v = docs[0].root.path(&["spec", "helm", "values"]).unwrap();
        let inner = parse_embedded(t, v).unwrap();
        let cpu = inner[0]
            .root
            .path(&["resources", "requests", "cpu"])
            .unwrap();
        assert_eq!(&t[cpu.span()], "250m");
        assert_eq!(column_of(t, inner[0].root.entries()[0].0.span().start), 6);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.line >= 1);
    }

    #[test]
    fn scalar_writing_keeps_style() {
        assert_eq!(write_scalar("500m", Style::Plain), "500m");
        assert_eq!(write_scalar("500m", Style::Double), "\"500m\"");
        assert_eq!(write_scalar("it's", Style::Single), "'it''s'");
        assert_eq!(write_scalar("yes", Style::Plain), "\"yes\"");
    }
}
