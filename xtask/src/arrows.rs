//! The arrows between the workspace's crates: which crate may never depend on which.
//!
//! The rules are about *normal* dependencies (what ships in a crate's build), followed
//! transitively, so a forbidden crate cannot sneak in through a third one. Dev-dependencies are
//! free: tests may wire anything together. ARCHITECTURE.md's invariants point here.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use cargo_metadata::{DependencyKind, Metadata};

/// What a crate may not reach through its normal dependencies.
pub struct Rule {
    pub from: &'static str,
    pub forbidden: Forbidden,
    pub why: &'static str,
}

pub enum Forbidden {
    /// These crates (by package name).
    Crates(&'static [&'static str]),
    /// Every workspace member except these.
    MembersExcept(&'static [&'static str]),
}

/// The workspace's arrows.
pub const RULES: &[Rule] = &[
    Rule {
        from: "gatehouse-core",
        forbidden: Forbidden::Crates(&[
            "tokio", "sqlx", "redis", "axum", "tonic", "hyper", "reqwest",
        ]),
        why: "the core is pure: protocol rules and models, no runtime, driver or transport",
    },
    Rule {
        from: "gatehouse-core",
        forbidden: Forbidden::MembersExcept(&[]),
        why: "every arrow points into the core, none out of it",
    },
    Rule {
        from: "gatehouse-login",
        forbidden: Forbidden::Crates(&["gatehouse-token", "gatehouse-store"]),
        why: "the login UI reaches the token service over gRPC only and holds no durable store",
    },
    Rule {
        from: "gatehouse-token",
        forbidden: Forbidden::Crates(&["gatehouse-login", "gatehouse-console"]),
        why: "the token service does not know the login UI or the console",
    },
    Rule {
        from: "gatehouse-console",
        forbidden: Forbidden::Crates(&["gatehouse-token", "gatehouse-store"]),
        why: "the operator console acts through the admin API it is handed, never on the service or the stores directly",
    },
    Rule {
        from: "gatehouse-store",
        forbidden: Forbidden::Crates(&["gatehouse-token", "gatehouse-login", "gatehouse-console"]),
        why: "the stores implement the core's ports and know no service",
    },
    Rule {
        from: "gatehouse-mail",
        forbidden: Forbidden::MembersExcept(&["gatehouse-core"]),
        why: "outgoing mail renders and sends what it is given; it knows no service or store",
    },
    Rule {
        from: "gatehouse-proto",
        forbidden: Forbidden::MembersExcept(&["gatehouse-core"]),
        why: "the wire types depend on the core's models only",
    },
    Rule {
        from: "gatehouse",
        forbidden: Forbidden::Crates(&["gatehouse-testkit"]),
        why: "test support never ships in the binary",
    },
];

/// The normal-dependency graph of the workspace, by package name.
#[derive(Debug, Default)]
pub struct Graph {
    pub members: BTreeSet<String>,
    pub edges: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    /// Reads the resolved graph `cargo metadata` reports (all features, all targets).
    pub fn from_metadata(metadata: &Metadata) -> anyhow::Result<Self> {
        let resolve = metadata
            .resolve
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("cargo metadata reported no resolved graph"))?;
        let name_of = |id| metadata[id].name.to_string();
        let mut graph = Graph {
            members: metadata.workspace_members.iter().map(name_of).collect(),
            ..Graph::default()
        };
        for node in &resolve.nodes {
            let normal = node
                .deps
                .iter()
                .filter(|dep| {
                    dep.dep_kinds
                        .iter()
                        .any(|kind| kind.kind == DependencyKind::Normal)
                })
                .map(|dep| name_of(&dep.pkg));
            graph
                .edges
                .entry(name_of(&node.id))
                .or_default()
                .extend(normal);
        }
        Ok(graph)
    }

    /// The shortest chain of normal dependencies from `from` to a crate `forbidden` accepts.
    fn path_to(&self, from: &str, forbidden: impl Fn(&str) -> bool) -> Option<Vec<String>> {
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = VecDeque::from([from]);
        while let Some(at) = queue.pop_front() {
            for next in self.edges.get(at).into_iter().flatten() {
                if next == from || parent.contains_key(next.as_str()) {
                    continue;
                }
                parent.insert(next, at);
                if forbidden(next) {
                    let mut path = vec![next.clone()];
                    let mut step = next.as_str();
                    while let Some(&up) = parent.get(step) {
                        path.push(up.to_owned());
                        step = up;
                    }
                    path.reverse();
                    return Some(path);
                }
                queue.push_back(next);
            }
        }
        None
    }
}

