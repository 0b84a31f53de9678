#!/usr/bin/env python3
"""Semantic checks of the deployment files, run by scripts/validate-deploy in its tools venv.

scripts/validate-deploy first runs the generic tools (yamllint, the compose-spec schema, Compose's
own `config`, `caddy validate`); this script then checks what those cannot know:

  dockerfile  stages, --locked build, non-root runtime, entrypoint/command, allow-listed context,
              gRPC left on loopback, the certificate directory owned by the image's user
  probe       deploy/docker/healthcheck.c compiled statically and run against a local server
  compose     services, health checks, depends_on conditions, ports on 127.0.0.1 only, no secret
              literals, env file example, observability profile, the gRPC link's mutual TLS (the
              one-shot certificate service, its volume, the token and login variables)
  proxy       the Caddyfile run for real (Caddy on loopback, two stub upstreams): each path goes
              to the service that owns it
  helm        the chart linted and rendered by Helm's own engine (helm-python-sdk), every
              manifest checked against Kubernetes' schemas (kubernetes-validate, strict), then the
              chart's promises: security contexts, probes, hooks, selectors, Ingress routing,
              secrets kept out of the ConfigMap and away from the login pods, the gRPC link's
              mutual TLS in each of its certificate sources (generated certificates tried in a
              real TLS handshake; cert-manager resources, which have no built-in schema, checked
              field by field), the NetworkPolicy, and values that must be refused
  env names   every GATEHOUSE_* variable the rendered manifests set is a key the binary reads
  grafana     deploy/grafana/gatehouse.json: panels with PromQL targets on the chosen Prometheus,
              its template variables, and every metric (a histogram's _bucket/_sum/_count) and
              label its queries use one the binary exports, read from the `metrics::counter!`,
              `histogram!` and `gauge!` calls in crates/*/src (plus metrics-process's process_*)

Usage: validate_deploy.py --root REPO --caddy PATH_TO_CADDY
Exit status: 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import re
import shutil
import base64
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import tomllib
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit
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
    "/ui/restart?challenge=x": "login",
    "/ui/language?lang=de&return=/": "login",
    "/account": "login",
    "/account/apps": "login",
    "/account/apps/revoke": "login",
    "/device": "login",
    "/device?user_code=BCDF-GHJK": "login",
    "/oauth2/device/auth": "token",
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
    "/": "login",
    "/index.html": "token",
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
FULLNAME = "gatehouse"  # the chart's full name for RELEASE (the release name contains the chart's)

# The gRPC link (token service <-> login UI). The image creates CERT_DIR owned by its user, compose
# and the chart mount the certificate files there; each side's variables name these files.
CERT_DIR = "/var/lib/gatehouse/grpc-certs"
GRPC_SERVER_FILES = {
    "GATEHOUSE_GRPC_TLS_CERT": "token.crt",
    "GATEHOUSE_GRPC_TLS_KEY": "token.key",
    "GATEHOUSE_GRPC_CLIENT_CA": "ca.crt",
}
GRPC_CLIENT_FILES = {
    "GATEHOUSE_TOKEN_GRPC_CA": "ca.crt",
    "GATEHOUSE_TOKEN_GRPC_CLIENT_CERT": "login.crt",
    "GATEHOUSE_TOKEN_GRPC_CLIENT_KEY": "login.key",
}
LOGIN_ROLE = "urn:gatehouse:role:login"
PKCS8_PEM = "-----BEGIN PRIVATE KEY-----"

# cert-manager's resources are CRDs, absent from Kubernetes' built-in schemas: their fields are
# checked against these lists (cert-manager.io/v1) instead.
CERT_MANAGER_API = "cert-manager.io/v1"
CERT_MANAGER_SPEC = {
    "Certificate": {
        "additionalOutputFormats", "commonName", "dnsNames", "duration", "emailAddresses",
        "encodeUsagesInRequest", "ipAddresses", "isCA", "issuerRef", "keystores", "literalSubject",
        "nameConstraints", "otherNames", "privateKey", "renewBefore", "renewBeforePercentage",
        "revisionHistoryLimit", "secretName", "secretTemplate", "signatureAlgorithm", "subject",
        "uris", "usages",
    },
    "Issuer": {"acme", "ca", "selfSigned", "vault", "venafi"},
    "ClusterIssuer": {"acme", "ca", "selfSigned", "vault", "venafi"},
}
CERT_MANAGER_USAGES = {
    "signing", "digital signature", "content commitment", "key encipherment", "key agreement",
    "data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any",
    "server auth", "client auth", "code signing", "email protection", "s/mime",
    "ipsec end system", "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing",
    "microsoft sgc", "netscape sgc",
}
CERT_MANAGER_PRIVATE_KEY = {
    "algorithm": {"RSA", "ECDSA", "Ed25519"},
    "encoding": {"PKCS1", "PKCS8"},
    "rotationPolicy": {"Never", "Always"},
    "size": None,
}


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
    # Off loopback the token service refuses to start without its mTLS files, so an image default
    # of 0.0.0.0 would break `docker run IMAGE serve all --dev`; compose and the chart set the
    # address together with the files.
    image_env: dict[str, str] = {}
    for cmd in final:
        if cmd.cmd == "ENV":
            image_env.update(zip(cmd.value[0::2], cmd.value[1::2]))
    grpc_addr = image_env.get("GATEHOUSE_GRPC_ADDR")
    c.check(grpc_addr is None or grpc_addr.startswith(("127.", "[::1]:")),
            f"the image leaves gRPC on loopback (GATEHOUSE_GRPC_ADDR {grpc_addr or 'not set'})")
    c.check(not {"GATEHOUSE_GRPC_INSECURE", *GRPC_SERVER_FILES, *GRPC_CLIENT_FILES} & set(image_env),
            "the image sets neither gRPC TLS files nor the insecure opt-out")
    # An empty named volume takes over the owner of the image directory it is mounted on: the
    # certificate directory must exist in the image, owned by the runtime user.
    runtime_user = users[-1] if users else ""
    builder_runs = " ".join(cmd.original for stage in stages[:-1] for cmd in stage if cmd.cmd == "RUN")
    c.check(re.search(rf"install -d\b[^&]*\s/out{re.escape(CERT_DIR)}(\s|$)", builder_runs),
            f"the builder creates {CERT_DIR} under /out")

    def copies_cert_dir(cmd: Any) -> bool:  # COPY --from=builder /out/X Y with X == Y, above CERT_DIR
        source, dest = cmd.value[0].rstrip("/"), cmd.value[-1].rstrip("/")
        return source == "/out" + dest and CERT_DIR.startswith(dest + "/")

    owned = [
        cmd for cmd in final
        if cmd.cmd == "COPY" and "--from=builder" in cmd.flags and f"--chown={runtime_user}" in cmd.flags
        and copies_cert_dir(cmd)
    ]
    c.check(owned, f"the runtime stage copies {CERT_DIR} owned by the runtime user {runtime_user}")
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


def volume_mounts(svc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """A service's volumes as (source, target, "ro" or "rw"), short or long syntax."""
    mounts = []
    for volume in svc.get("volumes", []):
        if isinstance(volume, dict):
            mounts.append((volume.get("source", ""), volume.get("target", ""), "ro" if volume.get("read_only") else "rw"))
        else:
            parts = str(volume).split(":")
            mounts.append((parts[0], parts[1] if len(parts) > 1 else parts[0], parts[2] if len(parts) > 2 else "rw"))
    return mounts


