//! Every shell script the repository tracks passes `shellcheck` (Debian's `shellcheck` package):
//! the scripts are what operators and CI run, and a quoting slip there loses data or hides a
//! failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

/// The tracked files whose first line runs a shell (`#!… sh` or `#!… bash`).
pub fn scripts(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let listed = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output()
        .context("running git ls-files (the tidy check lists the tracked scripts with git)")?;
    anyhow::ensure!(
        listed.status.success(),
        "git ls-files failed: {}",
        String::from_utf8_lossy(&listed.stderr).trim()
    );
    let mut found = Vec::new();
    for name in listed.stdout.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let path = root.join(String::from_utf8_lossy(name).as_ref());
        // Only the first line matters; a missing (deleted, unstaged) file is not a script.
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
        if is_shell_shebang(&String::from_utf8_lossy(first)) {
            found.push(path);
        }
    }
    Ok(found)
}

fn is_shell_shebang(line: &str) -> bool {
    let Some(command) = line.strip_prefix("#!") else {
        return false;
    };
    let mut words = command.split_whitespace();
    let program = match words.next() {
        Some(env) if env.ends_with("/env") => words.next(),
        other => other,
    };
    program
        .and_then(|p| p.rsplit('/').next())
        .is_some_and(|p| matches!(p, "sh" | "bash" | "dash"))
}

/// Runs shellcheck over the scripts; the failures, one block per script.
pub fn check(root: &Path, scripts: &[PathBuf]) -> anyhow::Result<Vec<String>> {
    let mut failures = Vec::new();
    for script in scripts {
        let out = Command::new("shellcheck")
            .arg("--external-sources")
            .arg(script)
            .current_dir(root)
            .output()
            .context("running shellcheck (install Debian's shellcheck package)")?;
        if !out.status.success() {
            failures.push(format!(
                "{}\n{}",
                script.strip_prefix(root).unwrap_or(script).display(),
                String::from_utf8_lossy(&out.stdout).trim_end()
            ));
        }
    }
    Ok(failures)
}

#[cfg(test)]
mod tests {
    use super::is_shell_shebang;

    #[test]
    fn shell_shebangs_are_told_from_others() {
        for yes in [
            "#!/usr/bin/env bash",
            "#!/bin/sh",
            "#!/bin/bash -eu",
            "#!/usr/bin/env sh",
        ] {
            assert!(is_shell_shebang(yes), "{yes}");
        }
        for no in [
            "#!/usr/bin/env python3",
            "#!/usr/bin/env node",
            "# bash",
            "",
            "#!/bin/zsh",
        ] {
            assert!(!is_shell_shebang(no), "{no}");
        }
    }
}
