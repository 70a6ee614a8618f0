//! Reading a configuration: the TOML file parsed with its spans, `SWITCHBOARD_*` variables placed
//! over it, then deserialised and validated, with every problem located and reported at once.

// Environment values are parsed as TOML and given spans past the end of the file text, so one
// span lookup tells a file position from a variable. serde stops at the first error; the loader
// removes the offending key and tries again, which yields all of them.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeArray, DeString, DeTable, DeValue};

use super::error::{ConfigError, Diagnostic, Diagnostics, Excerpt, Origin};
use super::path::{KeyPath, Step};
use super::secret::REDACTED;
use super::validate::{self, Issue};
use super::{Config, ENV_KEYS, SECRET_KEYS};

/// Environment variables with this prefix are configuration; unknown ones are errors.
pub const ENV_PREFIX: &str = "SWITCHBOARD_";

/// The file read when no `--config` is given, if it exists.
pub const DEFAULT_FILE: &str = "switchboard.toml";

/// The documented keys, the schema behind the hints for unknown ones.
const EXAMPLE: &str = include_str!("../../../../switchboard.example.toml");

/// Deserialisation rounds before giving up on a document with more errors than that.
const MAX_PROBLEMS: usize = 64;

/// Values longer than this are shortened in messages.
const MAX_VALUE_CHARS: usize = 80;

/// A configuration as loaded, with where each value came from.
pub struct Loaded {
    pub config: Config,
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
    sources: Sources,
    nodes: Vec<Node>,
}

impl Loaded {
    /// Where the value at `path` was set: the file (line and column), a variable, or nowhere.
    pub fn origin(&self, path: &KeyPath) -> Origin {
        match self.nodes.iter().find(|n| &n.path == path) {
            Some(node) => self.sources.origin(node.value.start),
            None => Origin::Default,
        }
    }

    /// Every environment variable that set a key, with that key.
    pub fn env_overrides(&self) -> impl Iterator<Item = (&str, &str)> {
        self.sources
            .env
            .iter()
            .map(|e| (e.var.as_str(), e.key.as_str()))
    }

    /// A problem found by a check outside the loader, located like the loader's own.
    pub fn diagnostic(&self, path: &KeyPath, message: impl Into<String>) -> Diagnostic {
        Reporter {
            sources: &self.sources,
            nodes: &self.nodes,
        }
        .at_path(path, message.into())
    }
}

impl Config {
    /// Builds a config from TOML text and environment pairs (pure, for tests).
    pub fn from_sources(
        toml_text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        from_text(None, toml_text, env).map(|loaded| loaded.config)
    }
}

/// Reads `file` (or `./switchboard.toml` when it exists, or nothing) and the process
/// environment.
pub fn load(file: Option<&Path>) -> Result<Loaded, ConfigError> {
    let default_file = Path::new(DEFAULT_FILE);
    let file = file.or_else(|| default_file.exists().then_some(default_file));
    let text = match file {
        Some(path) => std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_owned(),
            error,
        })?,
        None => String::new(),
    };
    from_text(file, &text, std::env::vars())
}

/// Builds a configuration from the text of `file` and environment pairs; variables without the
/// `SWITCHBOARD_` prefix are ignored.
pub fn from_text(
    file: Option<&Path>,
    text: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Loaded, ConfigError> {
    let name = file.map_or_else(|| PathBuf::from("<config>"), Path::to_owned);
    let mut env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(var, _)| var.starts_with(ENV_PREFIX))
        .collect();
    // A stable order, so that reports do not depend on the process's.
    env.sort();
    let mut unknown = Vec::new();
    let mut offset = text.len() + 1;
    let mut known = Vec::new();
    for (var, raw) in env {
        match ENV_KEYS.iter().find(|(name, _)| *name == var) {
            Some((_, key)) => {
                let len = raw.len();
                known.push(EnvValue {
                    var,
                    key: (*key).to_owned(),
                    raw,
                    offset,
                });
                offset += len + 1;
            }
            None => unknown.push(unknown_variable(var)),
        }
    }
    let sources = Sources {
        name,
        text: text.to_owned(),
        env: known,
    };
    let analysis = analyse(&sources);
    let mut diagnostics = unknown;
    diagnostics.extend(analysis.diagnostics);
    match analysis.config {
        Some(config) if diagnostics.is_empty() => Ok(Loaded {
            config,
            file: file.map(Path::to_owned),
            sources,
            nodes: analysis.nodes,
        }),
        _ => Err(ConfigError::Invalid(Diagnostics(diagnostics))),
    }
}

fn unknown_variable(var: String) -> Diagnostic {
    // The shared prefix would make every name look alike.
    let suffix = |name: &'static str| name.strip_prefix(ENV_PREFIX).unwrap_or(name);
    let typed = var.strip_prefix(ENV_PREFIX).unwrap_or(&var);
    let hint = match closest(typed, ENV_KEYS.iter().map(|(name, _)| suffix(name))) {
        Some(name) => format!("did you mean {ENV_PREFIX}{name}?"),
        None => "`switchboard --help` lists the variables".to_owned(),
    };
    Diagnostic {
        origin: Origin::Env { var },
        key: None,
        value: None,
        message: "unknown variable: no configuration key has this name".into(),
        hint: Some(hint),
        excerpt: None,
    }
}

