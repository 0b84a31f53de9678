//! Rendering: Hydra's markdown-style tables, key/value listings and JSON.
//!
//! Renderers build strings (so tests compare them exactly) and read the admin API's JSON through
//! lenient accessors: a field the server adds or omits never breaks a listing.

use serde_json::Value;
use std::io::{self, Write};

use super::OutputFormat;

/// A table as Hydra 1.x prints it: headers centred, cells left-aligned, one space of padding.
///
/// ```text
/// |  CLIENT ID   |      NAME       |
/// |--------------|-----------------|
/// | neonclitest3 | Neon CLI test 3 |
/// ```
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| clean_cell(c)).collect())
        .collect();
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| width(c))
                .chain([width(h)])
                .max()
                .unwrap_or(0)
        })
        .collect();

    let mut out = String::new();
    out.push('|');
    for (h, w) in headers.iter().zip(&widths) {
        let pad = w - width(h);
        out.push_str(&format!(
            " {}{}{} |",
            " ".repeat(pad / 2),
            h,
            " ".repeat(pad - pad / 2)
        ));
    }
    out.push_str("\n|");
    for w in &widths {
        out.push_str(&"-".repeat(w + 2));
        out.push('|');
    }
    out.push('\n');
    for row in &rows {
        out.push('|');
        for (i, w) in widths.iter().enumerate() {
            let cell = row.get(i).map(String::as_str).unwrap_or("");
            out.push_str(&format!(" {}{} |", cell, " ".repeat(w - width(cell))));
        }
        out.push('\n');
    }
    out
}

/// One record as aligned `KEY  value` lines (what `get` prints).
pub(crate) fn fields(pairs: &[(&str, String)]) -> String {
    let key_width = pairs.iter().map(|(k, _)| width(k)).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs {
        let line = format!("{k}{}  {}", " ".repeat(key_width - width(k)), clean_cell(v));
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Pretty JSON with a trailing newline.
pub(crate) fn json(value: &Value) -> String {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    s.push('\n');
    s
}

/// JSON on one line with a trailing newline (`--format json`).
pub(crate) fn compact_json(value: &Value) -> String {
    let mut s = value.to_string();
    s.push('\n');
    s
}

/// YAML (`--format yaml`); a value YAML cannot hold (none the admin API sends) falls back to JSON,
/// which is valid YAML too.
pub(crate) fn yaml(value: &Value) -> String {
    serde_yaml_ng::to_string(value).unwrap_or_else(|_| json(value))
}

/// A JSON value in the chosen format: `render_table` for tables, the data itself otherwise.
pub(crate) fn render(
    format: OutputFormat,
    value: &Value,
    render_table: impl FnOnce(&Value) -> String,
) -> String {
    match format {
        OutputFormat::Table => render_table(value),
        OutputFormat::Json => compact_json(value),
        OutputFormat::JsonPretty => json(value),
        OutputFormat::Yaml => yaml(value),
    }
}

/// The data formats' rendering of `value`; tables have none (see [`render`]).
pub(crate) fn data(format: OutputFormat, value: &Value) -> String {
    render(format, value, json)
}

/// A field as text: strings as they are, lists comma-joined (as Hydra's tables show
/// `authorization_code,refresh_token`), `""` when absent or `null`, other values as JSON.
pub(crate) fn text(value: &Value, key: &str) -> String {
    match value.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(Value::Array(items)) => items.iter().map(scalar).collect::<Vec<_>>().join(","),
        Some(other) => other.to_string(),
    }
}

/// A boolean field as `true`/`false` (absent reads as `false`).
pub(crate) fn flag(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_bool)
        .unwrap_or(false)
        .to_string()
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The items of a JSON array (anything else reads as no items).
pub(crate) fn items(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// Writes to stdout. A closed pipe (`gatehouse clients list | head -1`) is not an error.
pub(crate) fn emit(out: &mut dyn Write, text: &str) -> anyhow::Result<()> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Control characters would break the table's lines; a literal `|` its columns.
fn clean_cell(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .replace('|', "\\|")
}

fn width(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use serde_json::json;

    #[test]
    fn table_matches_the_seed_byte_for_byte() {
        let headers = [
            "CLIENT ID",
            "NAME",
            "RESPONSE TYPES",
            "SCOPE",
            "REDIRECT URIS",
            "GRANT TYPES",
            "TOKEN ENDPOINT AUTH METHOD",
        ];
        let row = [
            "neonclitest3",
            "Neon CLI test 3",
            "code",
            "openid offline",
            "http://127.0.0.1:5555/callback",
            "authorization_code,refresh_token",
            "none",
        ]
        .map(String::from)
        .to_vec();
        let expected = "\
|  CLIENT ID   |      NAME       | RESPONSE TYPES |     SCOPE      |         REDIRECT URIS          |           GRANT TYPES            | TOKEN ENDPOINT AUTH METHOD |
|--------------|-----------------|----------------|----------------|--------------------------------|----------------------------------|----------------------------|
| neonclitest3 | Neon CLI test 3 | code           | openid offline | http://127.0.0.1:5555/callback | authorization_code,refresh_token | none                       |
";
        assert_eq!(table(&headers, &[row]), expected);
    }

    #[test]
    fn empty_table_prints_headers_only() {
        assert_eq!(table(&["A", "BB"], &[]), "| A | BB |\n|---|----|\n");
    }

    #[test]
    fn cells_cannot_break_lines_or_columns() {
        let out = table(&["X"], &[vec!["a\nb|c".into()]]);
        assert_eq!(out.lines().nth(2), Some("| a b\\|c |"));
    }

    #[test]
    fn width_counts_characters_not_bytes() {
        let out = table(&["NAME"], &[vec!["Jürgen".into()]]);
        assert_eq!(out.lines().nth(2), Some("| Jürgen |"));
        assert_eq!(out.lines().next(), Some("|  NAME  |"));
    }

    #[test]
    fn fields_align_keys_and_trim_empty_values() {
        let out = fields(&[("CLIENT ID", "neoncli".into()), ("NAME", String::new())]);
        assert_eq!(out, "CLIENT ID  neoncli\nNAME\n");
    }

    #[test]
    fn accessors_are_lenient() {
        let v = json!({"a": ["x", "y"], "n": null, "b": true, "num": 3, "s": "str"});
        assert_eq!(text(&v, "a"), "x,y");
        assert_eq!(text(&v, "n"), "");
        assert_eq!(text(&v, "missing"), "");
        assert_eq!(text(&v, "num"), "3");
        assert_eq!(text(&v, "s"), "str");
        assert_eq!(flag(&v, "b"), "true");
        assert_eq!(flag(&v, "missing"), "false");
        assert!(items(&v).is_empty());
    }

    #[test]
    fn every_data_format_renders_the_same_value() {
        let v = json!({"client_id": "a", "grant_types": ["x", "y"]});
        assert_eq!(
            render(OutputFormat::Json, &v, |_| unreachable!()),
            "{\"client_id\":\"a\",\"grant_types\":[\"x\",\"y\"]}\n"
        );
        assert_eq!(
            render(OutputFormat::JsonPretty, &v, |_| unreachable!()),
            json(&v)
        );
        let yaml = render(OutputFormat::Yaml, &v, |_| unreachable!());
        assert_eq!(yaml, "client_id: a\ngrant_types:\n- x\n- y\n");
        assert_eq!(render(OutputFormat::Table, &v, |_| "t".into()), "t");
    }

    #[test]
    fn emit_ignores_a_closed_pipe() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        assert!(emit(&mut Closed, "x").is_ok());
    }
}
