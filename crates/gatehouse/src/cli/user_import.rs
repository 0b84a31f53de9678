//! `gatehouse users import` and `gatehouse users export`: thin clients of
//! `POST /admin/users/import` and `GET /admin/users/export`.
//!
//! The import reads a JSON-lines file and sends its lines as JSON arrays, at most
//! [`BATCH_LINES`] lines or [`BATCH_BYTES`] bytes at a time; the server checks every record and
//! creates each batch in one transaction. The report's positions are turned back into the
//! file's line numbers. Lines that are not JSON, or are longer than [`MAX_LINE_BYTES`], are
//! reported as invalid without being sent.

use std::io::Write;
use std::path::Path;

use anyhow::{anyhow, bail};
use serde_json::{Value, json};

use super::OutputFormat;
use super::http::AdminApi;
use super::output::{emit, render, table, text};

/// Lines per import request (the server takes at most 1000).
const BATCH_LINES: usize = 500;
/// Bytes of lines per import request (the admin API takes bodies up to 2 MiB).
const BATCH_BYTES: usize = 1024 * 1024;
/// Longest line sent: a record's metadata is at most 16 KiB.
const MAX_LINE_BYTES: usize = 64 * 1024;

/// The merged report: created, skipped and invalid lines with the file's line numbers.
#[derive(Debug, Default)]
struct Report {
    created: Vec<Value>,
    skipped: Vec<Value>,
    invalid: Vec<Value>,
}

fn read_input(file: &Path) -> anyhow::Result<String> {
    if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| anyhow!("reading standard input: {e}"))?;
        return Ok(text);
    }
    std::fs::read_to_string(file).map_err(|e| anyhow!("reading {}: {e}", file.display()))
}

/// Sends one batch and merges its report, renumbered with the file's lines.
async fn send_batch(
    api: &AdminApi,
    dry_run: bool,
    batch: &mut Vec<(usize, Value)>,
    report: &mut Report,
) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let (lines, values): (Vec<usize>, Vec<Value>) = std::mem::take(batch).into_iter().unzip();
    let query: &[(&str, &str)] = if dry_run { &[("dry_run", "true")] } else { &[] };
    let answer = api
        .post(&["admin", "users", "import"], query, &Value::Array(values))
        .await?;
    let renumber = |key: &str, into: &mut Vec<Value>| -> anyhow::Result<()> {
        let Some(entries) = answer.get(key).and_then(Value::as_array) else {
            bail!("the admin API answered an import report without {key:?}");
        };
        for entry in entries {
            let mut entry = entry.clone();
            let position = entry.get("line").and_then(Value::as_u64).unwrap_or(0) as usize;
            let line = position
                .checked_sub(1)
                .and_then(|i| lines.get(i))
                .ok_or_else(|| anyhow!("the admin API reported a line it was not sent"))?;
            entry["line"] = json!(line);
            into.push(entry);
        }
        Ok(())
    };
    renumber("created", &mut report.created)?;
    renumber("skipped", &mut report.skipped)?;
    renumber("invalid", &mut report.invalid)?;
    Ok(())
}

pub(crate) async fn import(
    api: &AdminApi,
    format: OutputFormat,
    file: &Path,
    dry_run: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let text = read_input(file)?;
    let mut report = Report::default();
    let mut batch: Vec<(usize, Value)> = Vec::new();
    let mut batch_bytes = 0;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        if line.len() > MAX_LINE_BYTES {
            report.invalid.push(
                json!({"line": number, "reason": format!("longer than {MAX_LINE_BYTES} bytes")}),
            );
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(value) => {
                if batch.len() == BATCH_LINES || batch_bytes + line.len() > BATCH_BYTES {
                    send_batch(api, dry_run, &mut batch, &mut report).await?;
                    batch_bytes = 0;
                }
                batch_bytes += line.len();
                batch.push((number, value));
            }
            Err(e) => report
                .invalid
                .push(json!({"line": number, "reason": format!("not JSON: {e}")})),
        }
    }
    send_batch(api, dry_run, &mut batch, &mut report).await?;
    let by_line = |v: &Value| v.get("line").and_then(Value::as_u64).unwrap_or(0);
    report.invalid.sort_by_key(by_line);
    let invalid = report.invalid.len();
    let document = json!({
        "dry_run": dry_run,
        "created": report.created,
        "skipped": report.skipped,
        "invalid": report.invalid,
    });
    emit(out, &render(format, &document, report_table))?;
    if invalid > 0 {
        bail!("{invalid} invalid line(s); nothing was created from them");
    }
    Ok(())
}