/// One environment override, placed at `offset` in the virtual text after the file.
struct EnvValue {
    var: String,
    key: String,
    raw: String,
    offset: usize,
}

/// The file text followed, in one address space, by the environment values.
struct Sources {
    name: PathBuf,
    text: String,
    env: Vec<EnvValue>,
}

impl Sources {
    fn env_at(&self, offset: usize) -> Option<&EnvValue> {
        self.env
            .iter()
            .find(|e| e.offset <= offset && offset <= e.offset + e.raw.len())
    }

    fn origin(&self, offset: usize) -> Origin {
        if offset <= self.text.len() {
            let (line, column) = line_column(&self.text, offset);
            return Origin::File {
                path: self.name.clone(),
                line,
                column,
            };
        }
        match self.env_at(offset) {
            Some(e) => Origin::Env { var: e.var.clone() },
            None => Origin::Default,
        }
    }

    /// The text a span covers, in the file or in a variable.
    fn slice(&self, span: &Range<usize>) -> Option<&str> {
        if span.end <= self.text.len() {
            return self.text.get(span.clone());
        }
        let e = self.env_at(span.start)?;
        e.raw.get(span.start - e.offset..span.end - e.offset)
    }

    /// The file line of `span`, to show under the message; nothing for variables.
    fn excerpt(&self, span: &Range<usize>) -> Option<Excerpt> {
        if span.start > self.text.len() {
            return None;
        }
        let (line, column) = line_column(&self.text, span.start);
        let start = self.text[..span.start].rfind('\n').map_or(0, |i| i + 1);
        let end = self.text[span.start..]
            .find('\n')
            .map_or(self.text.len(), |i| span.start + i);
        let width = self
            .text
            .get(span.start..span.end.min(end))
            .map_or(1, |s| s.chars().count());
        Some(Excerpt {
            line,
            text: self.text[start..end].to_owned(),
            column,
            width,
        })
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// A key or element of the document, with the spans of its key and value.
#[derive(Debug, Clone)]
struct Node {
    path: KeyPath,
    key: Option<Range<usize>>,
    value: Range<usize>,
    table: bool,
    /// A table or an array.
    container: bool,
}

fn index(table: &DeTable<'_>) -> Vec<Node> {
    fn table_nodes(table: &DeTable<'_>, path: &KeyPath, out: &mut Vec<Node>) {
        for (k, v) in table {
            let path = path.key(k.get_ref());
            out.push(Node {
                path: path.clone(),
                key: Some(k.span()),
                value: v.span(),
                table: v.get_ref().is_table(),
                container: is_container(v.get_ref()),
            });
            value_nodes(v.get_ref(), &path, out);
        }
    }
    fn value_nodes(value: &DeValue<'_>, path: &KeyPath, out: &mut Vec<Node>) {
        match value {
            DeValue::Table(t) => table_nodes(t, path, out),
            DeValue::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    let path = path.index(i);
                    out.push(Node {
                        path: path.clone(),
                        key: None,
                        value: v.span(),
                        table: v.get_ref().is_table(),
                        container: is_container(v.get_ref()),
                    });
                    value_nodes(v.get_ref(), &path, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    table_nodes(table, &KeyPath::root(), &mut out);
    out
}

fn is_container(value: &DeValue<'_>) -> bool {
    value.is_table() || value.is_array()
}

/// The innermost node whose key or value contains `span`, and whether it was the key.
fn node_at<'n>(nodes: &'n [Node], span: &Range<usize>) -> Option<(&'n Node, bool)> {
    let contains = |r: &Range<usize>| r.start <= span.start && span.end <= r.end;
    nodes
        .iter()
        .flat_map(|n| {
            let by_value = contains(&n.value).then_some((n, false, n.value.len()));
            let by_key = n
                .key
                .as_ref()
                .filter(|k| contains(k))
                .map(|k| (n, true, k.len()));
            by_value.into_iter().chain(by_key)
        })
        .min_by_key(|(n, is_key, len)| (*len, usize::MAX - n.path.0.len(), *is_key))
        .map(|(n, is_key, _)| (n, is_key))
}

struct Analysis {
    config: Option<Config>,
    nodes: Vec<Node>,
    diagnostics: Vec<Diagnostic>,
}

fn analyse(sources: &Sources) -> Analysis {
    let (mut doc, syntax) = DeTable::parse_recoverable(&sources.text);
    let mut diagnostics: Vec<Diagnostic> = syntax
        .iter()
        .map(|e| {
            let span = e.span().unwrap_or(0..0);
            Diagnostic {
                origin: sources.origin(span.start),
                key: None,
                value: None,
                message: format!("TOML syntax: {}", first_line(e.message())),
                hint: None,
                excerpt: sources.excerpt(&span).map(redact_secret_line),
            }
        })
        .collect();
    if !diagnostics.is_empty() {
        return Analysis {
            config: None,
            nodes: Vec::new(),
            diagnostics,
        };
    }
    for e in &sources.env {
        let value = env_value(&e.raw, e.offset);
        if let Err(message) = set_path(doc.get_mut(), &KeyPath::dotted(&e.key), value, e) {
            diagnostics.push(Diagnostic {
                origin: Origin::Env { var: e.var.clone() },
                key: Some(e.key.clone()),
                value: None,
                message,
                hint: None,
                excerpt: None,
            });
        }
    }
    let nodes = index(doc.get_ref());
    let reporter = Reporter {
        sources,
        nodes: &nodes,
    };
    let (config, problems) = deserialize_all(&doc);
    let mut located: Vec<(usize, Diagnostic)> = problems
        .iter()
        .map(|p| (p.span.start, reporter.problem(p)))
        .collect();
    let config = config.filter(|config| {
        let issues: Vec<Issue> = validate::validate(config)
            .into_iter()
            .filter(|issue| {
                // A problem already reported (and so removed) makes checks around it moot.
                !problems
                    .iter()
                    .any(|p| p.path.starts_with(&issue.path) || issue.path.starts_with(&p.path))
            })
            .collect();
        for issue in &issues {
            let offset = nodes
                .iter()
                .find(|n| n.path == issue.path)
                .map_or(usize::MAX, |n| n.value.start);
            located.push((offset, reporter.at_path(&issue.path, issue.message.clone())));
        }
        issues.is_empty() && problems.is_empty()
    });
    located.sort_by_key(|(offset, _)| *offset);
    diagnostics.extend(located.into_iter().map(|(_, d)| d));
    Analysis {
        config,
        nodes,
        diagnostics,
    }
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message)
}

/// A value parsed as TOML when it is one other than a string (numbers, booleans, arrays such as
/// `["a@localhost"]` or `[{domain = "rest.localhost"}]`), else the raw text as a string; spans
/// are moved to the variable's place after the file.
fn env_value(raw: &str, offset: usize) -> Spanned<DeValue<'_>> {
    match DeValue::parse(raw) {
        Ok(v) if !v.get_ref().is_str() => shift(v, offset),
        _ => Spanned::new(
            offset..offset + raw.len(),
            DeValue::String(DeString::Borrowed(raw)),
        ),
    }
}

fn shift(value: Spanned<DeValue<'_>>, by: usize) -> Spanned<DeValue<'_>> {
    let span = value.span();
    let value = match value.into_inner() {
        DeValue::Array(items) => DeValue::Array(items.into_iter().map(|v| shift(v, by)).collect()),
        DeValue::Table(table) => DeValue::Table(
            table
                .into_iter()
                .map(|(k, v)| {
                    let span = k.span();
                    (
                        Spanned::new(span.start + by..span.end + by, k.into_inner()),
                        shift(v, by),
                    )
                })
                .collect(),
        ),
        other => other,
    };
    Spanned::new(span.start + by..span.end + by, value)
}

/// Puts an environment value at `path` (keys only), creating tables on the way.
fn set_path<'i>(
    table: &mut DeTable<'i>,
    path: &KeyPath,
    value: Spanned<DeValue<'i>>,
    env: &EnvValue,
) -> Result<(), String> {
    let span = env.offset..env.offset + env.raw.len();
    let mut current = table;
    let steps: Vec<&str> = path
        .0
        .iter()
        .filter_map(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            Step::Index(_) => None,
        })
        .collect();
    let Some((last, parents)) = steps.split_last() else {
        return Err("empty key".into());
    };
    for part in parents {
        if !current.contains_key(*part) {
            current.insert(
                Spanned::new(span.clone(), DeString::Owned((*part).to_owned())),
                Spanned::new(span.clone(), DeValue::Table(DeTable::new())),
            );
        }
        current = match current.get_mut(*part).map(Spanned::get_mut) {
            Some(DeValue::Table(t)) => t,
            _ => {
                return Err(format!(
                    "`{part}` is not a table in the configuration file, so it cannot take this key"
                ));
            }
        };
    }
    current.remove(*last);
    current.insert(
        Spanned::new(span, DeString::Owned((*last).to_owned())),
        value,
    );
    Ok(())
}

/// A problem found while deserialising, on a node of the document.
struct Problem {
    path: KeyPath,
    span: Range<usize>,
    /// The node is an unknown key (the span is the key's).
    unknown_key: bool,
    table: bool,
    message: String,
}

fn try_config(doc: &Spanned<DeTable<'_>>) -> Result<Config, toml::de::Error> {
    Config::deserialize(toml::de::Deserializer::from(doc.clone()))
}

/// Deserialises, and on each error records it, removes the offending key and tries again.
fn deserialize_all(doc: &Spanned<DeTable<'_>>) -> (Option<Config>, Vec<Problem>) {
    let original = index(doc.get_ref());
    let mut work = doc.clone();
    let mut problems: Vec<Problem> = Vec::new();
    while problems.len() < MAX_PROBLEMS {
        let error = match try_config(&work) {
            Ok(config) => return (Some(config), problems),
            Err(e) => e,
        };
        let nodes = index(work.get_ref());
        let Some(culprit) = culprit(&work, &nodes, &error) else {
            problems.push(Problem {
                path: KeyPath::root(),
                span: error.span().unwrap_or(0..0),
                unknown_key: false,
                table: true,
                message: error.message().to_owned(),
            });
            return (None, problems);
        };
        // Paths in `work` shift as elements go; the original's name the file's elements.
        let path = original
            .iter()
            .find(|n| {
                let span = if culprit.unknown_key {
                    n.key.as_ref()
                } else {
                    Some(&n.value)
                };
                span == Some(&culprit.span) && n.path.0.len() == culprit.path.0.len()
            })
            .map_or_else(|| culprit.path.clone(), |n| n.path.clone());
        if !remove(work.get_mut(), &culprit.path) {
            problems.push(Problem { path, ..culprit });
            return (None, problems);
        }
        problems.push(Problem { path, ..culprit });
    }
    (None, problems)
}

/// The node an error is about. Errors inside a struct with flattened fields carry the span of
/// the whole table, and errors in array elements that of the array; then the key is found by
/// name, or by which removal makes the error go away.
fn culprit(
    work: &Spanned<DeTable<'_>>,
    nodes: &[Node],
    error: &toml::de::Error,
) -> Option<Problem> {
    let span = error.span()?;
    let (node, is_key) = node_at(nodes, &span)?;
    let unknown = unknown_field(error.message());
    if is_key || !node.container {
        return Some(Problem {
            path: node.path.clone(),
            span: if is_key {
                node.key.clone().unwrap_or(span)
            } else {
                node.value.clone()
            },
            unknown_key: is_key && unknown.is_some(),
            table: node.table,
            message: error.message().to_owned(),
        });
    }
    let children = nodes.iter().filter(|n| n.path.parent() == node.path);
    if let Some(name) = unknown
        && let Some(child) = nodes.iter().find(|n| n.path == node.path.key(name))
    {
        return Some(Problem {
            path: child.path.clone(),
            span: child.key.clone().unwrap_or_else(|| child.value.clone()),
            unknown_key: true,
            table: child.table,
            message: error.message().to_owned(),
        });
    }
    for child in children {
        let mut trial = work.clone();
        remove(trial.get_mut(), &child.path);
        let gone = match try_config(&trial) {
            Ok(_) => true,
            Err(e) => e.message() != error.message() || e.span() != error.span(),
        };
        if gone {
            return Some(Problem {
                path: child.path.clone(),
                span: child.value.clone(),
                unknown_key: false,
                table: child.table,
                message: error.message().to_owned(),
            });
        }
    }
    Some(Problem {
        path: node.path.clone(),
        span: node.value.clone(),
        unknown_key: false,
        table: node.table,
        message: error.message().to_owned(),
    })
}

/// The name in serde's "unknown field `name`, expected …".
fn unknown_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name)
}

