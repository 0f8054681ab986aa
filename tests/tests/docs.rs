//! Docs that cannot drift: the alert runbook names exactly the alert kinds the code has, the
//! settings reference names exactly the settings the code reads and every template parameter,
//! and every relative link in README.md and docs/ leads somewhere.

use shared::alert::Kind;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the workspace")
        .to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// README.md and every page under docs/, as (path from the root, text).
fn pages() -> Vec<(String, String)> {
    let mut pages = vec![("README.md".to_owned(), read(&root().join("README.md")))];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|entry| entry.expect("a readable entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    for path in docs {
        let name = format!(
            "docs/{}",
            path.file_name()
                .and_then(|n| n.to_str())
                .expect("a UTF-8 name")
        );
        pages.push((name, read(&path)));
    }
    pages
}

/// The text outside fenced code blocks, line by line.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

/// GitHub's anchor of a heading: lower case, spaces as dashes, punctuation other than `-` and
/// `_` dropped; a repeated heading gets `-1`, `-2`, ...
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut anchors = BTreeSet::new();
    for line in prose(text) {
        let Some(heading) = line.strip_prefix('#') else {
            continue;
        };
        let heading = heading.trim_start_matches('#').trim();
        let slug: String = heading
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let count = seen.entry(slug.clone()).or_insert(0);
        anchors.insert(if *count == 0 {
            slug.clone()
        } else {
            format!("{slug}-{count}")
        });
        *count += 1;
    }
    anchors
}

/// Every Markdown link target `](target)` outside code blocks.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose(text) {
        let mut rest = line;
        while let Some(start) = rest.find("](") {
            rest = &rest[start + 2..];
            let Some(end) = rest.find(')') else { break };
            targets.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    targets
}

