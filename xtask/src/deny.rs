//! `deny.toml`'s allowed duplicates stay true: every `[bans] skip` entry names a crate version
//! that is in `Cargo.lock` next to another version of the same crate. cargo-deny only warns about
//! a stale entry; left in place, it would silently allow that duplicate back later.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;

/// The versions of each crate in a `Cargo.lock`.
pub fn locked_versions(lock: &str) -> anyhow::Result<BTreeMap<String, BTreeSet<String>>> {
    let lock: toml::Table = lock.parse().context("Cargo.lock is not TOML")?;
    let mut versions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for package in lock
        .get("package")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(name), Some(version)) = (
            package.get("name").and_then(toml::Value::as_str),
            package.get("version").and_then(toml::Value::as_str),
        ) {
            versions
                .entry(name.to_owned())
                .or_default()
                .insert(version.to_owned());
        }
    }
    Ok(versions)
}

/// One line per `skip` entry that allows nothing.
pub fn stale_skips(
    deny: &str,
    locked: &BTreeMap<String, BTreeSet<String>>,
) -> anyhow::Result<Vec<String>> {
    let deny: toml::Table = deny.parse().context("deny.toml is not TOML")?;
    let skips = deny
        .get("bans")
        .and_then(|bans| bans.get("skip"))
        .and_then(toml::Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut stale = Vec::new();
    for skip in &skips {
        // An entry is "name@version" or a table { crate = "name@version", reason = "…" }.
        let spec = skip
            .as_str()
            .or_else(|| skip.get("crate").and_then(toml::Value::as_str))
            .with_context(|| format!("deny.toml: a skip entry without a crate: {skip:?}"))?;
        let Some((name, version)) = spec.split_once('@') else {
            stale.push(format!(
                "deny.toml skips {spec} without a version: name the one duplicate it allows"
            ));
            continue;
        };
        match locked.get(name) {
            Some(versions) if versions.contains(version) && versions.len() > 1 => {}
            Some(versions) if versions.contains(version) => stale.push(format!(
                "deny.toml skips {spec}, but it is the only {name} in Cargo.lock: remove the entry"
            )),
            Some(versions) => stale.push(format!(
                "deny.toml skips {spec}, but Cargo.lock has {name} {}: update or remove the entry",
                versions.iter().cloned().collect::<Vec<_>>().join(", ")
            )),
            None => stale.push(format!(
                "deny.toml skips {spec}, but {name} is not in Cargo.lock: remove the entry"
            )),
        }
    }
    Ok(stale)
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    const LOCK: &str = r#"
version = 4

[[package]]
name = "rand"
version = "0.9.5"

[[package]]
name = "rand"
version = "0.10.4"

[[package]]
name = "syn"
version = "2.0.1"
"#;

    #[test]
    fn only_entries_that_allow_a_real_duplicate_pass() {
        let locked = locked_versions(LOCK).expect("lock parses");
        let deny = r#"
[bans]
skip = [
    { crate = "rand@0.9.5", reason = "a real duplicate" },
    { crate = "rand@0.8.8", reason = "moved on" },
    { crate = "syn@2.0.1", reason = "no duplicate left" },
    { crate = "gone@1.0.0", reason = "no longer in the graph" },
    "rand",
]
"#;
        assert_eq!(
            stale_skips(deny, &locked).expect("deny.toml parses"),
            vec![
                "deny.toml skips rand@0.8.8, but Cargo.lock has rand 0.10.4, 0.9.5: update or remove the entry",
                "deny.toml skips syn@2.0.1, but it is the only syn in Cargo.lock: remove the entry",
                "deny.toml skips gone@1.0.0, but gone is not in Cargo.lock: remove the entry",
                "deny.toml skips rand without a version: name the one duplicate it allows",
            ]
        );
    }
}