/// Removes the key or element at `path`; false when there is none.
fn remove(table: &mut DeTable<'_>, path: &KeyPath) -> bool {
    fn in_table<'i>(table: &mut DeTable<'i>, steps: &[Step]) -> bool {
        match steps {
            [Step::Key(k)] => table.remove(k.as_str()).is_some(),
            [Step::Key(k), rest @ ..] => table
                .get_mut(k.as_str())
                .is_some_and(|v| in_value(v.get_mut(), rest)),
            _ => false,
        }
    }
    fn in_value<'i>(value: &mut DeValue<'i>, steps: &[Step]) -> bool {
        match (value, steps) {
            (DeValue::Table(t), steps) => in_table(t, steps),
            (DeValue::Array(items), [Step::Index(i)]) if *i < items.len() => {
                let kept = std::mem::replace(items, DeArray::new())
                    .into_iter()
                    .enumerate()
                    .filter(|(j, _)| j != i)
                    .map(|(_, v)| v);
                *items = kept.collect();
                true
            }
            (DeValue::Array(items), [Step::Index(i), rest @ ..]) => items
                .get_mut(*i)
                .is_some_and(|v| in_value(v.get_mut(), rest)),
            _ => false,
        }
    }
    in_table(table, &path.0)
}

/// Turns located problems and check results into diagnostics.
struct Reporter<'a> {
    sources: &'a Sources,
    nodes: &'a [Node],
}