#[test]
fn every_relative_link_in_the_readme_and_docs_leads_to_a_file_and_heading() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for (page, text) in pages() {
        let dir = Path::new(&page).parent().unwrap_or(Path::new(""));
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (file, anchor) = match target.split_once('#') {
                Some((file, anchor)) => (file, Some(anchor)),
                None => (target.as_str(), None),
            };
            let path = if file.is_empty() {
                root().join(&page)
            } else {
                root().join(dir).join(file)
            };
            if !path.exists() {
                broken.push(format!("{page}: {target} (no such file)"));
                continue;
            }
            if let Some(anchor) = anchor {
                if path.is_dir() || !anchors(&read(&path)).contains(anchor) {
                    broken.push(format!("{page}: {target} (no such heading)"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    // The check must have found the links it checks.
    assert!(checked > 50, "only {checked} relative links found");
}

/// The runbook's entries: each `### <kind>` heading of docs/alerts.md with its text.
fn runbook_entries() -> BTreeMap<String, String> {
    let text = read(&root().join("docs/alerts.md"));
    let mut entries = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in prose(&text) {
        if line.starts_with("#") {
            if let Some((kind, body)) = current.take() {
                entries.insert(kind, body);
            }
            if let Some(kind) = line.strip_prefix("### ") {
                current = Some((kind.trim().to_owned(), String::new()));
            }
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    if let Some((kind, body)) = current {
        entries.insert(kind, body);
    }
    entries
}

#[test]
fn the_runbook_has_one_complete_entry_per_alert_kind_and_no_other() {
    let entries = runbook_entries();
    let kinds: BTreeSet<String> = Kind::ALL.iter().map(|k| k.as_str().to_owned()).collect();
    let documented: BTreeSet<String> = entries.keys().cloned().collect();
    let missing: Vec<_> = kinds.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&kinds).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "kinds without a runbook entry: {missing:?}; entries for no kind: {unknown:?}"
    );
    for (kind, body) in &entries {
        for part in [
            "**What happened.**",
            "**Severity.**",
            "**What to do.**",
            "**If nothing is done.**",
            "**Example.**",
        ] {
            assert!(body.contains(part), "{kind}: the entry has no {part}");
        }
    }
}

/// The Rust sources that run in a function: shared/src and functions/*/src, without their tests
/// (`*_test.rs`, `tests.rs`, and everything from a file's `#[cfg(test)]` on).
fn production_sources() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("a readable directory") {
            let path = entry.expect("a readable entry").path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("shared/src"), &mut files);
    for function in std::fs::read_dir(root().join("functions")).expect("functions/") {
        walk(
            &function.expect("a readable entry").path().join("src"),
            &mut files,
        );
    }
    files
        .into_iter()
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.ends_with("_test.rs") && name != "tests.rs"
        })
        .map(|path| {
            let mut text = read(&path);
            if let Some(at) = text.find("#[cfg(test)]") {
                text.truncate(at);
            }
            (path, text)
        })
        .collect()
}

/// The environment variables the functions read: every string literal of the form `NAME_NAME`
/// passed to one of `shared::config::Env`'s readers or to `std::env::var`, named by a
/// `ConfigError` (`name: "..."`), or bound to a `&str` constant (a name used twice). Setting
/// names are always literals (see `organization-enumerator`'s `queue_setting`).
fn settings_read_by_the_code() -> BTreeSet<String> {
    const READERS: [&str; 13] = [
        ".optional(",
        ".raw(",
        ".required(",
        ".string_or(",
        ".bool_or(",
        ".number_or(",
        ".duration_or(",
        ".tag_or(",
        ".list(",
        ".arn(",
        "std::env::var(",
        "name:",
        ": &str =",
    ];
    let mut names = BTreeSet::new();
    for (_, text) in production_sources() {
        for (start, literal) in string_literals(&text) {
            let before = text[..start].trim_end();
            let is_name = literal.contains('_')
                && literal.starts_with(|c: char| c.is_ascii_uppercase())
                && literal
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if is_name && READERS.iter().any(|reader| before.ends_with(reader)) {
                names.insert(literal.to_owned());
            }
        }
    }
    names
}

/// The plain string literals of Rust source, with where each starts; comments, character
/// literals (`'"'`) and raw strings are stepped over, so a quote in them does not pair up.
fn string_literals(text: &str) -> Vec<(usize, &str)> {
    let mut literals = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("r#\"") || rest.starts_with("r\"") {
            let hashes = if rest.starts_with("r#") { "\"#" } else { "\"" };
            let body = rest.find('"').map_or(rest.len(), |q| q + 1);
            i += body
                + rest[body..]
                    .find(hashes)
                    .map_or(rest.len() - body, |end| end + hashes.len());
        } else if rest.starts_with('"') {
            let mut end = 1;
            let bytes = rest.as_bytes();
            while end < bytes.len() && bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            literals.push((i, &rest[1..end.min(rest.len())]));
            i += end + 1;
        } else if let Some(quoted) = rest.strip_prefix('\'') {
            // A character literal ('x', '\'', '\u{..}') or a lifetime ('a).
            i += match quoted.chars().next() {
                Some('\\') => quoted
                    .get(2..)
                    .and_then(|r| r.find('\''))
                    .map_or(1, |q| q + 4),
                Some(c) if quoted[c.len_utf8()..].starts_with('\'') => 2 + c.len_utf8(),
                _ => 1,
            };
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    literals
}

/// The names in backticks in the first column of the table rows of one section of
/// docs/settings.md (a row may name several, `A`, `B`).
fn settings_documented(section: &str) -> BTreeSet<String> {
    let text = read(&root().join("docs/settings.md"));
    let mut in_section = false;
    let mut names = BTreeSet::new();
    for line in prose(&text) {
        if let Some(heading) = line.strip_prefix("## ") {
            in_section = heading.trim() == section;
            continue;
        }
        if !in_section || !line.starts_with('|') {
            continue;
        }
        let first = line.split('|').nth(1).unwrap_or("");
        for (i, part) in first.split('`').enumerate() {
            if i % 2 == 1 {
                names.insert(part.to_owned());
            }
        }
    }
    names
}

/// template.yaml's parameters, and the environment variables it sets on the functions.
fn template_names() -> (BTreeSet<String>, BTreeSet<String>) {
    let text = read(&root().join("template.yaml"));
    let mut parameters = BTreeSet::new();
    let mut variables = BTreeSet::new();
    let mut section = "";
    let mut variables_indent: Option<usize> = None;
    for line in text.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        if !line.starts_with(' ') && line.ends_with(':') {
            section = line.trim_end_matches(':');
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let key = line.trim().split(':').next().unwrap_or("");
        if section == "Parameters" && indent == 2 && line.trim_end().ends_with(':') {
            parameters.insert(key.to_owned());
        }
        if line.trim() == "Variables:" {
            variables_indent = Some(indent);
            continue;
        }
        if let Some(outer) = variables_indent {
            if indent <= outer && !line.trim().is_empty() {
                variables_indent = None;
            } else if indent == outer + 2 && !key.is_empty() {
                variables.insert(key.to_owned());
            }
        }
    }
    (parameters, variables)
}

#[test]
fn the_settings_reference_lists_exactly_what_the_code_reads_and_every_template_parameter() {
    let read_by_code = settings_read_by_the_code();
    // The scan must find what it looks for, including the settings read through a constant,
    // a `ConfigError` and `std::env::var`.
    for known in [
        "ALERT_TOPIC_ARN",
        "ALERT_THRESHOLDS_DAYS",
        "LOG_LEVEL",
        "ORG_QUEUE_KMS_KEY_ROTATION",
    ] {
        assert!(read_by_code.contains(known), "the scan missed {known}");
    }
    let documented = settings_documented("Environment variables");
    // Set by Lambda itself, not by a person: read, and documented beside the table.
    let by_lambda: BTreeSet<String> = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION"]
        .map(str::to_owned)
        .into();
    let undocumented: Vec<_> = read_by_code
        .difference(&documented)
        .filter(|name| !by_lambda.contains(*name))
        .collect();
    let unread: Vec<_> = documented.difference(&read_by_code).collect();
    assert!(
        undocumented.is_empty() && unread.is_empty(),
        "read by the code but not in docs/settings.md: {undocumented:?}; \
         in docs/settings.md but read by nothing: {unread:?}"
    );

    let (parameters, variables) = template_names();
    assert!(
        parameters.len() > 50,
        "only {} parameters",
        parameters.len()
    );
    let documented_parameters = settings_documented("Template parameters");
    let missing: Vec<_> = parameters.difference(&documented_parameters).collect();
    let extra: Vec<_> = documented_parameters.difference(&parameters).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "template parameters not in docs/settings.md: {missing:?}; \
         in docs/settings.md but not in template.yaml: {extra:?}"
    );
    let set_but_unread: Vec<_> = variables.difference(&read_by_code).collect();
    assert!(
        set_but_unread.is_empty(),
        "the template sets variables no function reads: {set_but_unread:?}"
    );
}

#[test]
fn the_benchmark_figures_are_the_benchmark_s_own_output() {
    let results = read(&root().join("docs/benchmark-results.md"));
    assert!(
        results.starts_with("<!-- Written by ./infra/bench.sh"),
        "docs/benchmark-results.md must be written by ./infra/bench.sh, not by hand"
    );
    assert!(results.contains("| measure | median | max | runs |"));
}