def check_compose_grpc(c: Checks, compose: dict[str, Any]) -> None:
    """The gRPC link: certificates from the one-shot grpc-certs service, mutual TLS on both ends."""
    services = compose["services"]
    certs, token, login = services["grpc-certs"], services["token"], services["login"]
    command = [str(a) for a in certs.get("command") or []]
    c.equal(command[:2], ["certs", "grpc"], "grpc-certs runs `gatehouse certs grpc`")
    out = command[command.index("--out") + 1] if "--out" in command[:-1] else None
    dns = [command[i + 1] for i, arg in enumerate(command[:-1]) if arg == "--dns"]
    c.equal(out, CERT_DIR, "grpc-certs writes into the directory the image creates for its user (an empty named volume takes over its owner)")
    c.check("--force" not in command, "grpc-certs keeps the certificates it finds (no --force), so every `up` reuses them")
    c.equal(str(certs.get("restart")), "no", "grpc-certs is one-shot (restart: no)")
    c.check(not certs.get("env_file") and not certs.get("environment"), "grpc-certs gets no env file and no secret")
    named = set(compose.get("volumes") or {})
    volume = next((source for source, target, _ in volume_mounts(certs) if target == out), None)
    c.check(volume in named, f"grpc-certs writes into a named volume ({volume})")
    c.equal(volume_mounts(certs), [(volume, out, "rw")], "grpc-certs mounts that volume only, writable")

    token_env, login_env = env_of(token), env_of(login)
    c.equal(token_env.get("GATEHOUSE_GRPC_ADDR"), "0.0.0.0:4446", "token's gRPC listener is on the compose network")
    for name, svc, env, files in (("token", token, token_env, GRPC_SERVER_FILES), ("login", login, login_env, GRPC_CLIENT_FILES)):
        c.check((volume, out, "ro") in volume_mounts(svc), f"{name} mounts the grpc-certs volume read-only at {out}")
        for key, file in files.items():
            c.equal(env.get(key), f"{out}/{file}", f"{name}: {key} is {file} of the grpc-certs volume")
        c.check("GATEHOUSE_GRPC_INSECURE" not in env, f"{name}: no insecure gRPC opt-out")
    url = login_env.get("GATEHOUSE_TOKEN_GRPC_URL", "")
    c.equal(url, "https://token:4446", "login reaches token's gRPC listener over https")
    parts = urlsplit(url)
    c.check(parts.hostname == "token" and parts.hostname in dns,
            f"the token certificate names the URL's host {parts.hostname!r} (--dns {' '.join(dns)})")
    c.equal(parts.port, int(token_env.get("GATEHOUSE_GRPC_ADDR", ":0").rsplit(":", 1)[1]), "the URL's port is token's gRPC port")
    # Failed logins are counted where passwords are checked: by the token service.
    c.equal(token_env.get("GATEHOUSE_LOGIN_MAX_FAILURES_PER_IP"), "0",
            "token, which counts failed logins, has the per-IP limit off (every login comes from the proxy)")
    c.check("GATEHOUSE_LOGIN_MAX_FAILURES_PER_IP" not in login_env, "login does not carry a failed-login limit it does not enforce")


def check_compose(c: Checks, root: Path) -> dict[str, Any]:
    c.section("docker-compose.yml (services, health, dependencies, exposure, secrets)")
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in ("postgres", "redis", "grpc-certs", "migrate", "token", "login", "proxy", "otel-collector", "jaeger"):
        c.check(name in services, f"service {name} exists")

    migrate, token, login, proxy = (services[n] for n in ("migrate", "token", "login", "proxy"))
    c.equal(migrate.get("command"), ["migrate"], "migrate runs `gatehouse migrate`")
    c.equal(str(migrate.get("restart")), "no", "migrate is one-shot (restart: no)")
    c.equal(token.get("command"), ["serve", "token"], "token runs `serve token`")
    c.equal(login.get("command"), ["serve", "login"], "login runs `serve login`")
    for name in ("grpc-certs", "migrate", "token", "login"):
        svc = services[name]
        c.check(svc.get("build", {}).get("context") == "." and svc.get("image"), f"{name} is built from the Dockerfile")
        c.check(svc.get("read_only") is True and svc.get("cap_drop") == ["ALL"], f"{name}: read-only root, no capabilities")

    def depends(svc: dict[str, Any]) -> dict[str, str]:
        d = svc.get("depends_on") or {}
        return {k: (v or {}).get("condition", "service_started") for k, v in d.items()} if isinstance(d, dict) else {k: "service_started" for k in d}

    c.equal(depends(migrate), {"postgres": "service_healthy"}, "migrate waits for a healthy postgres")
    c.equal(
        depends(token),
        {"grpc-certs": "service_completed_successfully", "migrate": "service_completed_successfully",
         "postgres": "service_healthy", "redis": "service_healthy"},
        "token waits for its gRPC certificates, the migrations and healthy stores",
    )
    c.equal(depends(login), {"grpc-certs": "service_completed_successfully", "token": "service_healthy", "redis": "service_healthy"},
            "login waits for its gRPC certificates, a healthy token service and redis")
    c.equal(depends(services["grpc-certs"]), {}, "grpc-certs needs no other service")
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
    check_compose_grpc(c, compose)
    for name in ("token", "login"):
        svc = services[name]
        delay = go_duration(env_of(svc).get("GATEHOUSE_SHUTDOWN_DELAY", "0s")) or 0
        grace = go_duration(env_of(svc).get("GATEHOUSE_SHUTDOWN_GRACE", "20s")) or 20
        stop = go_duration(svc.get("stop_grace_period", "10s")) or 10
        c.check(delay >= 5, f"{name} drains for at least 5 s after SIGTERM (GATEHOUSE_SHUTDOWN_DELAY {delay} s)")
        c.check(stop > delay + grace, f"{name}: stop_grace_period {stop} s above the shutdown delay plus grace ({delay} + {grace} s)")
    c.equal(env_of(token).get("GATEHOUSE_ADMIN_ADDR"), "0.0.0.0:4445", "token's admin listener is reachable through the published port")
    c.check("DATABASE_URL" not in env_of(login), "login gets no database URL")
    c.equal(env_of(login).get("GATEHOUSE_ADMIN_TOKEN"), "", "login blanks the admin token it would get from the env file")

    # Secrets: only the obviously-local Postgres credentials are literals.
    secretish = re.compile(r"SECRET|TOKEN|PASSWORD", re.I)
    for name, svc in services.items():
        for key, value in env_of(svc).items():
            # The gRPC client's URL and file paths (checked above) merely contain TOKEN.
            if secretish.search(key) and not key.startswith("GATEHOUSE_TOKEN_GRPC_"):
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
    for name in ("postgres", "redis", "grpc-certs", "migrate", "token", "login", "proxy"):
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
                # An exact match wins over every prefix.
                matches, weight = path == p["path"], float("inf")
            else:
                matches = prefix == "" or path == prefix or path.startswith(prefix + "/")
                weight = len(prefix)
            if matches and (best is None or weight > best[0]):
                service = p["backend"]["service"]
                best = (weight, (service["name"], service["port"].get("name") or service["port"].get("number")))
    return best[1] if best else None