impl Reporter<'_> {
    fn problem(&self, p: &Problem) -> Diagnostic {
        if p.unknown_key {
            return self.unknown_key(p);
        }
        let message = explain(&p.message);
        Diagnostic {
            origin: self.sources.origin(p.span.start),
            key: (!p.path.0.is_empty()).then(|| p.path.to_string()),
            value: self.value_text(&p.path, &p.span, p.table),
            message,
            hint: None,
            excerpt: self.excerpt(&p.path, &p.span),
        }
    }

    fn at_path(&self, path: &KeyPath, message: String) -> Diagnostic {
        match self.nodes.iter().find(|n| &n.path == path) {
            Some(node) => Diagnostic {
                origin: self.sources.origin(node.value.start),
                key: Some(path.to_string()),
                value: self.value_text(path, &node.value, node.table),
                message,
                hint: None,
                excerpt: self.excerpt(path, &node.value),
            },
            None => Diagnostic {
                origin: Origin::Default,
                key: Some(path.to_string()),
                value: None,
                message,
                hint: None,
                excerpt: None,
            },
        }
    }

    fn value_text(&self, path: &KeyPath, span: &Range<usize>, table: bool) -> Option<String> {
        if table {
            return None;
        }
        if is_secret(path) {
            return Some(REDACTED.to_owned());
        }
        let text = self.sources.slice(span)?.trim();
        if (text.starts_with('[') || text.starts_with('{')) && holds_secret(path) {
            return Some(REDACTED.to_owned());
        }
        Some(if text.chars().count() > MAX_VALUE_CHARS {
            let cut: String = text.chars().take(MAX_VALUE_CHARS).collect();
            format!("{cut}…")
        } else {
            text.to_owned()
        })
    }

    /// The file line, except for secrets, whose line would show them.
    fn excerpt(&self, path: &KeyPath, span: &Range<usize>) -> Option<Excerpt> {
        if holds_secret(path) {
            None
        } else {
            self.sources.excerpt(span)
        }
    }

    fn unknown_key(&self, p: &Problem) -> Diagnostic {
        let name = p.path.last_key().unwrap_or_default();
        let table = p.path.parent();
        let place = match table.0.last() {
            None => "at the top level".to_owned(),
            Some(Step::Index(i)) => {
                let header = table.parent().generic();
                let line = self.nodes.iter().find(|n| n.path == table).map(|n| {
                    match self.sources.origin(n.value.start) {
                        Origin::File { line, .. } => format!(", which starts at line {line}"),
                        _ => String::new(),
                    }
                });
                format!("in [[{header}]] #{}{}", i + 1, line.unwrap_or_default())
            }
            Some(Step::Key(_)) => format!("in [{table}]"),
        };
        Diagnostic {
            origin: self.sources.origin(p.span.start),
            key: Some(p.path.to_string()),
            value: None,
            message: format!("unknown key `{name}` {place}"),
            hint: self.unknown_key_hint(name, &table),
            // Only the key: an unknown key may be a misspelt secret.
            excerpt: self.sources.excerpt(&p.span).map(key_only),
        }
    }

    fn unknown_key_hint(&self, name: &str, table: &KeyPath) -> Option<String> {
        let schema = schema();
        let here = table.generic();
        let parent_of = |key: &str| key.rsplit_once('.').map_or("", |(p, _)| p).to_owned();
        let elsewhere = schema
            .iter()
            .find(|key| key.rsplit('.').next() == Some(name) && parent_of(key) != here);
        if let Some(key) = elsewhere {
            let parent = parent_of(key);
            if parent.is_empty() {
                let first_header = self
                    .sources
                    .text
                    .lines()
                    .position(|l| l.trim_start().starts_with('['))
                    .map(|i| format!(" (line {})", i + 1))
                    .unwrap_or_default();
                return Some(format!(
                    "`{name}` is a top-level key; a key belongs to the nearest [table] header above \
                     it, so move it above the first header{first_header}"
                ));
            }
            return Some(match parent.strip_suffix("[]") {
                Some(array) => format!("`{name}` belongs in a [[{array}]] table"),
                None => format!("`{name}` belongs in [{parent}]"),
            });
        }
        let siblings: Vec<&str> = schema
            .iter()
            .filter(|key| parent_of(key) == here)
            .filter_map(|key| key.rsplit('.').next())
            .collect();
        match closest(name, siblings.iter().copied()) {
            Some(key) => Some(format!("did you mean `{key}`?")),
            None if !siblings.is_empty() => {
                Some(format!("known keys here: {}", siblings.join(", ")))
            }
            None => None,
        }
    }
}

