#!/usr/bin/env python3
"""Semantic checks of the deployment files, run by scripts/validate-deploy in its tools venv.

scripts/validate-deploy first runs the generic tools (yamllint, the compose-spec schema, Compose's
own `config`, `caddy validate`); this script then checks what those cannot know:

  dockerfile  stages, --locked build, non-root runtime, entrypoint/command, allow-listed context
  probe       deploy/docker/healthcheck.c compiled statically and run against a local server
  compose     services, health checks, depends_on conditions, ports on 127.0.0.1 only, no secret
              literals, env file example, observability profile
  proxy       the Caddyfile run for real (Caddy on loopback, two stub upstreams): each path goes
              to the service that owns it
  helm        the chart linted and rendered by Helm's own engine (helm-python-sdk), every
              manifest checked against Kubernetes' schemas (kubernetes-validate, strict), then the
              chart's promises: security contexts, probes, hooks, selectors, Ingress routing,
              secrets kept out of the ConfigMap and away from the login pods, and values that
              must be refused
  env names   every GATEHOUSE_* variable the rendered manifests set is a key the binary reads

Usage: validate_deploy.py --root REPO --caddy PATH_TO_CADDY
Exit status: 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import http.server
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import tomllib
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import dockerfile
import helm_python as helm
import kubernetes_validate
import yaml

# Which backend must answer each path behind the one issuer URL. The login UI's routes are those of
# crates/gatehouse-login/src/lib.rs (`router`); everything else is the token service's.
ROUTES = {
    "/oauth2/auth": "login",
    "/oauth2/auth?client_id=app&response_type=code": "login",
    "/ui": "login",
    "/ui/login": "login",
    "/ui/consent": "login",
    "/ui/consent/switch": "login",
    "/ui/static/gatehouse.css": "login",
    "/account": "login",
    "/account/apps": "login",
    "/account/apps/revoke": "login",
    "/oauth2/sessions": "login",
    "/oauth2/sessions/logout": "login",
    "/oauth2/sessions/logout/confirm": "login",
    "/oauth2/token": "token",
    "/oauth2/revoke": "token",
    "/oauth2/introspect": "token",
    "/userinfo": "token",
    "/.well-known/openid-configuration": "token",
    "/.well-known/oauth-authorization-server": "token",
    "/.well-known/jwks.json": "token",
    "/health/ready": "token",
    "/health/alive": "token",
    "/oauth2/authorize-not-a-route": "token",
    "/accounts": "token",
    "/uiextra": "token",
    "/": "token",
}

SECRET_ENV = {
    "GATEHOUSE_SYSTEM_SECRET",
    "GATEHOUSE_SYSTEM_SECRET_PREVIOUS",
    "GATEHOUSE_ADMIN_TOKEN",
    "DATABASE_URL",
    "REDIS_URL",
}

KUBE_VERSIONS = ["1.25.0", "1.37.0"]
RELEASE = "gatehouse"
NAMESPACE = "identity"


class Checks:
    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def section(self, name: str) -> None:
        print(f"\n== {name}", flush=True)

    def check(self, condition: Any, what: str) -> bool:
        if condition:
            self.passed += 1
            print(f"  ok    {what}", flush=True)
            return True
        self.failed.append(what)
        print(f"  FAIL  {what}", flush=True)
        return False

    def equal(self, actual: Any, expected: Any, what: str) -> bool:
        if actual == expected:
            return self.check(True, what)
        return self.check(False, f"{what}: expected {expected!r}, got {actual!r}")


# --------------------------------------------------------------------------------------------
# The binary's configuration keys, read from its source like crates/gatehouse/tests/it/deploy.rs.


def accepted_env_names(root: Path) -> set[str]:
    source = (root / "crates/gatehouse/src/config.rs").read_text()
    names = {"DATABASE_URL", "REDIS_URL"}
    keys = re.search(r"pub const KEYS: &\[&str\] = &\[(.*?)\];", source, re.S)
    if not keys:
        raise SystemExit("cannot find `pub const KEYS` in crates/gatehouse/src/config.rs")
    names |= {"GATEHOUSE_" + k.upper() for k in re.findall(r'"([a-z0-9_]+)"', keys.group(1))}
    client = re.search(r"const CLIENT_ONLY_ENV: &\[&str\] = &\[(.*?)\];", source, re.S)
    if client:
        names |= set(re.findall(r'"([A-Z0-9_]+)"', client.group(1)))
    return names


# --------------------------------------------------------------------------------------------


def check_dockerfile(c: Checks, root: Path, work: Path) -> None:
    c.section("Dockerfile (BuildKit's parser)")
    commands = dockerfile.parse_file(str(root / "Dockerfile"))
    args = {}
    for cmd in commands:
        if cmd.cmd == "ARG" and "=" in cmd.value[0]:
            name, default = cmd.value[0].split("=", 1)
            args[name] = default
    stages: list[list[Any]] = []
    for cmd in commands:
        if cmd.cmd == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(cmd)
    c.check(len(stages) >= 2, f"multi-stage build ({len(stages)} stages)")
    builds = [
        cmd.original
        for stage in stages
        for cmd in stage
        if cmd.cmd == "RUN" and "cargo build" in " ".join(cmd.value)
    ]
    c.check(
        any("--release" in b and "--locked" in b and "-p gatehouse" in b for b in builds),
        "builder runs cargo build --release --locked -p gatehouse",
    )
    final = stages[-1]
    base = final[0].value[0]
    base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), base)
    c.check("distroless" in base and "nonroot" in base, f"runtime base is distroless nonroot ({base})")
    users = [cmd.value[0] for cmd in final if cmd.cmd == "USER"]
    c.check(
        users and users[-1].split(":")[0] not in ("0", "root"),
        f"runtime runs as a non-root user ({users[-1] if users else 'none'})",
    )
    entry = [cmd for cmd in final if cmd.cmd == "ENTRYPOINT"]
    c.check(
        entry and entry[-1].json and entry[-1].value == ("/usr/local/bin/gatehouse",),
        "ENTRYPOINT is the gatehouse binary (exec form)",
    )
    cmd_ = [cmd for cmd in final if cmd.cmd == "CMD"]
    c.check(cmd_ and cmd_[-1].json and cmd_[-1].value == ("serve", "all"), "CMD is serve all")
    c.check(
        not any(cmd.cmd in ("SHELL", "RUN") for cmd in final),
        "the runtime stage runs nothing at build time (no shell needed)",
    )
    secretish = re.compile(r"SECRET|TOKEN|PASSWORD|DATABASE_URL|REDIS_URL", re.I)
    leaked = [
        cmd.original
        for cmd in commands
        if cmd.cmd in ("ENV", "ARG", "LABEL") and secretish.search(" ".join(cmd.value))
    ]
    c.check(not leaked, f"no secret in ENV/ARG/LABEL {leaked or ''}")
    c.check(
        not any(cmd.cmd == "ADD" for cmd in commands),
        "no ADD (nothing fetched or unpacked implicitly)",
    )
    ignore = (root / ".dockerignore").read_text().splitlines()
    c.check("*" in (line.strip() for line in ignore), ".dockerignore is an allow-list (starts from `*`)")
    allowed = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]

    def in_context(path: str) -> bool:
        return any(path == a or path.startswith(a + "/") for a in allowed)

    for cmd in commands:
        if cmd.cmd != "COPY" or any(f.startswith("--from") for f in cmd.flags):
            continue
        for src in cmd.value[:-1]:
            src = src.rstrip("/") or "."
            if src == ".":
                continue  # the whole (allow-listed) context: checked below
            c.check((root / src).exists() and in_context(src), f"COPY {src} exists and is in the .dockerignore allow-list")
    # The builder's `cargo build` needs the workspace: its manifests, every member, and the files
    # compiled in from outside the crates.
    workspace = tomllib.loads((root / "Cargo.toml").read_text())["workspace"]
    members = sorted(
        str(p.relative_to(root))
        for pattern in workspace["members"]
        for p in root.glob(pattern)
        if (p / "Cargo.toml").is_file()
    )
    for path in ["Cargo.toml", "Cargo.lock", "proto", "migrations", *members]:
        c.check(in_context(path), f"the build context includes {path}")

    # Assemble the context as the allow-list describes it and ask cargo whether it is a complete
    # workspace whose Cargo.lock is up to date (what `cargo build --locked` in the builder needs).
    excluded = {"target", "data", "node_modules", ".env"}
    context = Path(tempfile.mkdtemp(dir=work))
    for entry in allowed:
        source = root / entry
        if source.is_dir():
            shutil.copytree(source, context / entry, ignore=lambda _d, names: [
                n for n in names if n in excluded or n.endswith((".env", ".db")) or ".db-" in n])
        elif source.is_file():
            (context / entry).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, context / entry)
    cargo = shutil.which("cargo")
    if c.check(cargo, "cargo is available to load the build context's workspace"):
        run = subprocess.run([cargo, "metadata", "--locked", "--format-version", "1"],
                             cwd=context, capture_output=True, text=True)
        c.check(run.returncode == 0,
                f"the build context is a complete workspace and Cargo.lock is current (cargo metadata --locked) "
                f"{run.stderr.strip()[-400:] if run.returncode else ''}")


# --------------------------------------------------------------------------------------------


class _Stub(http.server.BaseHTTPRequestHandler):
    status = 200
    name = "stub"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.name.encode()
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the probe hangs up after the status line; that is not an error here


def stub_server(name: str, status: int = 200) -> http.server.ThreadingHTTPServer:
    handler = type(f"Stub_{name}", (_Stub,), {"name": name, "status": status})
    server = _QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_probe(c: Checks, root: Path, work: Path) -> None:
    c.section("gatehouse-healthcheck (deploy/docker/healthcheck.c)")
    cc = shutil.which("gcc") or shutil.which("cc")
    if not c.check(cc, "a C compiler is available to build the probe as the Dockerfile does"):
        return
    binary = work / "gatehouse-healthcheck"
    build = subprocess.run(
        [cc, "-static", "-Os", "-s", "-std=c11", "-D_POSIX_C_SOURCE=200809L",
         "-Wall", "-Wextra", "-Werror", "-o", str(binary),
         str(root / "deploy/docker/healthcheck.c")],
        capture_output=True, text=True,
    )
    if not c.check(build.returncode == 0, f"compiles statically with -Wall -Wextra -Werror {build.stderr.strip()}"):
        return
    ready = stub_server("ready", 200)
    down = stub_server("down", 503)
    try:
        cases = [
            (f"http://127.0.0.1:{ready.server_port}/health/ready", 0, "200 is healthy"),
            (f"http://127.0.0.1:{down.server_port}/health/ready", 1, "503 is unhealthy"),
            (f"http://127.0.0.1:{free_port()}/health/ready", 1, "a refused connection is unhealthy"),
            ("http://localhost:4444/health/ready", 2, "a host name is a usage error (no DNS)"),
            ("https://127.0.0.1:4444/", 2, "https is a usage error"),
        ]
        for url, expected, what in cases:
            run = subprocess.run([str(binary), url], capture_output=True, timeout=10)
            c.equal(run.returncode, expected, f"probe: {what}")
    finally:
        ready.shutdown()
        down.shutdown()


# --------------------------------------------------------------------------------------------


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def git_ignored(root: Path, path: str) -> bool:
    run = subprocess.run(["git", "-C", str(root), "check-ignore", "-q", path])
    return run.returncode == 0


def check_compose(c: Checks, root: Path) -> dict[str, Any]:
    c.section("docker-compose.yml (services, health, dependencies, exposure, secrets)")
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in ("postgres", "redis", "migrate", "token", "login", "proxy", "otel-collector", "jaeger"):
        c.check(name in services, f"service {name} exists")

    migrate, token, login, proxy = (services[n] for n in ("migrate", "token", "login", "proxy"))
    c.equal(migrate.get("command"), ["migrate"], "migrate runs `gatehouse migrate`")
    c.equal(str(migrate.get("restart")), "no", "migrate is one-shot (restart: no)")
    c.equal(token.get("command"), ["serve", "token"], "token runs `serve token`")
    c.equal(login.get("command"), ["serve", "login"], "login runs `serve login`")
    for name in ("migrate", "token", "login"):
        svc = services[name]
        c.check(svc.get("build", {}).get("context") == "." and svc.get("image"), f"{name} is built from the Dockerfile")
        c.check(svc.get("read_only") is True and svc.get("cap_drop") == ["ALL"], f"{name}: read-only root, no capabilities")

    def depends(svc: dict[str, Any]) -> dict[str, str]:
        d = svc.get("depends_on") or {}
        return {k: (v or {}).get("condition", "service_started") for k, v in d.items()} if isinstance(d, dict) else {k: "service_started" for k in d}

    c.equal(depends(migrate), {"postgres": "service_healthy"}, "migrate waits for a healthy postgres")
    c.equal(
        depends(token),
        {"migrate": "service_completed_successfully", "postgres": "service_healthy", "redis": "service_healthy"},
        "token waits for the migrations and healthy stores",
    )
    c.equal(depends(login), {"token": "service_healthy", "redis": "service_healthy"}, "login waits for a healthy token service and redis")
    c.equal(depends(proxy), {"token": "service_healthy", "login": "service_healthy"}, "proxy waits for healthy token and login")

    for name, port in (("token", 4444), ("login", 4447)):
        test = services[name].get("healthcheck", {}).get("test", [])
        c.check(
            test[:1] == ["CMD"] and test[1:2] == ["/usr/local/bin/gatehouse-healthcheck"]
            and test[2:] == [f"http://127.0.0.1:{port}/health/ready"],
            f"{name} health check: the image's probe on /health/ready (:{port}), exec form",
        )
    for name in ("postgres", "redis"):
        c.check(services[name].get("healthcheck", {}).get("test"), f"{name} has a health check")

    published = []
    for name, svc in services.items():
        for port in svc.get("ports", []):
            published.append((name, str(port)))
            c.check(str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on the host's loopback only")
    admin = [(n, p) for n, p in published if p.split(":")[-1] == "4445"]
    c.equal(admin, [("token", "127.0.0.1:4445:4445")], "the admin port is published by token only, on 127.0.0.1")
    c.check(not any(n in ("postgres", "redis") for n, _ in published), "postgres and redis are not published")

    issuer = env_of(token).get("GATEHOUSE_ISSUER")
    c.equal(env_of(login).get("GATEHOUSE_ISSUER"), issuer, "token and login share one issuer")
    proxy_port = next((p.split(":")[-1] for n, p in published if n == "proxy"), None)
    c.equal(issuer, f"http://localhost:{proxy_port}", "the issuer is the proxy's published URL")
    c.equal(env_of(token).get("GATEHOUSE_AUTO_MIGRATE"), "false", "token leaves migrations to the migrate service")
    c.equal(env_of(login).get("GATEHOUSE_TOKEN_GRPC_URL"), "http://token:4446", "login reaches token's gRPC listener")
    c.equal(env_of(token).get("GATEHOUSE_ADMIN_ADDR"), "0.0.0.0:4445", "token's admin listener is reachable through the published port")
    c.check("DATABASE_URL" not in env_of(login), "login gets no database URL")
    c.equal(env_of(login).get("GATEHOUSE_ADMIN_TOKEN"), "", "login blanks the admin token it would get from the env file")

    # Secrets: only the obviously-local Postgres credentials are literals.
    secretish = re.compile(r"SECRET|TOKEN|PASSWORD", re.I)
    for name, svc in services.items():
        for key, value in env_of(svc).items():
            if secretish.search(key) and key != "GATEHOUSE_TOKEN_GRPC_URL":
                allowed = (name == "postgres" and key == "POSTGRES_PASSWORD" and value == "gatehouse") or value == ""
                c.check(allowed, f"{name}: {key} holds no secret literal")
            if "://" in value and "@" in value:
                c.check(value.startswith("postgres://gatehouse:gatehouse@postgres:"), f"{name}: {key} carries only the local dev credentials")

    env_files = {f for svc in services.values() for f in (svc.get("env_file") or [])}
    c.equal(env_files, {"deploy/compose/gatehouse.env"}, "one env file carries the secrets")
    for f in env_files:
        example = root / (f + ".example")
        c.check(example.is_file(), f"{f}.example is committed")
        c.check(git_ignored(root, f), f"{f} (the real one) is git-ignored")
        values = read_env_file(example)
        for key in ("GATEHOUSE_SYSTEM_SECRET", "GATEHOUSE_ADMIN_TOKEN"):
            c.check(key in values and values[key] == "", f"{f}.example lists {key}, empty")
    c.check(git_ignored(root, ".env"), ".env is git-ignored")

    for name, svc in services.items():
        for volume in svc.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("./"):
                c.check((root / source).is_file(), f"{name} mounts {source}, which exists")

    for name in ("otel-collector", "jaeger"):
        c.equal(services[name].get("profiles"), ["observability"], f"{name} is in the observability profile only")
    for name in ("postgres", "redis", "migrate", "token", "login", "proxy"):
        c.check(not services[name].get("profiles"), f"{name} runs without a profile")
    example = (root / "deploy/compose/gatehouse.env.example").read_text()
    c.check(
        "# OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector:4317" in example,
        "the env file example shows the OTLP endpoint of the profile's collector",
    )
    otel = yaml.safe_load((root / "deploy/compose/otel-collector.yaml").read_text())
    c.equal(
        otel["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"], "0.0.0.0:4317",
        "the collector receives OTLP/gRPC on 4317",
    )
    c.check(
        otel["exporters"]["otlp/jaeger"]["endpoint"].startswith("jaeger:"),
        "the collector exports to the jaeger service",
    )
    return compose


# --------------------------------------------------------------------------------------------


def fetch(url: str, host: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def check_proxy(c: Checks, root: Path, caddy: str, work: Path) -> None:
    c.section("reverse proxy (deploy/compose/Caddyfile, run for real on loopback)")
    caddyfile = (root / "deploy/compose/Caddyfile").read_text()
    c.check("token:4444" in caddyfile and "login:4447" in caddyfile, "upstreams are token:4444 and login:4447")
    c.check(not re.search(r":444[56]\b", caddyfile), "the admin and gRPC ports are never proxied")
    token = stub_server("token")
    login = stub_server("login")
    port = free_port()
    adapted = (
        caddyfile.replace(":8080 {", f":{port} {{\n\tbind 127.0.0.1")
        .replace("token:4444", f"127.0.0.1:{token.server_port}")
        .replace("login:4447", f"127.0.0.1:{login.server_port}")
    )
    config = work / "Caddyfile"
    config.write_text(adapted)
    env = dict(os.environ, HOME=str(work), XDG_CONFIG_HOME=str(work / "config"), XDG_DATA_HOME=str(work / "data"))
    process = subprocess.Popen(
        [caddy, "run", "--adapter", "caddyfile", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=open(work / "caddy.log", "w"), env=env,
    )
    try:
        deadline = time.monotonic() + 15
        up = False
        while time.monotonic() < deadline and process.poll() is None:
            try:
                fetch(f"http://127.0.0.1:{port}/health/alive")
                up = True
                break
            except OSError:
                time.sleep(0.2)
        if not c.check(up, f"caddy serves the Caddyfile (see {work / 'caddy.log'} if not)"):
            return
        for path, backend in ROUTES.items():
            # As the browser sends it for the compose issuer, http://localhost:8080.
            status, body = fetch(f"http://127.0.0.1:{port}{path}", host="localhost:8080")
            c.equal((status, body), (200, backend), f"proxy: {path} -> {backend}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        token.shutdown()
        login.shutdown()


# --------------------------------------------------------------------------------------------


def render(chart: Path, values: dict[str, Any], **kwargs: Any) -> dict[str, str]:
    with helm.Chart.load(str(chart)) as loaded:
        return loaded.render(values, name=RELEASE, namespace=NAMESPACE, **kwargs)


def documents(rendered: dict[str, str]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, text in sorted(rendered.items()):
        if path.endswith(".txt") or not text.strip():
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                yield path, doc


def pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job"):
            yield f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]["spec"]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any] | None:
    return next((o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name), None)


def ingress_backend(ingress: dict[str, Any], host: str, path: str) -> tuple[str, str] | None:
    """The backend Kubernetes' Ingress rules pick: the longest matching Prefix path (element-wise)."""
    path = path.split("?", 1)[0]
    best = None
    for rule in ingress["spec"]["rules"]:
        if rule.get("host") != host:
            continue
        for p in rule["http"]["paths"]:
            prefix = p["path"].rstrip("/")
            if p["pathType"] == "Exact":
                matches = path == p["path"]
            else:
                matches = prefix == "" or path == prefix or path.startswith(prefix + "/")
            if matches and (best is None or len(prefix) > len(best[0])):
                service = p["backend"]["service"]
                best = (prefix, (service["name"], service["port"].get("name") or service["port"].get("number")))
    return best[1] if best else None