def check_helm(c: Checks, root: Path, accepted: set[str], work: Path) -> None:
    chart = root / "deploy/helm/gatehouse"
    grpc_defaults = yaml.safe_load((chart / "values.yaml").read_text())["grpc"]
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
            check_rendered(c, values, objects, accepted, merge(grpc_defaults, values.get("grpc", {})), work)
            if mode == "install":
                c.check(rendered.get("gatehouse/templates/NOTES.txt", "").strip(), "NOTES.txt renders")

    # The gRPC link's other shapes, on top of the inline scenario (whose gRPC values are the defaults).
    base = yaml.safe_load((chart / "ci/inline-values.yaml").read_text())
    variants = {
        "cert-manager with an issuer of the operator's": {"grpc": {"certManager": {
            "enabled": True, "issuerRef": {"name": "internal-ca", "kind": "ClusterIssuer"}}}},
        "no TLS inside a mesh (grpc.insecure)": {"grpc": {"tls": {"enabled": False}, "insecure": True}},
        "no NetworkPolicy": {"grpc": {"networkPolicy": {"enabled": False}}},
    }
    for what, override in variants.items():
        c.section(f"Helm chart: rendered with ci/inline-values.yaml and {what}")
        values = merge(base, override)
        rendered = render(chart, values, is_install=True)
        objects = [doc for _, doc in documents(rendered)]
        check_rendered(c, values, objects, accepted, merge(grpc_defaults, values.get("grpc", {})), work)
        c.check(rendered.get("gatehouse/templates/NOTES.txt", "").strip(), "NOTES.txt renders")

    c.section("Helm chart: values that must be refused")
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
        "gRPC TLS off without the mesh opt-out": ({"grpc": {"tls": {"enabled": False}}}, "grpc.tls.enabled=false"),
        "the insecure opt-out with TLS on": ({"grpc": {"insecure": True}}, "grpc.insecure=true needs grpc.tls.enabled=false"),
        "two sources of gRPC certificates": ({"grpc": {"existingSecret": "x", "certManager": {"enabled": True}}}, "choose one"),
        "gRPC certificates with TLS off": ({"grpc": {"tls": {"enabled": False}, "insecure": True, "existingSecret": "x"}},
                                          "grpc.tls.enabled=false"),
        "a gRPC server file in config": ({"config": {"GATEHOUSE_GRPC_TLS_KEY": "/tmp/k"}}, "GATEHOUSE_GRPC_TLS_KEY"),
        "a gRPC client file in config": ({"config": {"GATEHOUSE_TOKEN_GRPC_CLIENT_KEY": "/tmp/k"}}, "GATEHOUSE_TOKEN_GRPC_CLIENT_KEY"),
        "the insecure opt-out in config": ({"config": {"GATEHOUSE_GRPC_INSECURE": "true"}}, "GATEHOUSE_GRPC_INSECURE"),
        "an unknown gRPC value": ({"grpc": {"mtls": True}}, "mtls"),
        "a cert-manager duration that is not one": ({"grpc": {"certManager": {"duration": "90d"}}}, "duration"),
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


