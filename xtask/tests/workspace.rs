//! The real workspace obeys its arrows and its deny.toml allowances (the same checks
//! `cargo xtask tidy` runs, here so the test suite alone catches a new forbidden dependency).

#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};

use xtask::{arrows, deny};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .expect("xtask lives in the workspace root")
}

#[test]
fn the_workspace_keeps_its_dependency_arrows() {
    let metadata = cargo_metadata::MetadataCommand::new()
        .current_dir(root())
        .exec()
        .expect("cargo metadata");
    let graph = arrows::Graph::from_metadata(&metadata).expect("a resolved graph");
    // The check sees the real graph: the binary reaches both services and the core.
    for member in ["gatehouse-login", "gatehouse-token", "gatehouse-core"] {
        assert!(
            graph.edges["gatehouse"].contains(member),
            "gatehouse -> {member} missing: the graph is not the workspace's"
        );
    }
    let found = arrows::violations(&graph, arrows::RULES);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn every_deny_toml_duplicate_allowance_matches_the_lock_file() {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).expect("Cargo.lock");
    let deny_toml = std::fs::read_to_string(root().join("deny.toml")).expect("deny.toml");
    let locked = deny::locked_versions(&lock).expect("Cargo.lock parses");
    assert!(locked.contains_key("tokio"), "the lock file was not read");
    let stale = deny::stale_skips(&deny_toml, &locked).expect("deny.toml parses");
    assert!(stale.is_empty(), "{stale:#?}");
}