/// The candidate most like `typed`, if any is like it at all (a typo, a swap, a letter missing).
fn closest<'a>(typed: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| {
            (
                strsim::jaro_winkler(&typed.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// A syntax error's line with the value of a secret key (by its name) replaced.
fn redact_secret_line(mut excerpt: Excerpt) -> Excerpt {
    let names: Vec<&str> = SECRET_KEYS
        .iter()
        .filter_map(|k| k.rsplit('.').next())
        .collect();
    if let Some((key, _)) = excerpt.text.split_once('=')
        && names.contains(&key.trim())
    {
        excerpt.text = format!("{}= {REDACTED}", &excerpt.text[..key.len()]);
    }
    excerpt
}

/// The excerpt cut after the underlined key.
fn key_only(mut excerpt: Excerpt) -> Excerpt {
    let end = excerpt.column - 1 + excerpt.width;
    if excerpt.text.chars().count() > end {
        excerpt.text = excerpt.text.chars().take(end).collect::<String>() + " = …";
    }
    excerpt
}

fn is_secret(path: &KeyPath) -> bool {
    let generic = path.generic();
    SECRET_KEYS.iter().any(|s| generic.starts_with(s))
}

/// Whether a secret may lie at or below `path`.
fn holds_secret(path: &KeyPath) -> bool {
    let generic = path.generic();
    SECRET_KEYS
        .iter()
        .any(|s| s.starts_with(&generic) || generic.starts_with(s))
}

/// serde's messages in the words of the configuration file.
fn explain(message: &str) -> String {
    if let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        && let Some((found, expected)) = rest.rsplit_once(", expected ")
    {
        return format!("expected {}, found {found}", expected_words(expected));
    }
    if let Some(rest) = message.strip_prefix("unknown variant ")
        && let Some((_, expected)) = rest.split_once(", expected ")
    {
        return format!("expected {}", expected.replace("one of ", "one of: "));
    }
    match message {
        "invalid socket address syntax" => {
            "expected a socket address like 127.0.0.1:5280 or [::1]:5280".into()
        }
        "invalid IP address syntax" => "expected an IP address like 127.0.0.1".into(),
        other => other.to_owned(),
    }
}

fn expected_words(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a string" => "a string in quotes".into(),
        "a sequence" => "an array like [\"a\", \"b\"]".into(),
        "path string" => "a path in quotes".into(),
        e if e.starts_with("struct ") || e == "a map" => "a table".into(),
        e => e.to_owned(),
    }
}

/// The example with its optional keys (shown commented out) uncommented.
pub fn uncommented_example() -> String {
    EXAMPLE
        .lines()
        .map(|l| {
            l.strip_prefix("# ")
                .filter(|r| r.starts_with('[') || is_key_line(r))
                .unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `key = value` with a lower-case key: a commented-out setting, not prose.
fn is_key_line(line: &str) -> bool {
    line.split_once(" = ").is_some_and(|(key, _)| {
        !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
    })
}

/// Every documented key in generic form (`http.addr`, `component[].domain`), tables included.
fn schema() -> Vec<String> {
    fn walk(table: &toml::Table, path: &KeyPath, out: &mut Vec<String>) {
        for (k, v) in table {
            let path = path.key(k);
            out.push(path.generic());
            match v {
                toml::Value::Table(t) => walk(t, &path, out),
                toml::Value::Array(items) => {
                    for item in items {
                        if let toml::Value::Table(t) = item {
                            walk(t, &path.index(0), out);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    if let Ok(table) = uncommented_example().parse::<toml::Table>() {
        walk(&table, &KeyPath::root(), &mut out);
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn no_env() -> Vec<(String, String)> {
        Vec::new()
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn problems(text: &str, env: Vec<(String, String)>) -> Vec<Diagnostic> {
        let name = Path::new("switchboard.toml");
        match from_text(Some(name), text, env) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.diagnostics().to_vec(),
        }
    }

    fn at(line: usize, column: usize) -> Origin {
        Origin::File {
            path: "switchboard.toml".into(),
            line,
            column,
        }
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = Config::from_sources("", no_env()).unwrap();
        assert_eq!(c.domain, "localhost");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.http.addr.to_string(), "127.0.0.1:5280");
        assert_eq!(c.c2s.addr.to_string(), "127.0.0.1:5222");
        assert_eq!(c.limits.max_stanza_bytes, 262_144);
        assert_eq!(c.limits.max_depth, 32);
        assert_eq!(c.log_format, crate::config::LogFormat::Text);
    }

    #[test]
    fn unknown_key_is_named_with_its_place() {
        let d = problems("domian = 'x'", no_env());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].origin, at(1, 1));
        assert_eq!(d[0].key.as_deref(), Some("domian"));
        assert_eq!(d[0].message, "unknown key `domian` at the top level");
        assert_eq!(d[0].hint.as_deref(), Some("did you mean `domain`?"));

        let d = problems("[http]\nadress = '1.2.3.4:1'", no_env());
        assert_eq!(d[0].origin, at(2, 1));
        assert_eq!(d[0].message, "unknown key `adress` in [http]");
        assert_eq!(d[0].hint.as_deref(), Some("did you mean `addr`?"));

        let d = problems("[http]\nmax_depth = 3", no_env());
        assert_eq!(
            d[0].hint.as_deref(),
            Some("`max_depth` belongs in [limits]")
        );
    }

    #[test]
    fn admins_after_a_component_block() {
        let text = "domain = 'localhost'\n\n[[component]]\ndomain = 'rest.localhost'\n\
                    rest_credentials = 'Bearer x'\nadmins = ['boss@localhost']\n";
        let d = problems(text, no_env());
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].origin, at(6, 1));
        assert_eq!(d[0].key.as_deref(), Some("component[0].admins"));
        assert_eq!(
            d[0].message,
            "unknown key `admins` in [[component]] #1, which starts at line 3"
        );
        let hint = d[0].hint.as_deref().unwrap();
        assert!(hint.starts_with("`admins` is a top-level key"), "{hint}");
        assert!(hint.ends_with("(line 3)"), "{hint}");
        assert_eq!(d[0].excerpt.as_ref().unwrap().text, "admins = …");
    }

    #[test]
    fn bad_value_names_key_value_and_expectation() {
        let d = problems("[http]\naddr = \"nonsense\"\n", no_env());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].origin, at(2, 8));
        assert_eq!(d[0].key.as_deref(), Some("http.addr"));
        assert_eq!(d[0].value.as_deref(), Some("\"nonsense\""));
        assert!(
            d[0].message
                .contains("a socket address like 127.0.0.1:5280"),
            "{}",
            d[0].message
        );
        let shown = d[0].to_string();
        assert!(
            shown.starts_with("switchboard.toml:2:8: http.addr = \"nonsense\": expected"),
            "{shown}"
        );

        let d = problems("[limits]\nmax_depth = -1\n", no_env());
        assert_eq!(
            d[0].message,
            "expected a whole number, 0 or more, found integer `-1`"
        );
        let d = problems("log_format = 'xml'\n", no_env());
        assert_eq!(d[0].message, "expected `text` or `json`");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = "domian = 'x'\nadmins = ['ok@localhost', 'localhost', 'dave@localhost/res']\n\
                    [http]\naddr = 'nonsense'\nallow_plaintext = 'yes'\n[limits]\nmax_depth = 0\n";
        let d = problems(text, env(&[("SWITCHBOARD_DOMIAN", "x")]));
        let keys: Vec<_> = d
            .iter()
            .map(|d| d.key.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            keys,
            [
                "",
                "domian",
                "admins[1]",
                "admins[2]",
                "http.addr",
                "http.allow_plaintext",
                "limits.max_depth"
            ],
            "{d:#?}"
        );
        assert_eq!(
            d[0].origin,
            Origin::Env {
                var: "SWITCHBOARD_DOMIAN".into()
            }
        );
        assert_eq!(
            d[0].hint.as_deref(),
            Some("did you mean SWITCHBOARD_DOMAIN?")
        );
        assert!(
            d[3].message.contains("without a /resource"),
            "{}",
            d[3].message
        );
        assert_eq!(d[6].origin, at(7, 13));
    }

    #[test]
    fn syntax_errors_are_located() {
        let d = problems("domain = 'a'\n[http\naddr = 3\n", no_env());
        assert!(!d.is_empty());
        assert!(matches!(d[0].origin, Origin::File { line: 2, .. }), "{d:?}");
        assert!(
            d[0].message.starts_with("TOML syntax: "),
            "{}",
            d[0].message
        );
    }

    #[test]
    fn env_overrides_file() {
        let env = env(&[
            ("SWITCHBOARD_DOMAIN", "example.org"),
            ("SWITCHBOARD_HTTP_ADDR", "127.0.0.1:9"),
            ("SWITCHBOARD_LIMITS_MAX_DEPTH", "10"),
            ("SWITCHBOARD_C2S_ALLOW_PLAINTEXT", "true"),
            ("UNRELATED", "x"),
        ]);
        let loaded = from_text(
            Some(Path::new("f.toml")),
            "domain = 'file.org'\nlog = 'debug'\n[http]\naddr='127.0.0.1:1'",
            env,
        )
        .unwrap();
        let c = &loaded.config;
        assert_eq!(c.domain, "example.org");
        assert_eq!(c.http.addr.to_string(), "127.0.0.1:9");
        assert_eq!(c.limits.max_depth, 10);
        assert!(c.c2s.allow_plaintext);
        assert_eq!(
            loaded.origin(&KeyPath::dotted("http.addr")),
            Origin::Env {
                var: "SWITCHBOARD_HTTP_ADDR".into()
            }
        );
        assert_eq!(
            loaded.origin(&KeyPath::dotted("log")),
            Origin::File {
                path: "f.toml".into(),
                line: 2,
                column: 7
            }
        );
        assert_eq!(loaded.origin(&KeyPath::dotted("c2s.addr")), Origin::Default);
    }

    #[test]
    fn bad_env_value_is_reported_with_the_variable() {
        let d = problems("", env(&[("SWITCHBOARD_C2S_ADDR", "nowhere")]));
        assert_eq!(
            d[0].origin,
            Origin::Env {
                var: "SWITCHBOARD_C2S_ADDR".into()
            }
        );
        assert_eq!(d[0].key.as_deref(), Some("c2s.addr"));
        assert_eq!(d[0].value.as_deref(), Some("nowhere"));
        let d = problems(
            "",
            env(&[(
                "SWITCHBOARD_COMPONENT",
                "[{domain = 'bot.localhost', component_secret = 's', colour = 1}]",
            )]),
        );
        assert_eq!(d[0].key.as_deref(), Some("component[0].colour"));
        assert!(matches!(d[0].origin, Origin::Env { .. }));
    }

    #[test]
    fn components_and_admins_from_file_and_env() {
        let file = "admins = ['Boss@localhost']\n[[component]]\ndomain = 'Rest.localhost'\ntype = 'rest'\nrest_credentials = 'Bearer x'\nallowed_stanza_types = ['message']\n";
        let c = Config::from_sources(file, no_env()).unwrap();
        assert_eq!(c.admins[0].to_string(), "boss@localhost");
        assert_eq!(c.component[0].domain, "rest.localhost");
        assert_eq!(c.component[0].access.allowed_stanza_types, vec!["message"]);
        let env = env(&[(
            "SWITCHBOARD_COMPONENT",
            "[{domain = 'bot.localhost', component_secret = 's'}]",
        )]);
        let c = Config::from_sources(file, env).unwrap();
        assert_eq!(c.component.len(), 1);
        assert_eq!(c.component[0].domain, "bot.localhost");
        assert!(Config::from_sources("[[component]]\ndomain = 'x.localhost'\n", no_env()).is_err());
        assert!(Config::from_sources("admins = ['localhost']", no_env()).is_err());
    }

    #[test]
    fn flattened_tables_are_located_by_key() {
        let d = problems(
            "[[component]]\ndomain = 'a.localhost'\ncomponent_secret = 's'\nallowed_ips = 1\n\
             [[component]]\ndomain = 'b.localhost'\ncomponent_secret = 's'\nallowed_ips = ['nonsense']\n",
            no_env(),
        );
        assert_eq!(d.len(), 2, "{d:#?}");
        assert_eq!(d[0].key.as_deref(), Some("component[0].allowed_ips"));
        assert_eq!(d[0].origin, at(4, 15));
        assert_eq!(d[1].key.as_deref(), Some("component[1].allowed_ips[0]"));
        assert_eq!(d[1].origin, at(8, 16));
    }

    #[test]
    fn secrets_never_appear_in_reports() {
        let d = problems(
            "[[component]]\ndomain = 'a.localhost'\nrest_credentials = 'hunter2'\n",
            no_env(),
        );
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].key.as_deref(), Some("component[0].rest_credentials"));
        assert_eq!(d[0].value.as_deref(), Some(REDACTED));
        assert!(!d[0].to_string().contains("hunter2"), "{}", d[0]);
        let d = problems(
            "",
            env(&[(
                "SWITCHBOARD_COMPONENT",
                "[{domain = 'localhost', rest_credentials = 'Bearer hunter2'}]",
            )]),
        );
        assert!(!format!("{d:?}").contains("hunter2"), "{d:?}");
    }

    #[test]
    fn excerpts_do_not_show_secrets() {
        let d = problems(
            "[[component]]\ndomain = 'a.localhost'\nrest_credential = 'Bearer hunter2'\n",
            no_env(),
        );
        let excerpt = d[0].excerpt.as_ref().unwrap();
        assert_eq!(excerpt.text, "rest_credential = …");
        assert_eq!(
            d[0].hint.as_deref(),
            Some("did you mean `rest_credentials`?")
        );
        let d = problems("[[component]]\ncomponent_secret = 'hunter2\n", no_env());
        assert!(!format!("{d:?}").contains("hunter2"), "{d:?}");
    }

    #[test]
    fn invalid_domain_is_refused() {
        let d = problems("domain = 'a@b'", no_env());
        assert_eq!(d[0].key.as_deref(), Some("domain"));
        assert!(
            d[0].message.starts_with("expected a domain name"),
            "{}",
            d[0].message
        );
    }

    fn leaf_paths(prefix: &str, table: &toml::Table, out: &mut Vec<String>) {
        for (k, v) in table {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(t) => leaf_paths(&path, t, out),
                _ => out.push(path),
            }
        }
    }

    #[test]
    fn example_config_documents_every_key_and_parses() {
        let uncommented = uncommented_example();
        let table: toml::Table = uncommented.parse().unwrap();
        let mut paths = Vec::new();
        leaf_paths("", &table, &mut paths);
        let env_paths: Vec<&str> = ENV_KEYS.iter().map(|(_, p)| *p).collect();
        for p in &paths {
            assert!(
                env_paths.contains(&p.as_str()),
                "{p} has no environment variable"
            );
        }
        for p in &env_paths {
            assert!(
                paths.iter().any(|x| x == p),
                "{p} is not documented in the example"
            );
        }
        let config = Config::from_sources(&uncommented, no_env()).unwrap();
        // Every key the types know is documented: what serialises is in the schema.
        let schema = schema();
        let mut serialised = Vec::new();
        leaf_paths(
            "",
            &toml::Table::try_from(&config).unwrap(),
            &mut serialised,
        );
        for p in serialised {
            assert!(schema.contains(&p), "{p} is not documented in the example");
        }
    }

    #[test]
    fn secret_keys_are_the_secret_fields() {
        let config = Config::from_sources(&uncommented_example(), no_env()).unwrap();
        fn walk(value: &toml::Value, path: &KeyPath, out: &mut Vec<String>) {
            match value {
                toml::Value::Table(t) => t.iter().for_each(|(k, v)| walk(v, &path.key(k), out)),
                toml::Value::Array(a) => a.iter().for_each(|v| walk(v, &path.index(0), out)),
                toml::Value::String(s) if s == REDACTED => out.push(path.generic()),
                _ => {}
            }
        }
        let mut found = Vec::new();
        walk(
            &toml::Value::try_from(&config).unwrap(),
            &KeyPath::root(),
            &mut found,
        );
        found.sort();
        let mut listed: Vec<String> = SECRET_KEYS.iter().map(|s| s.to_string()).collect();
        listed.sort();
        assert_eq!(found, listed);
        assert_eq!(
            config.component[0].rest_credentials,
            Some(Secret::from("Bearer dmVyeSBzZWNyZXQgdG9rZW4K"))
        );
    }

    #[test]
    fn unknown_environment_variables_name_the_closest() {
        let d = problems(
            "",
            env(&[
                ("SWITCHBOARD_HTTP_ADR", "x"),
                ("SWITCHBOARD_ZZZZZZZZZZZZZZZZZZZ", "y"),
            ]),
        );
        assert_eq!(d.len(), 2);
        assert_eq!(
            d[0].hint.as_deref(),
            Some("did you mean SWITCHBOARD_HTTP_ADDR?")
        );
        assert_eq!(
            d[1].hint.as_deref(),
            Some("`switchboard --help` lists the variables")
        );
    }
}
