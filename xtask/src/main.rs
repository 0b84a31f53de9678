//! `cargo xtask tidy` (the alias is in `.cargo/config.toml`): checks the crate dependency arrows,
//! `deny.toml`'s duplicate allowances and every shell script, and exits 1 naming each problem.
//! `.ci/run` calls it; the arrows and allowances are also checked by this crate's tests.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use xtask::{arrows, deny, shell};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["tidy"] => match tidy(&workspace_root()) {
            Ok(0) => {
                println!("tidy: all checks passed");
                ExitCode::SUCCESS
            }
            Ok(problems) => {
                eprintln!("tidy: {problems} problem(s)");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("tidy: error: {e:#}");
                ExitCode::from(2)
            }
        },
        _ => {
            eprintln!("usage: cargo xtask tidy");
            ExitCode::from(2)
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs every check, printing what it found; the number of problems.
fn tidy(root: &Path) -> anyhow::Result<usize> {
    let mut problems = 0;
    let mut report = |check: &str, found: Vec<String>| {
        if found.is_empty() {
            println!("ok    {check}");
        }
        for problem in &found {
            println!("FAIL  {check}: {problem}");
        }
        problems += found.len();
    };

    let metadata = cargo_metadata::MetadataCommand::new()
        .current_dir(root)
        .other_options(vec!["--locked".to_owned()])
        .exec()
        .context("cargo metadata")?;
    let graph = arrows::Graph::from_metadata(&metadata)?;
    report(
        "crate dependency arrows",
        arrows::violations(&graph, arrows::RULES),
    );

    let lock = std::fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    let deny_toml = std::fs::read_to_string(root.join("deny.toml")).context("reading deny.toml")?;
    report(
        "deny.toml allows only duplicates that exist",
        deny::stale_skips(&deny_toml, &deny::locked_versions(&lock)?)?,
    );

    let scripts = shell::scripts(root)?;
    anyhow::ensure!(
        !scripts.is_empty(),
        "no shell scripts found under {}",
        root.display()
    );
    report(
        &format!("shellcheck ({} scripts)", scripts.len()),
        shell::check(root, &scripts)?,
    );
    Ok(problems)
}