def check_helm(c: Checks, root: Path, accepted: set[str]) -> None:
    chart = root / "deploy/helm/gatehouse"
    c.section(f"Helm chart: lint (Helm SDK {helm.helm_sdk_version()}, strict)")
    scenarios = sorted((chart / "ci").glob("*.yaml"))
    c.check(len(scenarios) >= 2, f"CI value scenarios: {', '.join(s.name for s in scenarios)}")
    for scenario in scenarios:
        values = yaml.safe_load(scenario.read_text())
        for kube in KUBE_VERSIONS:
            report = helm.lint(str(chart), values, strict=True, namespace=NAMESPACE, kube_version=f"v{kube}")
            problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
            c.check(not problems, f"helm lint --strict ({scenario.name}, Kubernetes {kube}) {problems or ''}")

    for scenario in scenarios:
        values = yaml.safe_load(scenario.read_text())
        for mode in ("install", "upgrade"):
            c.section(f"Helm chart: rendered with ci/{scenario.name} ({mode})")
            rendered = render(chart, values, is_install=mode == "install", is_upgrade=mode == "upgrade")
            objects = [doc for _, doc in documents(rendered)]
            check_rendered(c, values, objects, accepted)
            if mode == "install":
                c.check(rendered.get("gatehouse/templates/NOTES.txt", "").strip(), "NOTES.txt renders")

    c.section("Helm chart: values that must be refused")
    base = yaml.safe_load((chart / "ci/inline-values.yaml").read_text())
    refused = {
        "no issuer": ({"issuer": ""}, "issuer is required"),
        "an issuer with a path": ({"issuer": "https://auth.example.com/auth"}, "issuer"),
        "no database": ({"database": {"url": ""}}, "database is required"),
        "no redis": ({"redis": {"url": ""}}, "redis is required"),
        "no system secret": ({"systemSecret": {"value": ""}}, "systemSecret is required"),
        "a short system secret": ({"systemSecret": {"value": "short"}}, "shorter than 32"),
        "no admin token": ({"adminToken": {"value": ""}}, "adminToken is required"),
        "a secret in config": ({"config": {"GATEHOUSE_SYSTEM_SECRET": "x" * 40}}, "GATEHOUSE_SYSTEM_SECRET"),
        "a listener address in config": ({"config": {"GATEHOUSE_ADMIN_ADDR": "0.0.0.0:1"}}, "GATEHOUSE_ADMIN_ADDR"),
        "a non-setting in config": ({"config": {"PATH": "/tmp"}}, "PATH"),
        "an unknown top-level value": ({"replicas": 3}, "replicas"),
        "a database URL that is not postgres": ({"database": {"url": "mysql://db/x"}}, "database"),
        "a PDB without a bound": ({"token": {"pdb": {"maxUnavailable": None, "minAvailable": None}}}, "pdb"),
    }
    for what, (override, message) in refused.items():
        values = merge(base, override)
        try:
            render(chart, values, is_install=True)
            c.check(False, f"refused: {what}")
        except helm.HelmError as e:
            c.check(message in str(e), f"refused: {what} ({str(e).strip().splitlines()[-1][:110]})")


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def check_rendered(c: Checks, values: dict[str, Any], objects: list[dict[str, Any]], accepted: set[str]) -> None:
    kinds = sorted(f"{o['kind']}/{o['metadata']['name']}" for o in objects)
    print(f"  rendered: {', '.join(kinds)}")
    for obj in objects:
        label = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            continue
        errors = []
        for kube in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(obj, kube, strict=True)
            except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as e:
                errors.append(f"{kube}: {str(e)[:300]}")
        c.check(not errors, f"{label} matches the Kubernetes {' and '.join(KUBE_VERSIONS)} schemas (strict) {errors or ''}")

    token = find(objects, "Deployment", "gatehouse-token")
    login = find(objects, "Deployment", "gatehouse-login")
    if not (c.check(token, "Deployment gatehouse-token exists") and c.check(login, "Deployment gatehouse-login exists")):
        return

    # Every pod: restrictive security context, no API token, no service-link variables.
    for label, spec in pod_specs(objects):
        psc = spec.get("securityContext", {})
        c.check(psc.get("runAsNonRoot") is True and psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
                f"{label}: pod runs as non-root with the RuntimeDefault seccomp profile")
        c.check(spec.get("automountServiceAccountToken") is False, f"{label}: no service account token mounted")
        c.check(spec.get("enableServiceLinks") is False, f"{label}: no service-link environment variables")
        for container in spec["containers"]:
            sc = container.get("securityContext", {})
            c.check(
                sc.get("readOnlyRootFilesystem") is True
                and sc.get("allowPrivilegeEscalation") is False
                and sc.get("runAsNonRoot") is True
                and sc.get("capabilities", {}).get("drop") == ["ALL"]
                and not sc.get("capabilities", {}).get("add")
                and sc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
                f"{label}/{container['name']}: read-only root, no escalation, capabilities dropped, seccomp",
            )
            c.check(container.get("resources", {}).get("requests") and container["resources"].get("limits", {}).get("memory"),
                    f"{label}/{container['name']}: resource requests and a memory limit")
            for env in container.get("env", []):
                name = env["name"]
                if name.startswith("GATEHOUSE_") or name in ("DATABASE_URL", "REDIS_URL"):
                    c.check(name in accepted, f"{label}/{container['name']}: {name} is a key the binary reads")

    # Roles, ports and probes.
    for deployment, role, port_name, port in ((token, "token", "public", 4444), (login, "login", "http", 4447)):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        label = f"Deployment/{deployment['metadata']['name']}"
        c.equal(container.get("args"), ["serve", role], f"{label} runs `serve {role}`")
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        c.equal(ports.get(port_name), port, f"{label}: port {port_name} is {port}")
        for probe, path in (("livenessProbe", "/health/alive"), ("readinessProbe", "/health/ready"), ("startupProbe", "/health/alive")):
            get = container.get(probe, {}).get("httpGet", {})
            c.equal((get.get("path"), get.get("port")), (path, port_name), f"{label}: {probe} GET {path} on {port_name}")
        env = {e["name"]: e for e in container.get("env", [])}
        c.check("GATEHOUSE_SYSTEM_SECRET" in env and "valueFrom" in env["GATEHOUSE_SYSTEM_SECRET"],
                f"{label}: system secret from a Secret")
        c.check("REDIS_URL" in env and "valueFrom" in env["REDIS_URL"], f"{label}: Redis URL from a Secret")
        c.check(deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > 20,
                f"{label}: termination grace above the 20 s shutdown grace")
        c.check(deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0,
                f"{label}: rolling updates keep every pod until its replacement is ready")
    token_env = {e["name"]: e for e in token["spec"]["template"]["spec"]["containers"][0]["env"]}
    login_env = {e["name"]: e for e in login["spec"]["template"]["spec"]["containers"][0]["env"]}
    c.check("DATABASE_URL" in token_env and "GATEHOUSE_ADMIN_TOKEN" in token_env, "token gets the database URL and admin token")
    c.check("DATABASE_URL" not in login_env and "GATEHOUSE_ADMIN_TOKEN" not in login_env,
            "login gets neither the database URL nor the admin token")
    migration_enabled = values.get("migration", {}).get("enabled", True)
    c.equal(token_env.get("GATEHOUSE_AUTO_MIGRATE", {}).get("value"), str(not migration_enabled).lower(),
            "token migrates on start only when the migration Job is disabled")

    # ConfigMap: the issuer and the gRPC URL, no secret.
    config = next(o for o in objects if o["kind"] == "ConfigMap")
    data = config.get("data", {})
    c.equal(data.get("GATEHOUSE_ISSUER"), values["issuer"].rstrip("/"), "ConfigMap carries the issuer")
    c.equal(data.get("GATEHOUSE_TOKEN_GRPC_URL"), f"http://gatehouse-token.{NAMESPACE}.svc:4446",
            "ConfigMap points login at the token Service's gRPC port")
    c.check(not SECRET_ENV & set(data), "ConfigMap holds no secret")
    inline_secrets = [v for v in (values.get("systemSecret", {}).get("value"), values.get("adminToken", {}).get("value"),
                                  values.get("database", {}).get("url")) if v]
    c.check(not any(s in str(data) for s in inline_secrets), "no secret value leaks into the ConfigMap")
    for name in data:
        if name.startswith("GATEHOUSE_"):
            c.check(name in accepted, f"ConfigMap: {name} is a key the binary reads")
    for deployment in (token, login):
        refs = [e["configMapRef"]["name"] for e in deployment["spec"]["template"]["spec"]["containers"][0].get("envFrom", [])]
        c.equal(refs, [config["metadata"]["name"]], f"Deployment/{deployment['metadata']['name']} reads the ConfigMap")

    # Secrets referenced by the pods exist (chart-made) or are the named existing ones.
    chart_secrets = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Secret"}
    existing = {values.get(k, {}).get("existingSecret", {}).get("name") for k in ("database", "redis", "systemSecret", "adminToken")} - {None, ""}
    for label, spec in pod_specs(objects):
        for container in spec["containers"]:
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if not ref:
                    continue
                secret = chart_secrets.get(ref["name"])
                ok = (secret is not None and ref["key"] in secret.get("stringData", {})) or ref["name"] in existing
                c.check(ok, f"{label}: {env['name']} <- Secret {ref['name']}/{ref['key']}, which the chart renders or the values name")

    # Migration Job: a pre-install/pre-upgrade hook that needs the database only.
    job = find(objects, "Job", "gatehouse-migrate")
    if migration_enabled and c.check(job, "Job gatehouse-migrate exists"):
        hooks = set(job["metadata"]["annotations"]["helm.sh/hook"].split(","))
        c.equal(hooks, {"pre-install", "pre-upgrade"}, "the migration Job is a pre-install/pre-upgrade hook")
        container = job["spec"]["template"]["spec"]["containers"][0]
        c.equal(container.get("args"), ["migrate"], "the Job runs `gatehouse migrate`")
        names = {e["name"] for e in container.get("env", [])}
        c.check("DATABASE_URL" in names and not names & (SECRET_ENV - {"DATABASE_URL"}), "the Job gets the database URL and no other secret")
        c.equal(job["spec"]["template"]["spec"]["restartPolicy"], "Never", "the Job's pods are not restarted in place")
        ref = next(e for e in container["env"] if e["name"] == "DATABASE_URL")["valueFrom"]["secretKeyRef"]["name"]
        if ref in chart_secrets:
            hook = chart_secrets[ref]["metadata"].get("annotations", {})
            c.check(int(hook.get("helm.sh/hook-weight", "0")) < int(job["metadata"]["annotations"].get("helm.sh/hook-weight", "0"))
                    and "pre-install" in hook.get("helm.sh/hook", ""),
                    "the Job's database Secret is a hook created before the Job")

    # Services select the right pods and target named container ports.
    for svc in (o for o in objects if o["kind"] == "Service"):
        selector = svc["spec"]["selector"]
        matching = [d for d in objects if d["kind"] == "Deployment"
                    and selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        label = f"Service/{svc['metadata']['name']}"
        if c.equal(len(matching), 1, f"{label} selects exactly one Deployment's pods"):
            names = {p["name"] for p in matching[0]["spec"]["template"]["spec"]["containers"][0]["ports"]}
            for port in svc["spec"]["ports"]:
                c.check(port["targetPort"] in names, f"{label}: port {port['name']} targets container port {port['targetPort']}")
        c.equal(svc["spec"]["type"], "ClusterIP", f"{label} is cluster-internal")

    # HPA and PDB for each Deployment (when enabled) point at it.
    for role, deployment in (("token", token), ("login", login)):
        cfg = merge({"autoscaling": {"enabled": True}, "pdb": {"enabled": True}}, values.get(role, {}))
        hpa = find(objects, "HorizontalPodAutoscaler", f"gatehouse-{role}")
        if cfg["autoscaling"]["enabled"]:
            c.check(hpa and hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"], f"HPA scales Deployment/gatehouse-{role}")
            c.check("replicas" not in deployment["spec"], f"Deployment/gatehouse-{role} leaves replicas to the HPA")
        else:
            c.check(hpa is None and deployment["spec"].get("replicas"), f"Deployment/gatehouse-{role} has fixed replicas, no HPA")
        pdb = find(objects, "PodDisruptionBudget", f"gatehouse-{role}")
        if cfg["pdb"]["enabled"] and c.check(pdb, f"PDB for gatehouse-{role} exists"):
            c.check(pdb["spec"]["selector"]["matchLabels"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items(),
                    f"PDB gatehouse-{role} selects the {role} pods")

    # Ingress: one host, the issuer's; login paths to login, the rest to token's public port.
    ingress = next((o for o in objects if o["kind"] == "Ingress"), None)
    if values.get("ingress", {}).get("enabled") and c.check(ingress, "Ingress exists"):
        host = re.sub(r"^https?://", "", values["issuer"]).rstrip("/").split(":")[0]
        c.equal([r["host"] for r in ingress["spec"]["rules"]], [host], "the Ingress serves the issuer's host only")
        expected = {"login": ("gatehouse-login", "http"), "token": ("gatehouse-token", "public")}
        for path, backend in ROUTES.items():
            c.equal(ingress_backend(ingress, host, path), expected[backend], f"ingress: {path} -> {backend}")
        ports = {p["backend"]["service"]["port"].get("name") for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
        c.check(not ports & {"admin", "grpc"}, "the Ingress never routes the admin or gRPC port")
        if values["ingress"].get("tls"):
            c.equal(ingress["spec"]["tls"][0]["hosts"], [host], "TLS covers the issuer's host")

    # ServiceMonitor: /metrics on the token Service's admin port.
    monitor = next((o for o in objects if o["kind"] == "ServiceMonitor"), None)
    if values.get("metrics", {}).get("serviceMonitor", {}).get("enabled") and c.check(monitor, "ServiceMonitor exists"):
        token_svc = find(objects, "Service", "gatehouse-token")
        c.check(monitor["spec"]["selector"]["matchLabels"].items() <= token_svc["metadata"]["labels"].items(),
                "the ServiceMonitor selects the token Service")
        endpoint = monitor["spec"]["endpoints"][0]
        c.equal((endpoint["port"], endpoint["path"]), ("admin", "/metrics"), "it scrapes /metrics on the admin port")
        c.check(endpoint["port"] in {p["name"] for p in token_svc["spec"]["ports"]}, "the admin port is a port of the token Service")


# --------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--caddy", required=True)
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    root = args.root.resolve()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    c = Checks()
    accepted = accepted_env_names(root)
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("dockerfile", lambda: check_dockerfile(c, root, args.work)),
        ("probe", lambda: check_probe(c, root, Path(tempfile.mkdtemp(dir=args.work)))),
        ("compose", lambda: check_compose(c, root)),
        ("proxy", lambda: check_proxy(c, root, args.caddy, Path(tempfile.mkdtemp(dir=args.work)))),
        ("helm", lambda: check_helm(c, root, accepted)),
    ]
    for name, step in steps:
        try:
            step()
        except Exception as e:  # a crash in one section is a failure, and the others still run
            c.check(False, f"{name}: {type(e).__name__}: {e}")
    print(f"\nsemantic checks: {c.passed} passed, {len(c.failed)} failed")
    for what in c.failed:
        print(f"  failed: {what}")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