def check_rendered(c: Checks, values: dict[str, Any], objects: list[dict[str, Any]], accepted: set[str],
                   grpc: dict[str, Any], work: Path) -> None:
    kinds = sorted(f"{o['kind']}/{o['metadata']['name']}" for o in objects)
    print(f"  rendered: {', '.join(kinds)}")
    for obj in objects:
        label = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            continue
        if obj["apiVersion"].startswith("cert-manager.io/"):
            print(f"  skip  {label}: Kubernetes schema validation (a cert-manager CRD, not among the built-in "
                  "schemas); its fields are checked below", flush=True)
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
        config_data = next(o for o in objects if o["kind"] == "ConfigMap")["data"]
        delay = go_duration(config_data.get("GATEHOUSE_SHUTDOWN_DELAY", "0s")) or 0
        grace = go_duration(config_data.get("GATEHOUSE_SHUTDOWN_GRACE", "20s")) or 20
        c.check(delay >= 5, f"{label}: drains for at least 5 s after SIGTERM (GATEHOUSE_SHUTDOWN_DELAY {delay} s)")
        c.check(deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > delay + grace,
                f"{label}: termination grace above the shutdown delay plus grace ({delay} + {grace} s)")
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
    scheme = "https" if grpc["tls"]["enabled"] else "http"
    c.equal(data.get("GATEHOUSE_TOKEN_GRPC_URL"), f"{scheme}://gatehouse-token.{NAMESPACE}.svc:4446",
            f"ConfigMap points login at the token Service's gRPC port ({scheme})")
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
        # Secret volumes: a Secret the chart renders, one a rendered cert-manager Certificate
        # writes, or the gRPC Secret the values name; every item a key it holds.
        issued = {o["spec"].get("secretName"): o for o in objects if o["kind"] == "Certificate"}
        for volume in spec.get("volumes", []):
            secret_volume = volume.get("secret")
            if not secret_volume:
                continue
            name = secret_volume["secretName"]
            keys = [item["key"] for item in secret_volume.get("items", [])]
            if name in chart_secrets:
                held = set(chart_secrets[name].get("data", {})) | set(chart_secrets[name].get("stringData", {}))
                ok = set(keys) <= held
            elif name in issued:
                ok = set(keys) <= {"tls.crt", "tls.key", "ca.crt"}
            else:
                ok = name == grpc.get("existingSecret")
            c.check(ok and keys, f"{label}: volume {volume['name']} <- Secret {name} items {keys}, which the chart renders, "
                                  "a Certificate writes or the values name")
            c.check(secret_volume.get("defaultMode", 0o644) & 0o007 == 0, f"{label}: volume {volume['name']}'s files are not world-readable")

    check_grpc(c, grpc, objects, work)

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

    # ServiceMonitors: /metrics on the token Service's admin port and on the login Service's metrics
    # port, which reaches the container port the login UI's metrics listener binds on every address.
    if values.get("metrics", {}).get("serviceMonitor", {}).get("enabled"):
        for component, port in (("token", "admin"), ("login", "metrics")):
            name = f"{FULLNAME}-{component}"
            monitor = find(objects, "ServiceMonitor", name)
            service = find(objects, "Service", name)
            if not (c.check(monitor, f"ServiceMonitor {name} exists") and c.check(service, f"Service {name} exists")):
                continue
            c.check(monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items(),
                    f"ServiceMonitor {name} selects the {component} Service")
            endpoint = monitor["spec"]["endpoints"][0]
            c.equal((endpoint["port"], endpoint["path"]), (port, "/metrics"),
                    f"ServiceMonitor {name} scrapes /metrics on the {port} port")
            service_port = next((p for p in service["spec"]["ports"] if p["name"] == port), None)
            if not c.check(service_port, f"{port} is a port of the {component} Service"):
                continue
            container = find(objects, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
            target = next((p for p in container.get("ports", []) if p["name"] == service_port["targetPort"]), None)
            if not c.check(target, f"the {component} Service's {port} port targets a container port"):
                continue
            if component == "login":
                env = {e["name"]: e.get("value") for e in container.get("env", [])}
                c.equal(env.get("GATEHOUSE_LOGIN_ADMIN_ADDR"), f"0.0.0.0:{target['containerPort']}",
                        "the login UI's metrics listener binds the scraped container port on every address")


# --------------------------------------------------------------------------------------------
# The chart's gRPC link: mutual TLS between the login and token pods, and the NetworkPolicy.


def grpc_source(grpc: dict[str, Any]) -> str:
    """Where the chart takes the link's certificates from, as gatehouse.grpcCertSource decides."""
    if not grpc["tls"]["enabled"]:
        return ""
    if grpc.get("existingSecret"):
        return "existing"
    return "certManager" if grpc["certManager"]["enabled"] else "generated"


def token_dns_names() -> list[str]:
    service = f"{FULLNAME}-token"
    return [service, f"{service}.{NAMESPACE}", f"{service}.{NAMESPACE}.svc", f"{service}.{NAMESPACE}.svc.cluster.local"]


def mounted_secret_files(spec: dict[str, Any], container: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Files a container sees through read-only Secret volumes: path -> (Secret, key)."""
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    files = {}
    for mount in container.get("volumeMounts", []):
        secret = volumes.get(mount["name"], {}).get("secret")
        if not secret or mount.get("readOnly") is not True or mount.get("subPath"):
            continue
        for item in secret.get("items") or [{"key": "*", "path": "*"}]:
            files[f"{mount['mountPath'].rstrip('/')}/{item['path']}"] = (secret["secretName"], item["key"])
    return files


def go_duration(text: Any) -> float | None:
    """Seconds of a Go duration string (what cert-manager accepts), None when it is not one."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", str(text))
    if not parts or "".join(n + u for n, u in parts) != str(text):
        return None
    scale = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[u] for n, u in parts)


def mtls_exchange(work: Path, ca: bytes, server: tuple[bytes, bytes], client: tuple[bytes, bytes] | None,
                  hostname: str) -> dict[str, Any]:
    """One TLS connection on loopback: a server with `server` (cert, key) that requires a client
    certificate from `ca`, and a client that checks the server against `ca` and `hostname` and
    presents `client`. What each side saw, and the errors."""
    directory = Path(tempfile.mkdtemp(dir=work))
    files = {"ca.crt": ca, "server.crt": server[0], "server.key": server[1]}
    if client:
        files |= {"client.crt": client[0], "client.key": client[1]}
    for name, data in files.items():
        (directory / name).write_bytes(data)
        (directory / name).chmod(0o600)
    path = {name: str(directory / name) for name in files}
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(path["server.crt"], path["server.key"])
    server_context.load_verify_locations(path["ca.crt"])
    server_context.verify_mode = ssl.CERT_REQUIRED
    client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
    client_context.load_verify_locations(path["ca.crt"])
    if client:
        client_context.load_cert_chain(path["client.crt"], path["client.key"])
    result: dict[str, Any] = {}
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve() -> None:
        try:
            connection, _ = listener.accept()
            with server_context.wrap_socket(connection, server_side=True) as tls:
                result["client_cert"] = tls.getpeercert()
                tls.sendall(b"ok")
        except (OSError, ssl.SSLError) as e:
            result["server_error"] = str(e)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with socket.create_connection(listener.getsockname(), timeout=10) as raw, \
                client_context.wrap_socket(raw, server_hostname=hostname) as tls:
            result["server_cert"] = tls.getpeercert()
            result["reply"] = tls.recv(2)
    except (OSError, ssl.SSLError) as e:
        result["client_error"] = str(e)
    thread.join(10)
    listener.close()
    shutil.rmtree(directory, ignore_errors=True)
    return result


def grpc_cert_secrets(objects: list[dict[str, Any]]) -> list[str]:
    """Rendered Secrets that carry gRPC certificate files."""
    names = {"ca.crt", "token.crt", "token.key", "login.crt", "login.key", "ca.key"}
    return [o["metadata"]["name"] for o in objects if o["kind"] == "Secret"
            and names & (set(o.get("data") or {}) | set(o.get("stringData") or {}))]