/// One line per broken rule, naming the chain of dependencies that breaks it.
pub fn violations(graph: &Graph, rules: &[Rule]) -> Vec<String> {
    let mut found = Vec::new();
    for rule in rules {
        if !graph.members.contains(rule.from) {
            found.push(format!(
                "{} is not a workspace member: the rule \"{}\" checks nothing",
                rule.from, rule.why
            ));
            continue;
        }
        let forbidden = |name: &str| match rule.forbidden {
            Forbidden::Crates(names) => names.contains(&name),
            Forbidden::MembersExcept(allowed) => {
                graph.members.contains(name) && !allowed.contains(&name)
            }
        };
        // Every forbidden crate reached, each with its shortest chain.
        let mut seen = BTreeSet::new();
        while let Some(path) =
            graph.path_to(rule.from, |name| forbidden(name) && !seen.contains(name))
        {
            let Some(last) = path.last().cloned() else {
                break;
            };
            found.push(format!(
                "{} depends on {}: {} ({})",
                rule.from,
                last,
                path.join(" -> "),
                rule.why
            ));
            seen.insert(last);
        }
    }
    found
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn graph(members: &[&str], edges: &[(&str, &str)]) -> Graph {
        let mut g = Graph {
            members: members.iter().map(|m| m.to_string()).collect(),
            ..Graph::default()
        };
        for (from, to) in edges {
            g.edges
                .entry(from.to_string())
                .or_default()
                .insert(to.to_string());
        }
        g
    }

    const MEMBERS: &[&str] = &[
        "gatehouse",
        "gatehouse-console",
        "gatehouse-core",
        "gatehouse-login",
        "gatehouse-mail",
        "gatehouse-proto",
        "gatehouse-store",
        "gatehouse-token",
    ];

    #[test]
    fn a_clean_graph_has_no_violations() {
        let g = graph(
            MEMBERS,
            &[
                ("gatehouse-proto", "gatehouse-core"),
                ("gatehouse-login", "gatehouse-proto"),
                ("gatehouse-token", "gatehouse-proto"),
                ("gatehouse-token", "tokio"),
                ("gatehouse-token", "gatehouse-mail"),
                ("gatehouse-mail", "gatehouse-core"),
                ("gatehouse-store", "gatehouse-core"),
                ("gatehouse", "gatehouse-login"),
                ("gatehouse", "gatehouse-token"),
                ("gatehouse-core", "serde"),
            ],
        );
        assert_eq!(violations(&g, RULES), Vec::<String>::new());
    }

    #[test]
    fn a_runtime_reached_through_a_third_crate_is_named_with_its_chain() {
        let g = graph(
            MEMBERS,
            &[
                ("gatehouse-core", "some-http-helper"),
                ("some-http-helper", "hyper"),
                ("hyper", "tokio"),
            ],
        );
        let found = violations(&g, RULES);
        assert!(
            found.contains(&"gatehouse-core depends on hyper: gatehouse-core -> some-http-helper -> hyper (the core is pure: protocol rules and models, no runtime, driver or transport)".to_owned()),
            "{found:#?}"
        );
        assert!(
            found.iter().any(|f| f.starts_with(
                "gatehouse-core depends on tokio: gatehouse-core -> some-http-helper -> hyper -> tokio"
            )),
            "{found:#?}"
        );
    }

    #[test]
    fn each_forbidden_arrow_between_members_is_caught() {
        for (from, to) in [
            ("gatehouse-login", "gatehouse-token"),
            ("gatehouse-login", "gatehouse-store"),
            ("gatehouse-token", "gatehouse-login"),
            ("gatehouse-store", "gatehouse-token"),
            ("gatehouse-store", "gatehouse-login"),
            ("gatehouse-proto", "gatehouse-store"),
            ("gatehouse-core", "gatehouse-proto"),
            ("gatehouse-console", "gatehouse-token"),
            ("gatehouse-console", "gatehouse-store"),
            ("gatehouse-token", "gatehouse-console"),
        ] {
            let found = violations(&graph(MEMBERS, &[(from, to)]), RULES);
            assert!(
                found
                    .iter()
                    .any(|f| f.starts_with(&format!("{from} depends on {to}: "))),
                "{from} -> {to} not caught: {found:#?}"
            );
        }
    }

    #[test]
    fn a_rule_about_a_crate_that_is_gone_fails_instead_of_passing() {
        let found = violations(&graph(&["gatehouse"], &[]), RULES);
        assert!(
            found
                .iter()
                .any(|f| f.starts_with("gatehouse-core is not a workspace member")),
            "{found:#?}"
        );
    }
}