/// One row per line, by line number, then a summary.
fn report_table(report: &Value) -> String {
    let entries = |key: &str| {
        report
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let dry_run = report.get("dry_run").and_then(Value::as_bool) == Some(true);
    let mut rows: Vec<(u64, Vec<String>)> = Vec::new();
    let created_word = if dry_run { "would create" } else { "created" };
    for (key, word) in [
        ("created", created_word),
        ("skipped", "skipped (exists)"),
        ("invalid", "invalid"),
    ] {
        for e in entries(key) {
            let line = e.get("line").and_then(Value::as_u64).unwrap_or(0);
            rows.push((
                line,
                vec![
                    line.to_string(),
                    word.to_owned(),
                    text(&e, "id"),
                    text(&e, "username"),
                    text(&e, "reason"),
                ],
            ));
        }
    }
    rows.sort_by_key(|(line, _)| *line);
    let rows: Vec<Vec<String>> = rows.into_iter().map(|(_, r)| r).collect();
    let mut out = table(&["LINE", "RESULT", "ID", "USERNAME", "REASON"], &rows);
    out.push_str(&format!(
        "{} {}, {} skipped, {} invalid{}.\n",
        entries("created").len(),
        created_word,
        entries("skipped").len(),
        entries("invalid").len(),
        if dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        }
    ));
    out
}

pub(crate) async fn export(
    api: &AdminApi,
    format: OutputFormat,
    output: Option<&Path>,
    force: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    // Fail on an existing file before asking the server for every password hash.
    if let Some(path) = output
        && !force
        && path.exists()
    {
        bail!("{} exists; pass --force to replace it", path.display());
    }
    let lines = api.get_text(&["admin", "users", "export"]).await?;
    let count = lines.lines().filter(|l| !l.trim().is_empty()).count();
    let Some(path) = output else {
        out.write_all(lines.as_bytes())?;
        return Ok(());
    };
    write_private(path, lines.as_bytes(), force)?;
    let done = json!({"exported": count, "output": path.display().to_string()});
    emit(
        out,
        &render(format, &done, |_| {
            format!("Exported {count} users to {}.\n", path.display())
        }),
    )
}

/// Writes `bytes` to a file only its owner may read (0600), refusing an existing file unless
/// `force`.
fn write_private(path: &Path, bytes: &[u8], force: bool) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            anyhow!("{} exists; pass --force to replace it", path.display())
        }
        _ => anyhow!("creating {}: {e}", path.display()),
    })?;
    #[cfg(unix)]
    {
        // A replaced file keeps its old mode otherwise.
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| anyhow!("restricting {}: {e}", path.display()))?;
    }
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| anyhow!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_export_file_is_private_and_not_overwritten_without_force() {
        let dir = std::env::temp_dir().join(format!("gh-export-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("users.jsonl");
        let _ = std::fs::remove_file(&path);
        write_private(&path, b"{}\n", false).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let refused = write_private(&path, b"x\n", false).unwrap_err().to_string();
        assert!(refused.contains("--force"), "{refused}");
        assert_eq!(std::fs::read(&path).unwrap(), b"{}\n");
        write_private(&path, b"y\n", true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"y\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_table_lists_lines_in_order_with_a_summary() {
        let report = json!({"dry_run": true,
            "created": [{"line": 3, "id": "u3", "username": "c"}],
            "skipped": [{"line": 1, "id": "u1", "username": "a"}],
            "invalid": [{"line": 2, "reason": "not JSON"}]});
        let shown = report_table(&report);
        let first = shown.find("skipped (exists)").unwrap();
        let second = shown.find("not JSON").unwrap();
        let third = shown.find("would create").unwrap();
        assert!(first < second && second < third, "{shown}");
        assert!(shown.contains("1 would create, 1 skipped, 1 invalid (dry run: nothing changed)."));
    }
}