def check_cert_manager_fields(c: Checks, objects: list[dict[str, Any]]) -> None:
    """cert-manager resources against cert-manager.io/v1's fields, in place of a schema."""
    for obj in objects:
        if not obj["apiVersion"].startswith("cert-manager.io/"):
            continue
        label = f"{obj['kind']}/{obj['metadata']['name']}"
        kind, spec = obj["kind"], obj.get("spec") or {}
        c.equal(obj["apiVersion"], CERT_MANAGER_API, f"{label}: apiVersion")
        if not c.check(kind in CERT_MANAGER_SPEC, f"{label}: a cert-manager kind ({', '.join(CERT_MANAGER_SPEC)})"):
            continue
        c.check(set(obj) <= {"apiVersion", "kind", "metadata", "spec"} and set(obj["metadata"]) <= {"name", "namespace", "labels", "annotations"},
                f"{label}: only apiVersion, kind, metadata (name, labels, annotations) and spec")
        unknown = sorted(set(spec) - CERT_MANAGER_SPEC[kind])
        c.check(not unknown, f"{label}: spec fields are cert-manager.io/v1 {kind} fields {unknown or ''}")
        problems = []
        if kind == "Certificate":
            if not (isinstance(spec.get("secretName"), str) and spec["secretName"]):
                problems.append("secretName missing")
            ref = spec.get("issuerRef")
            if not (isinstance(ref, dict) and set(ref) <= {"name", "kind", "group"} and isinstance(ref.get("name"), str) and ref["name"]):
                problems.append(f"issuerRef {ref!r}")
            if not any(spec.get(k) for k in ("commonName", "dnsNames", "uris", "ipAddresses", "emailAddresses", "otherNames", "literalSubject")):
                problems.append("no identity (commonName, dnsNames, uris, ...)")
            for field in ("dnsNames", "uris", "ipAddresses", "emailAddresses", "usages"):
                if field in spec and not (isinstance(spec[field], list) and all(isinstance(v, str) and v for v in spec[field])):
                    problems.append(f"{field} is not a list of strings")
            if set(spec.get("usages") or []) - CERT_MANAGER_USAGES:
                problems.append(f"unknown usages {sorted(set(spec['usages']) - CERT_MANAGER_USAGES)}")
            key = spec.get("privateKey") or {}
            for field, value in key.items():
                allowed = CERT_MANAGER_PRIVATE_KEY.get(field, ())
                if allowed is None:
                    if not isinstance(value, int):
                        problems.append(f"privateKey.{field} {value!r}")
                elif value not in allowed:
                    problems.append(f"privateKey.{field} {value!r}")
            if "isCA" in spec and not isinstance(spec["isCA"], bool):
                problems.append("isCA is not a boolean")
            duration = go_duration(spec.get("duration", "2160h"))
            renew = go_duration(spec["renewBefore"]) if "renewBefore" in spec else 0
            if duration is None or renew is None:
                problems.append(f"duration {spec.get('duration')!r} / renewBefore {spec.get('renewBefore')!r} are not Go durations")
            elif duration < 3600 or renew >= duration:
                problems.append("duration under 1h, or renewBefore not below it")
        else:
            types = sorted(set(spec) & {"acme", "ca", "selfSigned", "vault", "venafi"})
            if len(types) != 1:
                problems.append(f"exactly one issuer type expected, got {types}")
            if "ca" in spec and not (set(spec["ca"]) <= {"secretName", "crlDistributionPoints", "issuingCertificateURLs", "ocspServers"}
                                     and spec["ca"].get("secretName")):
                problems.append(f"ca {spec['ca']!r}")
            if "selfSigned" in spec and not (isinstance(spec["selfSigned"], dict) and set(spec["selfSigned"]) <= {"crlDistributionPoints"}):
                problems.append(f"selfSigned {spec['selfSigned']!r}")
        c.check(not problems, f"{label}: fields well-formed {problems or ''}")


def check_grpc(c: Checks, grpc: dict[str, Any], objects: list[dict[str, Any]], work: Path) -> None:
    source = grpc_source(grpc)
    print(f"  gRPC link: {'mutual TLS, certificates ' + source if source else 'no TLS (grpc.insecure)'}", flush=True)
    deployments = {role: find(objects, "Deployment", f"{FULLNAME}-{role}") for role in ("token", "login")}
    specs = {role: d["spec"]["template"]["spec"] for role, d in deployments.items()}
    containers = {role: spec["containers"][0] for role, spec in specs.items()}
    envs = {role: {e["name"]: e.get("value") for e in container.get("env", [])} for role, container in containers.items()}
    ports = {p["name"]: p["containerPort"] for p in containers["token"]["ports"]}
    config = next(o for o in objects if o["kind"] == "ConfigMap")
    url = urlsplit(config["data"].get("GATEHOUSE_TOKEN_GRPC_URL", ""))
    service = find(objects, "Service", f"{FULLNAME}-token")
    service_port = next(p for p in service["spec"]["ports"] if p["name"] == "grpc")

    c.equal(envs["token"].get("GATEHOUSE_GRPC_ADDR"), f"0.0.0.0:{ports['grpc']}", "token pods bind gRPC on the pod IP, at container port grpc")
    c.equal(service_port.get("appProtocol"), None if source else "grpc",
            "the Service's grpc port claims cleartext gRPC (appProtocol) only when the link has no TLS")
    c.equal((url.hostname, url.port), (f"{service['metadata']['name']}.{NAMESPACE}.svc", service_port["port"]),
            "login's gRPC URL is the token Service's grpc port")
    for role, deployment in deployments.items():
        c.check("checksum/grpc-certs" in deployment["spec"]["template"]["metadata"].get("annotations", {}),
                f"{role} pods roll when the gRPC certificates the chart renders change")
    tls_vars = {*GRPC_SERVER_FILES, *GRPC_CLIENT_FILES}

    if not source:
        c.equal(url.scheme, "http", "without TLS the URL is http")
        c.equal(envs["token"].get("GATEHOUSE_GRPC_INSECURE"), "true", "token pods opt out of TLS explicitly (GATEHOUSE_GRPC_INSECURE)")
        c.check(not tls_vars & (set(envs["token"]) | set(envs["login"])), "no gRPC TLS file variables")
        c.check(not any(m["mountPath"] == CERT_DIR for ct in containers.values() for m in ct.get("volumeMounts", [])),
                "no gRPC certificate mounts")
        c.check(not grpc_cert_secrets(objects) and not any(o["apiVersion"].startswith("cert-manager.io/") for o in objects),
                "no gRPC certificate Secret or Certificate")
        check_network_policy(c, grpc, objects)
        return

    c.equal(url.scheme, "https", "login's gRPC URL is https")
    c.check("GATEHOUSE_GRPC_INSECURE" not in envs["token"] | envs["login"], "no insecure gRPC opt-out")
    c.check(not set(GRPC_CLIENT_FILES) & set(envs["token"]) and not set(GRPC_SERVER_FILES) & set(envs["login"]),
            "each side gets only its own gRPC variables")
    certificates = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Certificate"}
    expected: dict[str, tuple[str, dict[str, str]]] = {}
    for role, files in (("token", GRPC_SERVER_FILES), ("login", GRPC_CLIENT_FILES)):
        names = {f: f for f in files.values()}
        if source == "generated":
            expected[role] = (f"{FULLNAME}-grpc-{role}", names)
        elif source == "existing":
            expected[role] = (grpc["existingSecret"], names)
        else:
            issued = certificates.get(f"{FULLNAME}-grpc-{role}", {}).get("spec", {}).get("secretName", "?")
            expected[role] = (issued, {"ca.crt": "ca.crt", f"{role}.crt": "tls.crt", f"{role}.key": "tls.key"})
        mounted = mounted_secret_files(specs[role], containers[role])
        in_dir = sorted(path for path in mounted if path.startswith(CERT_DIR + "/"))
        c.equal(in_dir, sorted(f"{CERT_DIR}/{f}" for f in files.values()),
                f"{role} pods get exactly their own gRPC files, read-only, in {CERT_DIR}")
        secret, keys = expected[role]
        for variable, file in files.items():
            path = envs[role].get(variable)
            c.equal(path, f"{CERT_DIR}/{file}", f"{role}: {variable} is its mounted {file}")
            c.equal(mounted.get(path or ""), (secret, keys[file]), f"{role}: {file} is key {keys[file]} of Secret {secret}")

    if source == "generated":
        check_generated_certs(c, objects, url.hostname, work)
    else:
        c.check(not grpc_cert_secrets(objects), f"no Helm-generated gRPC certificate Secret {grpc_cert_secrets(objects) or ''}")
    check_cert_manager_fields(c, objects)
    if source == "certManager":
        check_cert_manager_grpc(c, grpc, objects, url.hostname, {role: expected[role][0] for role in expected})
    else:
        c.check(not any(o["apiVersion"].startswith("cert-manager.io/") for o in objects), "no cert-manager resources")
    check_network_policy(c, grpc, objects)


