"""Helpers for tests/interop/run, using only the standard library and `cryptography` (pinned in
python/requirements.txt, run with the suite's virtualenv):

  tools.py ports N                     N free loopback TCP ports below the ephemeral range
  tools.py cert DIR                    a throwaway CA and a certificate for 127.0.0.1, signed by it:
                                       DIR/ca.pem, DIR/cert.pem, DIR/key.pem
  tools.py proxy PORT CERTDIR DEFAULT [PREFIX=UPSTREAM ...]
                                       TLS-terminating reverse proxy on 127.0.0.1:PORT; a request
                                       whose path starts with a PREFIX goes to that UPSTREAM
                                       (host:port), everything else to DEFAULT
  tools.py jwk DIR                     a throwaway P-256 client key: DIR/private.pem (PKCS#8),
                                       DIR/jwks.json (its public JWK Set); prints the kid
  tools.py wait CA TIMEOUT URL...      waits until every URL answers 200 (bounded)
  tools.py scenarios SCENARIOS DEP     the names of the scenarios deployment DEP runs (a
                                       scenario marked `@DEP`, or, on a deployment no scenario
                                       marks, every unmarked one), space-separated
  tools.py table SCENARIOS RESULTS...  prints the results table and the closing "N passed, M
                                       failed" line; exits 1 if anything failed or is missing. A
                                       driver may answer N/A (with the reason) for a scenario its
                                       library cannot run: shown as such, counted apart
"""

import datetime
import http.client
import http.server
import ipaddress
import os
import random
import socket
import socketserver
import ssl
import sys
import time
import urllib.request

# --------------------------------------------------------------------------------------------
# ports


