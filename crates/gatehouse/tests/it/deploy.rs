//! The deployment files (Dockerfile, docker-compose.yml, everything under deploy/: the compose
//! env file example, the Helm chart's values, schema and templates) set only environment
//! variables the binary reads. A mistyped `GATEHOUSE_*` name is merely warned about at start-up,
//! so without this test a typo in a shipped file would silently leave a setting at its default.
//!
//! The accepted names come from the binary's own source: `KEYS` and `CLIENT_ONLY_ENV` in
//! `src/config.rs` (the binary is not a library, so its constants are read as text).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const CONFIG_SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/config.rs");

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The string literals of the `&[&str]` constant declared by `declaration` in `source`.
fn string_array(source: &str, declaration: &str) -> Vec<String> {
    let start = source
        .find(declaration)
        .unwrap_or_else(|| panic!("`{declaration}` not found in {CONFIG_SOURCE}"));
    let body = &source[start + declaration.len()..];
    let end = body
        .find("];")
        .unwrap_or_else(|| panic!("`{declaration}` is not closed by `];`"));
    body[..end]
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Every environment variable name the binary accepts.
fn accepted_names() -> BTreeSet<String> {
    let source = std::fs::read_to_string(CONFIG_SOURCE).unwrap();
    let keys = string_array(&source, "pub const KEYS: &[&str] = &[");
    assert!(
        keys.iter().any(|k| k == "issuer") && keys.iter().any(|k| k == "system_secret"),
        "reading KEYS from {CONFIG_SOURCE} went wrong: {keys:?}"
    );
    let mut names: BTreeSet<String> = keys
        .iter()
        .map(|k| format!("GATEHOUSE_{}", k.to_ascii_uppercase()))
        .collect();
    // The conventional spellings of the two store URLs.
    names.insert("DATABASE_URL".into());
    names.insert("REDIS_URL".into());
    names.extend(string_array(&source, "const CLIENT_ONLY_ENV: &[&str] = &["));
    names
}

/// `GATEHOUSE_[A-Z0-9_]+` words in `text`, with their 1-based line numbers. A bare prefix
/// (`GATEHOUSE_*` in prose) and names inside longer words are not variables.
fn gatehouse_names(text: &str) -> Vec<(usize, String)> {
    const PREFIX: &str = "GATEHOUSE_";
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let mut from = 0;
        while let Some(pos) = line[from..].find(PREFIX) {
            let start = from + pos;
            let preceded_by_word = line[..start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            let rest = &line[start + PREFIX.len()..];
            let len = rest
                .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(rest.len());
            let name = &line[start..start + PREFIX.len() + len];
            if !preceded_by_word && len > 0 && !name.ends_with('_') {
                found.push((index + 1, name.to_owned()));
            }
            from = start + PREFIX.len() + len;
        }
    }
    found
}

/// The shipped deployment files: the Dockerfile, docker-compose.yml and every text file under
/// deploy/ (the compose env file example and configs, the Helm chart, its CI values).
fn deployment_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = vec![root.join("Dockerfile"), root.join("docker-compose.yml")];
    walk(&root.join("deploy"), &mut files);
    files
}

#[test]
fn the_name_scanner_finds_variables_and_only_variables() {
    let text = "A: GATEHOUSE_ISSUER=x\n  - name: GATEHOUSE_TTL_AUTH_CODE\nGATEHOUSE_* and \
                XGATEHOUSE_NOT and GATEHOUSE_ and {{ GATEHOUSE_LOG }}";
    assert_eq!(
        gatehouse_names(text),
        vec![
            (1, "GATEHOUSE_ISSUER".to_owned()),
            (2, "GATEHOUSE_TTL_AUTH_CODE".to_owned()),
            (3, "GATEHOUSE_LOG".to_owned()),
        ]
    );
}

#[test]
fn every_variable_the_deployment_files_set_is_one_the_binary_reads() {
    let root = workspace_root();
    let accepted = accepted_names();
    let mut seen = BTreeSet::new();
    let mut unknown = Vec::new();
    let files = deployment_files(&root);
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue; // not text
        };
        let shown = file.strip_prefix(&root).unwrap_or(file).display();
        for (line, name) in gatehouse_names(&text) {
            if !accepted.contains(&name) {
                unknown.push(format!("{shown}:{line}: {name}"));
            }
            seen.insert(name);
        }
    }
    assert!(
        unknown.is_empty(),
        "the deployment files set variables the binary does not read (typo, or a key missing \
         from KEYS in crates/gatehouse/src/config.rs):\n  {}",
        unknown.join("\n  ")
    );
    // The scan must have found the settings every deployment needs, or it proved nothing.
    for needed in [
        "GATEHOUSE_ISSUER",
        "GATEHOUSE_SYSTEM_SECRET",
        "GATEHOUSE_ADMIN_TOKEN",
        "GATEHOUSE_TOKEN_GRPC_URL",
        "GATEHOUSE_AUTO_MIGRATE",
    ] {
        assert!(
            seen.contains(needed),
            "{needed} not found in {} deployment files",
            files.len()
        );
    }
}

#[test]
fn compose_and_the_chart_give_the_store_urls_their_conventional_names() {
    let root = workspace_root();
    let compose = std::fs::read_to_string(root.join("docker-compose.yml")).unwrap();
    let chart_secret_env =
        std::fs::read_to_string(root.join("deploy/helm/gatehouse/templates/token-deployment.yaml"))
            .unwrap();
    for name in ["DATABASE_URL", "REDIS_URL"] {
        assert!(
            compose.contains(&format!("{name}: ")),
            "docker-compose.yml sets {name}"
        );
        assert!(
            chart_secret_env.contains(&format!("\"env\" \"{name}\"")),
            "the token Deployment reads {name}"
        );
    }
}