def check_generated_certs(c: Checks, objects: list[dict[str, Any]], host: str | None, work: Path) -> None:
    secrets = {role: find(objects, "Secret", f"{FULLNAME}-grpc-{role}") for role in ("token", "login")}
    if not c.check(all(secrets.values()), f"the chart renders Secrets {FULLNAME}-grpc-token and {FULLNAME}-grpc-login"):
        return
    data = {role: {k: base64.b64decode(v) for k, v in (s.get("data") or {}).items()} for role, s in secrets.items()}
    c.equal(sorted(data["token"]), ["ca.crt", "token.crt", "token.key"], "the token Secret holds ca.crt, token.crt, token.key only")
    c.equal(sorted(data["login"]), ["ca.crt", "login.crt", "login.key"], "the login Secret holds ca.crt, login.crt, login.key only")
    c.equal(sorted(grpc_cert_secrets(objects)), sorted(s["metadata"]["name"] for s in secrets.values()),
            "no other Secret carries gRPC certificate files (the CA's key is kept nowhere)")
    ca = data["token"].get("ca.crt", b"")
    c.check(ca.startswith(b"-----BEGIN CERTIFICATE-----") and ca == data["login"].get("ca.crt"), "both Secrets carry the same CA certificate")
    for role in ("token", "login"):
        c.check(data[role].get(f"{role}.key", b"").startswith(PKCS8_PEM.encode()), f"{role}.key is a PEM PKCS#8 key")
    if not all(k in data["token"] for k in ("token.crt", "token.key")) or not all(k in data["login"] for k in ("login.crt", "login.key")):
        return
    server = (data["token"]["token.crt"], data["token"]["token.key"])
    client = (data["login"]["login.crt"], data["login"]["login.key"])
    ok = mtls_exchange(work, ca, server, client, host or "")
    errors = {k: v for k, v in ok.items() if k.endswith("_error")}
    if not c.check(ok.get("reply") == b"ok",
                   f"TLS handshake with the rendered files: login's client certificate and token's server certificate "
                   f"for {host}, each checked against the CA {errors or ''}"):
        return
    dns = sorted(value for kind, value in ok["server_cert"].get("subjectAltName", ()) if kind == "DNS")
    c.equal(dns, sorted(token_dns_names()), "the token certificate names every DNS name of the token Service")
    subject = dict(pair for rdn in ok["client_cert"].get("subject", ()) for pair in rdn)
    c.equal(subject.get("commonName"), LOGIN_ROLE, "the login certificate's subject CN is the login role")
    anonymous = mtls_exchange(work, ca, server, None, host or "")
    c.check("reply" not in anonymous and "server_error" in anonymous, "the token certificate's server refuses a client without a certificate")


def check_cert_manager_grpc(c: Checks, grpc: dict[str, Any], objects: list[dict[str, Any]], host: str | None,
                            mounted: dict[str, str]) -> None:
    certificates = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Certificate"}
    issuers = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Issuer"}
    token = certificates.get(f"{FULLNAME}-grpc-token")
    login = certificates.get(f"{FULLNAME}-grpc-login")
    if not (c.check(token, f"Certificate {FULLNAME}-grpc-token exists") and c.check(login, f"Certificate {FULLNAME}-grpc-login exists")):
        return
    ts, ls = token["spec"], login["spec"]
    c.equal(sorted(ts.get("dnsNames", [])), sorted(token_dns_names()), "the token Certificate names every DNS name of the token Service")
    c.check(host in ts.get("dnsNames", []), f"the token Certificate names the https URL's host {host}")
    c.check("server auth" in ts.get("usages", []), "the token Certificate is for server auth")
    c.equal(ls.get("uris"), [LOGIN_ROLE], "the login Certificate's URI SAN is the login role, and only that")
    c.check(not ls.get("dnsNames") and ls.get("commonName") in (None, LOGIN_ROLE), "the login Certificate names nothing else")
    c.check("client auth" in ls.get("usages", []), "the login Certificate is for client auth")
    for role, cert in (("token", token), ("login", login)):
        c.equal(cert["spec"].get("privateKey", {}).get("encoding"), "PKCS8", f"the {role} Certificate's key is PKCS#8")
        c.equal(cert["spec"].get("secretName"), mounted[role], f"the {role} pods mount the Secret the {role} Certificate writes")
    ref = grpc["certManager"]["issuerRef"]
    if ref.get("name"):
        wanted = {"name": ref["name"], "kind": ref["kind"], "group": ref["group"]}
        for role, cert in (("token", token), ("login", login)):
            c.equal(cert["spec"].get("issuerRef"), wanted, f"the {role} Certificate comes from the issuer the values name")
        c.check(not issuers and len(certificates) == 2, "with an issuer named, the chart creates no CA chain of its own")
        return
    leaf = ts.get("issuerRef", {})
    c.equal(ls.get("issuerRef"), leaf, "both Certificates come from one issuer")
    ca_issuer = issuers.get(leaf.get("name")) if (leaf.get("kind"), leaf.get("group")) == ("Issuer", "cert-manager.io") else None
    if not c.check(ca_issuer and "ca" in ca_issuer["spec"], "that issuer is the chart's CA Issuer"):
        return
    ca_cert = next((o for o in certificates.values() if o["spec"].get("secretName") == ca_issuer["spec"]["ca"]["secretName"]), None)
    if not c.check(ca_cert and ca_cert["spec"].get("isCA") is True, "its Secret is written by a CA Certificate (isCA)"):
        return
    root = issuers.get(ca_cert["spec"].get("issuerRef", {}).get("name"))
    c.check(root and "selfSigned" in root["spec"] and ca_cert["spec"]["issuerRef"].get("kind") == "Issuer",
            "which the chart's selfSigned Issuer signs")
    c.check((go_duration(ca_cert["spec"].get("duration", "2160h")) or 0) > (go_duration(ts.get("duration", "2160h")) or 0),
            "the CA outlives the certificates it signs")