def free_ports(n):
    """N distinct ports free right now, below the kernel's ephemeral range: ports there are never
    handed out for `bind(0)` or outgoing connections, so other processes on this machine (tests
    running in parallel) do not take them between now and when the suite binds them."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    lo, hi = (10000, low - 1) if low > 12000 else (1025, 9999)
    rng = random.SystemRandom()
    ports = []
    for _ in range(200 * n):
        if len(ports) == n:
            break
        port = rng.randint(lo, hi)
        if port in ports:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            ports.append(port)
        except OSError:
            pass
        finally:
            s.close()
    if len(ports) < n:
        sys.exit("could not find %d free ports in %d-%d" % (n, lo, hi))
    return ports


# --------------------------------------------------------------------------------------------
# certificates


def make_client_key(directory):
    """An ES256 key for the private_key_jwt client: the private key for the drivers, the public
    JWK Set for `gatehouse clients create --jwks @FILE`."""
    import base64
    import hashlib
    import json

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    os.makedirs(directory, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    with open(os.path.join(directory, "private.pem"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    numbers = key.public_key().public_numbers()

    def b64(n):
        return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()

    jwk = {"crv": "P-256", "kty": "EC", "x": b64(numbers.x), "y": b64(numbers.y)}
    # RFC 7638 thumbprint as the kid.
    canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
    jwk.update({"kid": kid, "use": "sig", "alg": "ES256"})
    with open(os.path.join(directory, "jwks.json"), "w") as f:
        json.dump({"keys": [jwk]}, f)
    print(kid)


def make_cert(directory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    os.makedirs(directory, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=2)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Gatehouse interop test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    with open(os.path.join(directory, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(pem))
    with open(os.path.join(directory, "cert.pem"), "wb") as f:
        f.write(cert.public_bytes(pem))
    with open(os.path.join(directory, "key.pem"), "wb") as f:
        f.write(
            key.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )


# --------------------------------------------------------------------------------------------
# reverse proxy (what the Caddyfile of docker-compose.yml does, plus TLS)

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade",
}


def run_proxy(port, certdir, default, routes):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_request(self, code="-", size="-"):  # replaced by log_line
            pass

        def log_line(self, status, target):  # one line per request, without query strings
            sys.stderr.write(
                "%s %s -> %s %s\n" % (self.command, self.path.split("?")[0], target, status)
            )

        def upstream(self):
            path = self.path.split("?", 1)[0]
            for prefix, target in routes:
                if path == prefix.rstrip("/") or path.startswith(prefix):
                    return target
            return default

        def forward(self):
            host, _, p = self.upstream().rpartition(":")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["X-Forwarded-For"] = self.client_address[0]
            headers["X-Forwarded-Proto"] = "https"
            headers["X-Forwarded-Host"] = self.headers.get("Host", "")
            try:
                conn = http.client.HTTPConnection(host, int(p), timeout=30)
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except OSError as e:
                msg = ("proxy: upstream %s unreachable: %s" % (self.upstream(), e)).encode()
                self.log_line(502, self.upstream())
                self.send_response(502)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(msg)))
                self.end_headers()
                self.wfile.write(msg)
                return
            self.log_line(resp.status, self.upstream())
            self.send_response_only(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = forward

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(certdir, "cert.pem"), os.path.join(certdir, "key.pem"))
    server = Server(("127.0.0.1", port), Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    sys.stderr.write("proxy listening on https://127.0.0.1:%d\n" % port)
    server.serve_forever()


# --------------------------------------------------------------------------------------------
# readiness


def wait(ca, timeout, urls):
    ctx = ssl.create_default_context(cafile=ca)
    deadline = time.monotonic() + timeout
    for url in urls:
        last = None
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2, context=ctx) as r:
                    if r.status == 200:
                        break
                    last = "status %d" % r.status
            except Exception as e:  # noqa: BLE001 - anything means "not yet"
                last = str(e)
            if time.monotonic() > deadline:
                sys.exit("not ready within %ss: %s (%s)" % (timeout, url, last))
            time.sleep(0.2)


# --------------------------------------------------------------------------------------------
# results table


def read_scenarios(scenarios_file):
    """The scenarios in table order; {scenario: [library...]} for those only some libraries
    drive; {scenario: [deployment...]} for those that run on some deployments only (`@X`)."""
    with open(scenarios_file) as f:
        entries = [line.split("#", 1)[0].split() for line in f]
    entries = [e for e in entries if e]
    scenarios = [e[0] for e in entries]
    drivers = {e[0]: [w for w in e[1:] if not w.startswith("@")] for e in entries}
    drivers = {s: libs for s, libs in drivers.items() if libs}
    placed = {e[0]: [w[1:] for w in e[1:] if w.startswith("@")] for e in entries}
    placed = {s: deps for s, deps in placed.items() if deps}
    return scenarios, drivers, placed


def runs_on(placed, scenario, deployment):
    """A scenario marked `@D` runs on D only; a deployment some scenario names that way runs
    only the scenarios marked for it; every other scenario runs on every other deployment."""
    if scenario in placed:
        return deployment in placed[scenario]
    return not any(deployment in deps for deps in placed.values())


def deployment_scenarios(scenarios_file, deployment):
    scenarios, _, placed = read_scenarios(scenarios_file)
    print(" ".join(s for s in scenarios if runs_on(placed, s, deployment)))


def table(scenarios_file, result_files):
    # "<scenario> <library>...": only those libraries drive it (the others have no such API);
    # "@<deployment>...": it runs on those deployments only.
    scenarios, drivers, placed = read_scenarios(scenarios_file)
    only = os.environ.get("INTEROP_ONLY")  # the run script's filter: only those are expected
    if only:
        scenarios = [s for s in scenarios if only in s]
    rows, libraries, versions = {}, [], {}
    for path in result_files:
        # each file: <deployment>--<library>.out, holding the driver's stdout
        deployment, library = os.path.basename(path)[: -len(".out")].split("--", 1)
        if library not in libraries:
            libraries.append(library)
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
        seen = set()
        for line in lines:
            parts = line.split(" ", 4)
            if line.startswith("LIBRARY ") and len(parts) >= 3:
                versions[library] = parts[2]
            if not line.startswith("RESULT ") or len(parts) < 4:
                continue
            _, lib, scenario, verdict = parts[:4]
            message = parts[4] if len(parts) > 4 else ""
            if lib != library or verdict not in ("PASS", "FAIL", "N/A"):
                continue
            seen.add(scenario)
            rows[(deployment, library, scenario)] = (verdict, message)
        for scenario in scenarios:
            if not runs_on(placed, scenario, deployment):
                continue
            if scenario not in seen and library not in drivers.get(scenario, [library]):
                rows[(deployment, library, scenario)] = (
                    "N/A",
                    "not driven by %s: only %s has the API" % (library, ", ".join(drivers[scenario])),
                )
            elif scenario not in seen:
                rows[(deployment, library, scenario)] = (
                    "FAIL",
                    "no result: the driver stopped before this scenario (see %s)" % path,
                )
    deployments = []
    for (d, _, _) in rows:
        if d not in deployments:
            deployments.append(d)
    order = {s: i for i, s in enumerate(scenarios)}
    keyed = sorted(
        rows.items(),
        key=lambda kv: (
            deployments.index(kv[0][0]),
            libraries.index(kv[0][1]),
            order.get(kv[0][2], len(order)),
        ),
    )
    widths = [
        max([len("deployment")] + [len(k[0]) for k, _ in keyed]),
        max([len("library")] + [len(k[1]) for k, _ in keyed]),
        max([len("scenario")] + [len(k[2]) for k, _ in keyed]),
    ]

    def fmt(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths + [6, 0])) + " |"

    print()
    print("Interoperability results (" + ", ".join(
        "%s %s" % (lib, versions.get(lib, "?")) for lib in libraries) + ")")
    print(fmt(["deployment", "library", "scenario", "result", "message"]))
    print("|" + "|".join("-" * (w + 2) for w in widths + [6, 7]) + "|")
    passed = failed = not_applicable = 0
    for (d, lib, s), (verdict, message) in keyed:
        passed += verdict == "PASS"
        failed += verdict == "FAIL"
        not_applicable += verdict == "N/A"
        if len(message) > 160:
            message = message[:157] + "..."
        print(fmt([d, lib, s, verdict, message.replace("|", "/")]))
    print()
    # The compact view: one column per deployment and library.
    cols = [(d, lib) for d in deployments for lib in libraries]
    head = ["scenario"] + ["%s/%s" % c for c in cols]
    # Only the scenarios some deployment of this run runs.
    shown = [s for s in scenarios if any(runs_on(placed, s, d) for d in deployments)]
    w0 = max(len(s) for s in shown + ["scenario"])
    print("| " + " | ".join([head[0].ljust(w0)] + head[1:]) + " |")
    print("|" + "|".join(["-" * (w0 + 2)] + ["-" * (len(h) + 2) for h in head[1:]]) + "|")
    for s in shown:
        cells = [s.ljust(w0)]
        for c, h in zip(cols, head[1:]):
            verdict = rows.get((c[0], c[1], s), ("-", ""))[0]
            cells.append(verdict.ljust(len(h)))
        print("| " + " | ".join(cells) + " |")
    print()
    if not_applicable:
        print("%d not applicable (the library cannot run the scenario; see the message)"
              % not_applicable)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "ports":
        print("\n".join(str(p) for p in free_ports(int(args[0]))))
    elif cmd == "cert":
        make_cert(args[0])
    elif cmd == "jwk":
        make_client_key(args[0])
    elif cmd == "proxy":
        routes = [tuple(a.split("=", 1)) for a in args[3:]]
        run_proxy(int(args[0]), args[1], args[2], routes)
    elif cmd == "wait":
        wait(args[0], float(args[1]), args[2:])
    elif cmd == "scenarios":
        deployment_scenarios(args[0], args[1])
    elif cmd == "table":
        sys.exit(table(args[0], args[1:]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
