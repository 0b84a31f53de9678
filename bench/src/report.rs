//! `bench/RESULTS.md` from the run's records: the machine and versions, one table per Gatehouse
//! backend against the peer, memory and start-up, and the benchmark's targets checked against the
//! numbers (reported, never asserted: a slow machine is not a failed run).
//!
//! Anything below [`NOTES_MARKER`] in the previous file (profiles, before/after notes) is kept.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

pub const NOTES_MARKER: &str =
    "<!-- notes: everything below this line is kept when bench/run rewrites this file -->";

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Record {
    Load(Load),
    Memory(Memory),
    Startup {
        server: String,
        backend: String,
        what: String,
        ms: f64,
    },
    Meta {
        key: String,
        value: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
struct Load {
    server: String,
    backend: String,
    scenario: String,
    concurrency: usize,
    ok: u64,
    errors: u64,
    rps: f64,
    p99_ms: f64,
    first_error: Option<String>,
}

/// Table rows: record name, label. `flow-c8-argon2` compares Gatehouse's `flow-c8` with the
/// peer configured to verify an argon2id password hash as Gatehouse does.
const ROWS: &[(&str, &str)] = &[
    ("discovery", "discovery GET"),
    ("jwks", "JWKS GET"),
    ("cc-opaque", "client_credentials, opaque token"),
    (
        "cc-private-key-jwt",
        "client_credentials, private_key_jwt (a fresh ES256 assertion each), opaque token",
    ),
    ("introspect", "introspection of a live opaque token"),
    ("cc-jwt-rs256", "client_credentials, JWT access token RS256"),
    ("cc-jwt-es256", "client_credentials, JWT access token ES256"),
    ("cc-jwt-eddsa", "client_credentials, JWT access token EdDSA"),
    ("flow-c1", "auth code + PKCE flow, concurrency 1 (flows/s)"),
    ("flow-c8", "auth code + PKCE flow, concurrency 8 (flows/s)"),
    (
        "flow-c8-argon2",
        "same, peer also checks an argon2id password (flows/s)",
    ),
    (
        "flow-returning-c8",
        "same flow by returning browsers (signed in, consented), concurrency 8 (flows/s)",
    ),
];

#[derive(Debug, Deserialize)]
struct Memory {
    server: String,
    backend: String,
    idle_kb: f64,
    /// VmHWM before the login scenarios: token, introspection, discovery and JWKS load only.
    #[serde(default)]
    token_peak_kb: f64,
    peak_kb: f64,
    /// VmHWM of a fresh process after minting opaque tokens at the peer's rate (0: not run).
    #[serde(default)]
    paced_peak_kb: f64,
}

struct Data {
    loads: Vec<Load>,
    memory: Vec<Memory>,
    startup: Vec<(String, String, String, f64)>,
    meta: Vec<(String, String)>,
}

impl Data {
    fn load(&self, server: &str, backend: &str, scenario: &str) -> Option<&Load> {
        self.loads
            .iter()
            .find(|l| l.server == server && l.backend == backend && l.scenario == scenario)
    }

    /// Gatehouse's row for `scenario` on `backend` and the peer's.
    fn pair(&self, backend: &str, scenario: &str) -> (Option<&Load>, Option<&Load>) {
        let ours = if scenario == "flow-c8-argon2" {
            "flow-c8"
        } else {
            scenario
        };
        (self.load("gatehouse", backend, ours), self.peer(scenario))
    }

    fn peer(&self, scenario: &str) -> Option<&Load> {
        self.loads
            .iter()
            .find(|l| l.server == "peer" && l.scenario == scenario)
    }

    fn meta(&self, key: &str) -> Option<&str> {
        self.meta
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn ratio(&self, backend: &str, scenario: &str) -> Option<f64> {
        match self.pair(backend, scenario) {
            (Some(g), Some(p)) if p.rps > 0.0 => Some(g.rps / p.rps),
            _ => None,
        }
    }

    fn memory(&self, server: &str, backend: &str) -> Option<&Memory> {
        self.memory
            .iter()
            .find(|m| m.server == server && m.backend == backend)
    }

    fn startups(&self, server: &str, backend: &str, what: &str) -> Vec<f64> {
        self.startup
            .iter()
            .filter(|(s, b, w, _)| s == server && b == backend && w == what)
            .map(|(_, _, _, ms)| *ms)
            .collect()
    }
}

fn parse(records: &Path) -> anyhow::Result<Data> {
    let text = std::fs::read_to_string(records)
        .with_context(|| format!("reading {}", records.display()))?;
    let mut data = Data {
        loads: Vec::new(),
        memory: Vec::new(),
        startup: Vec::new(),
        meta: Vec::new(),
    };
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let record: Record = serde_json::from_str(line)
            .with_context(|| format!("{} line {}", records.display(), i + 1))?;
        match record {
            Record::Load(l) => data.loads.push(l),
            Record::Memory(m) => data.memory.push(m),
            Record::Startup {
                server,
                backend,
                what,
                ms,
            } => data.startup.push((server, backend, what, ms)),
            Record::Meta { key, value } => data.meta.push((key, value)),
        }
    }
    Ok(data)
}

fn rps(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn cell(l: Option<&Load>) -> (String, String) {
    match l {
        Some(l) if l.ok > 0 => (rps(l.rps), format!("{:.2}", l.p99_ms)),
        Some(_) => ("failed".to_owned(), "–".to_owned()),
        None => ("–".to_owned(), "–".to_owned()),
    }
}

fn mb(kb: f64) -> String {
    format!("{:.1} MB", kb / 1024.0)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

pub fn write(records: &Path, out: &Path) -> anyhow::Result<()> {
    let data = parse(records)?;
    let mut md = String::new();
    let m = |k: &str| data.meta(k).unwrap_or("?").to_owned();
    let quick = data.meta("mode") == Some("quick");

    writeln!(md, "# Benchmark results\n")?;
    writeln!(
        md,
        "Written by `bench/run{}` on {}. Gatehouse and the peer (node-oidc-provider) ran in the same \
         run, one after the other, each pinned to CPU core 0 with nothing else under load; the load \
         driver (`gatehouse-bench`, one thread, keep-alive connections) ran on core 1.\n",
        if quick { " --quick" } else { "" },
        m("date")
    )?;
    if quick {
        writeln!(
            md,
            "**Smoke run (`--quick`)**: about a second per scenario{}; the numbers show the \
             benchmark works, not how fast anything is.\n",
            if data.meta("profile") == Some("debug") {
                ", and Gatehouse was the debug build"
            } else {
                ""
            }
        )?;
    }
    writeln!(md, "| | |\n|---|---|")?;
    for (key, label) in [
        ("machine", "machine"),
        ("cpu", "CPU"),
        ("memory", "memory"),
        ("gatehouse", "Gatehouse"),
        ("profile", "Gatehouse build"),
        ("peer", "peer"),
        ("node", "Node.js"),
        ("rustc", "rustc"),
        ("postgres", "Postgres"),
        ("redis", "Redis"),
        ("settings", "load"),
    ] {
        writeln!(md, "| {label} | {} |", m(key))?;
    }
    writeln!(md)?;

    for (backend, title) in [
        (
            "embedded",
            "Gatehouse on the embedded default (SQLite + memory)",
        ),
        (
            "postgres+redis",
            "Gatehouse on Postgres + Redis (the peer keeps everything in process memory)",
        ),
    ] {
        if !data.loads.iter().any(|l| l.backend == backend) {
            continue;
        }
        writeln!(md, "## {title}\n")?;
        writeln!(
            md,
            "| scenario | Gatehouse rps | p99 ms | peer rps | p99 ms | ratio |\n|---|---:|---:|---:|---:|---:|"
        )?;
        for (id, label) in ROWS {
            let (g, p) = data.pair(backend, id);
            if g.is_none() {
                continue;
            }
            let (gr, gp) = cell(g);
            let (pr, pp) = cell(p);
            let ratio = data
                .ratio(backend, id)
                .map_or("–".to_owned(), |r| format!("{r:.2}×"));
            writeln!(md, "| {label} | {gr} | {gp} | {pr} | {pp} | {ratio} |")?;
        }
        writeln!(md)?;
    }

    writeln!(md, "## Memory and start-up\n")?;
    writeln!(
        md,
        "| measure | Gatehouse (embedded) | Gatehouse (Postgres + Redis) | peer |\n|---|---:|---:|---:|"
    )?;
    for (label, pick) in [
        (
            "resident idle, after setup (VmRSS)",
            (|m: &Memory| m.idle_kb) as fn(&Memory) -> f64,
        ),
        (
            "peak while minting opaque tokens at the peer's client_credentials rate, 12 s (VmHWM of the fresh process)",
            |m: &Memory| m.paced_peak_kb,
        ),
        (
            "peak under token, introspection, discovery and JWKS load (VmHWM before the login scenarios)",
            |m: &Memory| m.token_peak_kb,
        ),
        (
            "peak over all its scenarios, login storm included (VmHWM)",
            |m: &Memory| m.peak_kb,
        ),
    ] {
        let mem = |server: &str, backend: &str| {
            data.memory(server, backend)
                .map(pick)
                .filter(|kb| *kb > 0.0)
                .map_or("–".to_owned(), mb)
        };
        writeln!(
            md,
            "| {label} | {} | {} | {} |",
            mem("gatehouse", "embedded"),
            mem("gatehouse", "postgres+redis"),
            mem("peer", "memory")
        )?;
    }
    let start = |server: &str, backend: &str, what: &str| {
        let v = data.startups(server, backend, what);
        match (v.len(), median(v.clone())) {
            (0, _) | (_, None) => "–".to_owned(),
            (1, Some(x)) => format!("{x:.0} ms"),
            (n, Some(x)) => format!("{x:.0} ms (median of {n})"),
        }
    };
    writeln!(
        md,
        "| start → `/health/ready` 200, first start (empty database: migrations, key generation) | {} | {} | {} |",
        start("gatehouse", "embedded", "first start"),
        start("gatehouse", "postgres+redis", "first start"),
        start("peer", "memory", "first start")
    )?;
    writeln!(
        md,
        "| start → `/health/ready` 200, restart (existing data) | {} | {} | – |",
        start("gatehouse", "embedded", "restart"),
        start("gatehouse", "postgres+redis", "restart"),
    )?;
    writeln!(md)?;

    targets(&mut md, &data)?;

    let failures: Vec<&Load> = data.loads.iter().filter(|l| l.errors > 0).collect();
    if !failures.is_empty() {
        writeln!(md, "## Errors during the run\n")?;
        for l in failures {
            writeln!(
                md,
                "- {} / {} / {} (c={}): {} errors, {} ok; first: `{}`",
                l.server,
                l.backend,
                l.scenario,
                l.concurrency,
                l.errors,
                l.ok,
                l.first_error
                    .as_deref()
                    .unwrap_or("?")
                    .replace('`', "'")
                    .chars()
                    .take(300)
                    .collect::<String>()
            )?;
        }
        writeln!(md)?;
    }

    let kept = std::fs::read_to_string(out)
        .ok()
        .and_then(|old| old.find(NOTES_MARKER).map(|i| old[i..].to_owned()))
        .unwrap_or_else(|| format!("{NOTES_MARKER}\n"));
    md.push_str(&kept);
    std::fs::write(out, md).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

/// The benchmark's targets, checked against this run.
fn targets(md: &mut String, data: &Data) -> anyhow::Result<()> {
    writeln!(md, "## Targets\n")?;
    writeln!(md, "| target | measured | met |\n|---|---|:---:|")?;
    let yes = |ok: bool| if ok { "yes" } else { "**no**" };
    let mut row = |target: &str, measured: String, ok: Option<bool>| {
        writeln!(md, "| {target} | {measured} | {} |", ok.map_or("–", yes))
    };
    let ratio_p99 = |backend: &str, id: &str, min: f64, p99: Option<f64>| {
        let r = data.ratio(backend, id);
        let g = data.pair(backend, id).0;
        let measured = match (r, g) {
            (Some(r), Some(g)) => format!("{r:.2}×, p99 {:.2} ms", g.p99_ms),
            _ => "not measured".to_owned(),
        };
        let ok = r.map(|r| r >= min && p99.is_none_or(|max| g.is_some_and(|g| g.p99_ms < max)));
        (measured, ok)
    };
    for (id, name) in [
        ("cc-opaque", "client_credentials (opaque)"),
        ("introspect", "introspection"),
    ] {
        let (m, ok) = ratio_p99("embedded", id, 3.0, Some(5.0));
        row(&format!("{name}: ≥ 3× the peer, p99 < 5 ms"), m, ok)?;
    }
    let (m, ok) = ratio_p99("embedded", "cc-private-key-jwt", 3.0, None);
    row(
        "client_credentials with private_key_jwt (ES256): ≥ 3×",
        m,
        ok,
    )?;
    for (id, name) in [("discovery", "discovery"), ("jwks", "JWKS")] {
        let (m, ok) = ratio_p99("embedded", id, 5.0, None);
        row(&format!("{name}: ≥ 5×"), m, ok)?;
    }
    let (m, ok) = ratio_p99("embedded", "flow-c8", 3.0, None);
    row("full flow at concurrency 8: ≥ 3× (peer auto-login)", m, ok)?;
    let (m, _) = ratio_p99("embedded", "flow-c8-argon2", 3.0, None);
    row(
        "(for comparison) full flow, c=8, peer checking argon2id too",
        m,
        None,
    )?;
    let (m, _) = ratio_p99("embedded", "flow-returning-c8", 3.0, None);
    row(
        "(for comparison) full flow, c=8, returning browsers on both (no password check)",
        m,
        None,
    )?;
    for (id, alg) in [
        ("cc-jwt-rs256", "RS256"),
        ("cc-jwt-es256", "ES256"),
        ("cc-jwt-eddsa", "EdDSA"),
    ] {
        let (m, ok) = ratio_p99("embedded", id, 2.0, None);
        row(&format!("JWT access tokens {alg}: ≥ 2×"), m, ok)?;
    }
    let mem = data.memory("gatehouse", "embedded");
    row(
        "memory idle < 30 MB",
        mem.map_or("not measured".to_owned(), |m| mb(m.idle_kb)),
        mem.map(|m| m.idle_kb < 30.0 * 1024.0),
    )?;
    row(
        "memory peak under load < 80 MB (all scenarios, login storm included)",
        mem.map_or("not measured".to_owned(), |m| mb(m.peak_kb)),
        mem.map(|m| m.peak_kb < 80.0 * 1024.0),
    )?;
    row(
        "(for comparison) peak under token and introspection load only",
        mem.map_or("not measured".to_owned(), |m| mb(m.token_peak_kb)),
        None,
    )?;
    row(
        "(for comparison) peak minting opaque tokens at the peer's rate (same work)",
        mem.filter(|m| m.paced_peak_kb > 0.0)
            .map_or("not measured".to_owned(), |m| mb(m.paced_peak_kb)),
        None,
    )?;
    let restart = median(data.startups("gatehouse", "embedded", "restart"));
    row(
        "ready < 300 ms after start (restart)",
        restart.map_or("not measured".to_owned(), |ms| format!("{ms:.0} ms")),
        restart.map(|ms| ms < 300.0),
    )?;
    let first = median(data.startups("gatehouse", "embedded", "first start"));
    row(
        "ready < 300 ms after start (first start)",
        first.map_or("not measured".to_owned(), |ms| format!("{ms:.0} ms")),
        first.map(|ms| ms < 300.0),
    )?;
    for (id, name) in [
        ("cc-opaque", "client_credentials"),
        ("introspect", "introspection"),
    ] {
        let (m, ok) = ratio_p99("postgres+redis", id, 1.5, None);
        row(&format!("Postgres + Redis, {name}: ≥ 1.5×"), m, ok)?;
    }
    writeln!(md)?;
    Ok(())
}