def check_network_policy(c: Checks, grpc: dict[str, Any], objects: list[dict[str, Any]]) -> None:
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    if not grpc["networkPolicy"]["enabled"]:
        c.check(not policies, "no NetworkPolicy (grpc.networkPolicy.enabled=false)")
        return
    pods = {o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"] for o in objects if o["kind"] in ("Deployment", "Job")}
    token_labels, login_labels = pods[f"{FULLNAME}-token"], pods[f"{FULLNAME}-login"]

    def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
        return not selector.get("matchExpressions") and selector.get("matchLabels", {}).items() <= labels.items()

    chosen = [p for p in policies if selects(p["spec"]["podSelector"], token_labels)]
    if not c.equal(len(chosen), 1, "one NetworkPolicy selects the token pods"):
        return
    policy = chosen[0]["spec"]
    label = f"NetworkPolicy/{chosen[0]['metadata']['name']}"
    c.equal([n for n, labels in pods.items() if selects(policy["podSelector"], labels)], [f"{FULLNAME}-token"],
            f"{label} selects the token pods only")
    c.equal(policy.get("policyTypes"), ["Ingress"], f"{label} restricts ingress only")
    token = find(objects, "Deployment", f"{FULLNAME}-token")
    ports = {p["name"]: p["containerPort"] for p in token["spec"]["template"]["spec"]["containers"][0]["ports"]}

    def covers(rule: dict[str, Any], number: int) -> bool:
        if not rule.get("ports"):
            return True
        for port in rule["ports"]:
            if port.get("protocol", "TCP") != "TCP":
                continue
            value = port.get("port")
            if value is None:
                return True
            first = ports.get(value) if isinstance(value, str) else value
            if first is not None and first <= number <= port.get("endPort", first):
                return True
        return False

    rules = policy.get("ingress", [])
    for name in ("public", "admin"):
        c.check(any(covers(rule, ports[name]) and not rule.get("from") for rule in rules),
                f"{label}: the {name} port ({ports[name]}) stays open to every source")
    grpc_rules = [rule for rule in rules if covers(rule, ports["grpc"])]
    c.check(grpc_rules and all(rule.get("from") for rule in grpc_rules), f"{label}: the gRPC port ({ports['grpc']}) admits listed peers only")
    peers = [peer for rule in grpc_rules for peer in rule.get("from", [])]
    login_peers = [peer for peer in peers if set(peer) == {"podSelector"} and peer["podSelector"].get("matchLabels")
                   and [n for n, labels in pods.items() if selects(peer["podSelector"], labels)] == [f"{FULLNAME}-login"]]
    c.check(login_peers, f"{label}: the login pods (of this namespace, and no other pods of the chart) reach the gRPC port")
    others = [peer for peer in peers if peer not in login_peers]
    c.equal(others, grpc["networkPolicy"]["extraIngressFrom"], f"{label}: its other gRPC peers are exactly grpc.networkPolicy.extraIngressFrom")


# --------------------------------------------------------------------------------------------
# The Grafana dashboard: every metric and label its queries use is one the binary exports.

# The standard process metrics of the metrics-process crate (crates/gatehouse/src/telemetry.rs
# installs its Collector without a prefix): name -> kind. None has labels of its own.
PROCESS_METRICS = {
    "process_cpu_seconds_total": "counter",
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
    "process_virtual_memory_bytes": "gauge",
    "process_virtual_memory_max_bytes": "gauge",
    "process_resident_memory_bytes": "gauge",
    "process_start_time_seconds": "gauge",
    "process_threads": "gauge",
}
# Labels Prometheus adds to every series it scrapes through the chart's ServiceMonitor (Prometheus
# Operator's target labels), so the dashboard may select and group by them.
TARGET_LABELS = {"job", "instance", "namespace", "pod", "service", "endpoint", "container"}
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
METRIC_MACRO = re.compile(r'(?<![A-Za-z0-9_])(?:metrics::)?(counter|histogram|gauge)!\(\s*"([A-Za-z_:][A-Za-z0-9_:]*)"')
QUERY_METRIC = re.compile(r"(?<![A-Za-z0-9_:])((?:gatehouse|process)_[a-z0-9_]+)")
RUST_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
PROMQL_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')


def macro_arguments(source: str, paren: int) -> str:
    """The text between the parentheses of the macro call whose `(` is at `paren`."""
    depth, i = 0, paren
    while i < len(source):
        if source[i] == '"':
            i = RUST_STRING.match(source, i).end()
            continue
        depth += {"(": 1, ")": -1}.get(source[i], 0)
        if depth == 0:
            return source[paren + 1:i]
        i += 1
    raise ValueError("a macro call without its closing parenthesis")


def exported_metrics(root: Path) -> dict[str, dict[str, Any]]:
    """The metrics the binary exports, read from its sources: name -> {kind, labels, where}.

    Names are those of the `metrics::counter!`, `metrics::histogram!` and `metrics::gauge!` calls
    (`metrics::` optional) in the crates' src/ trees; labels are the call's `"name" => value` pairs, or the `("name", value)`
    tuples of the `let LABELS = [...]` array a call passes as `&LABELS` (or `&LABELS[..N]`).
    """
    found: dict[str, dict[str, Any]] = {
        name: {"kind": kind, "labels": set(), "where": "metrics-process"} for name, kind in PROCESS_METRICS.items()
    }
    for path in sorted((root / "crates").glob("*/src/**/*.rs")):
        source = path.read_text()
        for m in METRIC_MACRO.finditer(source):
            kind, name = m.groups()
            where = f"{path.relative_to(root)}:{source.count(chr(10), 0, m.start()) + 1}"
            args = macro_arguments(source, m.start() + m.group(0).index("("))
            rest = args[args.index(f'"{name}"') + len(name) + 2:].strip().removeprefix(",").strip().removesuffix(",").strip()
            labels = set(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"\s*=>', rest))
            array = re.fullmatch(r"&\s*([a-z_][a-z0-9_]*)\s*(?:\[\s*\.\.\s*(\d+)\s*\])?", rest)
            if array:
                lets = list(re.finditer(rf"\blet\s+{array.group(1)}\s*=\s*\[(.*?)\];", source[:m.start()], re.S))
                if not lets:
                    raise ValueError(f"{where}: cannot find `let {array.group(1)} = [...]` for the labels of {name}")
                names = re.findall(r'\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*,', lets[-1].group(1))
                labels = set(names[:int(array.group(2))] if array.group(2) else names)
            if rest and not labels:
                raise ValueError(f"{where}: cannot read the labels of {name} from `{rest[:60]}`")
            entry = found.setdefault(name, {"kind": kind, "labels": set(), "where": where})
            if entry["kind"] != kind:
                raise ValueError(f"{where}: {name} is a {kind} here and a {entry['kind']} at {entry['where']}")
            entry["labels"] |= labels
    return found


def series_names(exported: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """The series names Prometheus scrapes (a histogram as its _bucket, _sum and _count) and labels."""
    series: dict[str, set[str]] = {}
    for name, metric in exported.items():
        if metric["kind"] == "histogram":
            for suffix in HISTOGRAM_SERIES:
                series[name + suffix] = metric["labels"] | ({"le"} if suffix == "_bucket" else set())
        else:
            series[name] = metric["labels"]
    return series


def brackets_balanced(text: str) -> bool:
    """Whether the (), [] and {} of a PromQL expression (its strings taken out) pair up."""
    stack: list[str] = []
    for ch in text:
        if ch in "([{":
            stack.append(")]}"["([{".index(ch)])
        elif ch in ")]}" and (not stack or stack.pop() != ch):
            return False
    return not stack


def dashboard_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from dashboard_panels(panel.get("panels", []))  # a collapsed row keeps its panels


def check_grafana(c: Checks, root: Path) -> None:
    c.section("Grafana dashboard (deploy/grafana/gatehouse.json)")
    exported = exported_metrics(root)
    own = sorted(n for n in exported if n not in PROCESS_METRICS)
    c.check(len(own) >= 5, f"the binary's metrics, read from crates/*/src: {', '.join(own)}")
    series = series_names(exported)
    try:
        board = json.loads((root / "deploy/grafana/gatehouse.json").read_text())
    except json.JSONDecodeError as e:
        c.check(False, f"deploy/grafana/gatehouse.json is JSON ({e})")
        return
    c.check(isinstance(board.get("schemaVersion"), int) and board["schemaVersion"] >= 36 and board.get("uid")
            and board.get("title"), f"a dashboard (schemaVersion {board.get('schemaVersion')}, uid {board.get('uid')!r})")

    variables = {v.get("name"): v for v in board.get("templating", {}).get("list", [])}
    prometheus_uids = {f"${{{n}}}" for n, v in variables.items() if v.get("type") == "datasource" and v.get("query") == "prometheus"}
    prometheus_uids |= {f"${{{i['name']}}}" for i in board.get("__inputs", []) if i.get("pluginId") == "prometheus"}
    c.check(prometheus_uids, f"a Prometheus data source chosen on import: {', '.join(sorted(prometheus_uids)) or 'none'}")
    for name in ("namespace", "job", "pod"):
        c.check(name in variables, f"template variable ${name}")

    panels = list(dashboard_panels(board.get("panels", [])))
    shown = [p for p in panels if p.get("type") != "row"]
    ids = [p.get("id") for p in panels]
    c.check(all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids), f"{len(panels)} panels, ids unique")
    overlaps = []
    for i, a in enumerate(panels):
        for b in panels[i + 1:]:
            ga, gb = a.get("gridPos", {}), b.get("gridPos", {})
            if all(k in ga and k in gb for k in "xywh") and ga["x"] < gb["x"] + gb["w"] and gb["x"] < ga["x"] + ga["w"] \
                    and ga["y"] < gb["y"] + gb["h"] and gb["y"] < ga["y"] + ga["h"]:
                overlaps.append(f"{a.get('title')!r} and {b.get('title')!r}")
    c.check(all({"x", "y", "w", "h"} <= p.get("gridPos", {}).keys() and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in panels)
            and not overlaps, f"every panel placed on the 24-column grid, none overlapping {overlaps or ''}")

    # Every query: the panels' targets and the query variables'.
    queries: list[tuple[str, str]] = []
    for panel in shown:
        title = panel.get("title", f"panel {panel.get('id')}")
        targets = panel.get("targets", [])
        sources = [panel.get("datasource") or {}] + [t["datasource"] for t in targets if "datasource" in t]
        c.check(targets and all(t.get("expr", "").strip() for t in targets)
                and all(s.get("uid") in prometheus_uids for s in sources),
                f"panel {title!r}: PromQL targets on the chosen Prometheus")
        queries += [(title, t.get("expr", "")) for t in targets]
    for name, var in variables.items():
        if var.get("type") == "query":
            query = var.get("query")
            queries.append((f"variable ${name}", query.get("query", "") if isinstance(query, dict) else query or ""))

    used: set[str] = set()
    for where, expr in queries:
        bare = PROMQL_STRING.sub('""', expr)  # label values and regexes out of the way
        problems = [] if brackets_balanced(bare) else ["unbalanced brackets"]
        # A query with no Gatehouse metric at all is most likely one with a misspelt name.
        names = set(QUERY_METRIC.findall(bare))
        for name in sorted(names - series.keys()):
            base = next((name[:-len(s)] for s in HISTOGRAM_SERIES if name.endswith(s)), name)
            hint = f" ({base} is a {exported[base]['kind']})" if base in exported else ""
            problems.append(f"{name} is not exported{hint}")
        known = names & series.keys()
        used |= {n if n in exported else n.rsplit("_", 1)[0] for n in known}
        labels = TARGET_LABELS.union(*(series[n] for n in known)) if known else None
        for name, body in re.findall(r"(?<![A-Za-z0-9_:])((?:gatehouse|process)_[a-z0-9_]+)\s*\{([^}]*)\}", bare):
            for label in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", body):
                if name in series and label not in series[name] | TARGET_LABELS:
                    problems.append(f"{name} has no label {label}")
        if labels is not None:
            grouped = [label.strip() for clause in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", bare)
                       for label in clause.split(",") if label.strip()]
            variable = re.fullmatch(r"\s*label_values\(.*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*", bare, re.S)
            grouped += [variable.group(1)] if variable else []
            problems += [f"no metric of the query has the label {label}" for label in grouped if label not in labels]
        for var in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", expr):
            if not var.startswith("__") and var not in variables:
                problems.append(f"${var} is not a template variable")
        c.check(names and not problems, f"{where}: {', '.join(sorted(names)) or 'no Gatehouse metric'}"
                + (f": {'; '.join(problems)}" if problems else ""))
    unused = sorted(set(exported) - used)
    print(f"  note  exported but on no panel: {', '.join(unused) or 'none'}")


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
        ("helm", lambda: check_helm(c, root, accepted, args.work)),
        ("grafana", lambda: check_grafana(c, root)),
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
