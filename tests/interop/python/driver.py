"""Interoperability driver: authlib (with requests), as a partner's Python backend uses it.

The protocol is authlib's: `OAuth2Session` (requests) for the authorization URL (PKCE S256),
the code exchange (state checked against the callback), refresh, client_credentials,
revocation (RFC 7009) and introspection (RFC 7662); discovery metadata validated by
`authlib.oidc.discovery.OpenIDProviderMetadata` (with RFC 9207's extension); ID tokens
validated the way authlib's own client integrations do it (`OpenIDMixin.parse_id_token`:
signature against the JWKS via joserfc, then `CodeIDToken` claims: iss, aud, exp, iat, nonce,
at_hash, azp). HTTPS only: the issuer is the suite's TLS proxy, trusted via REQUESTS_CA_BUNDLE.

authlib's requests client does not read the callback's `error` or `iss` parameters (its
framework integrations raise `OAuthError` for `error`); the driver does the same with
authlib's `OAuthError`, and compares `iss` (RFC 9207) itself.

Configuration comes from INTEROP_* environment variables set by ../run. Output: one line per
scenario, `RESULT authlib <scenario> PASS|FAIL <message>`.
"""

import html.parser
import json
import http.server
import os
import secrets
import sys
import threading
import time
import traceback
import urllib.parse
from importlib.metadata import version

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.base_client.sync_openid import OpenIDMixin
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2 import rfc9207
from authlib.oauth2.rfc7523 import ClientSecretJWT, PrivateKeyJWT
from authlib.oidc.discovery import OpenIDProviderMetadata, get_well_known_url
from joserfc.jwk import ECKey, KeySet

LIB = "authlib"


def env(name):
    value = os.environ.get(name)
    if not value:
        raise SystemExit("environment variable %s is not set" % name)
    return value


ISSUER = env("INTEROP_ISSUER")
SHORT_ISSUER = env("INTEROP_SHORT_ISSUER")
SHORT_TTL = float(env("INTEROP_SHORT_CODE_TTL_SECONDS"))
USERNAME, PASSWORD = env("INTEROP_USERNAME"), env("INTEROP_PASSWORD")
USER_EMAIL = env("INTEROP_USER_EMAIL")
REGISTRATION_TOKEN = env("INTEROP_REGISTRATION_TOKEN")
PUBLIC_ID = env("INTEROP_PUBLIC_CLIENT_ID")
BASIC = (env("INTEROP_BASIC_CLIENT_ID"), env("INTEROP_BASIC_CLIENT_SECRET"))
POST = (env("INTEROP_POST_CLIENT_ID"), env("INTEROP_POST_CLIENT_SECRET"))
SEED = (env("INTEROP_SEED_CLIENT_ID"), env("INTEROP_SEED_CLIENT_SECRET"))
SEED_PORT = int(env("INTEROP_SEED_CALLBACK_PORT"))
KEYS_ID, KEYS_KID = env("INTEROP_KEYS_CLIENT_ID"), env("INTEROP_KEYS_KID")
with open(env("INTEROP_KEYS_PRIVATE_KEY_FILE"), "rb") as _f:
    KEYS_PEM = _f.read()
HS = (env("INTEROP_HS_CLIENT_ID"), env("INTEROP_HS_CLIENT_SECRET"))
DEVICE_ID = env("INTEROP_DEVICE_CLIENT_ID")
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SEED_SCOPES = (
    "openid offline offline_access urn:neoncloud:projects:create urn:neoncloud:projects:read "
    "urn:neoncloud:projects:update urn:neoncloud:projects:delete"
)
SEED_PARAMS = {
    "client_id", "scope", "response_type", "redirect_uri", "grant_type", "state",
    "code_challenge", "code_challenge_method",
}
TIMEOUT = 30


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed("check failed: " + what)


def describe(e):
    if isinstance(e, OAuthError):
        return "OAuthError: error=%s (%s)" % (e.error, e.description or "")
    return "%s: %s" % (type(e).__name__, e)


def expect_error(fn, what):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the caller asserts on the error
        return e
    raise CheckFailed("%s succeeded, but it must fail" % what)


def expect_oauth_error(e, code):
    if not isinstance(e, OAuthError):
        raise CheckFailed("expected OAuthError %s, got %s" % (code, describe(e)))
    check(e.error == code, "error == %r (got %r)" % (code, e.error))
    return "OAuthError error=%s" % e.error


# ------------------------------------------------------------------------------------------
# the user's browser: follows redirects, keeps cookies, submits forms with their CSRF token


class FormParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms, self._current = {}, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._current = {"action": a.get("action", ""), "fields": {}}
            self.forms[a.get("id", "")] = self._current
        elif tag == "input" and self._current is not None:
            if a.get("type") == "hidden" and a.get("name"):
                self._current["fields"][a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


class Browser:
    def __init__(self):
        self.http = requests.Session()  # keeps cookies, trusts REQUESTS_CA_BUNDLE
        self.http.headers["User-Agent"] = "gatehouse-interop-browser"

    def authorize(self, url, redirect_uri, decision="allow"):
        """Signs in, answers consent (without "remember"), follows redirects until it lands on
        redirect_uri (a Callback listener); returns that URL."""
        method, data = "GET", None
        for _ in range(20):
            if url.startswith(redirect_uri):
                r = self.http.get(url, timeout=TIMEOUT, allow_redirects=False)
                check(r.status_code == 200, "callback listener answered %d" % r.status_code)
                return url
            headers = {"Accept": "text/html"}
            if data is not None:
                parts = urllib.parse.urlsplit(url)
                headers["Origin"] = "%s://%s" % (parts.scheme, parts.netloc)
            r = self.http.request(
                method, url, data=data, headers=headers, timeout=TIMEOUT, allow_redirects=False
            )
            if r.status_code in (301, 302, 303, 307, 308):
                url = urllib.parse.urljoin(url, r.headers["Location"])
                if r.status_code not in (307, 308):
                    method, data = "GET", None
                continue
            if r.status_code != 200:
                raise CheckFailed(
                    "browser: HTTP %d at %s: %s" % (r.status_code, url, r.text[:200])
                )
            parser = FormParser()
            parser.feed(r.text)
            if "login-form" in parser.forms:
                form = parser.forms["login-form"]
                data = dict(form["fields"], username=USERNAME, password=PASSWORD)
            elif "consent-form" in parser.forms:
                form = parser.forms["consent-form"]
                data = dict(form["fields"], decision=decision)
            else:
                raise CheckFailed("browser: neither a login nor a consent form at " + url)
            url, method = urllib.parse.urljoin(url, form["action"]), "POST"
        raise CheckFailed("browser: more than 20 redirects")

    def device(self, verification_uri, user_code, decision="allow"):
        """The user's part of the device grant (RFC 8628 §3.3): types user_code into the device
        form, signs in, answers consent; returns the last page (status, HTML)."""
        url, method, data, typed = verification_uri, "GET", None, False
        for _ in range(20):
            headers = {"Accept": "text/html"}
            if data is not None:
                parts = urllib.parse.urlsplit(url)
                headers["Origin"] = "%s://%s" % (parts.scheme, parts.netloc)
            r = self.http.request(
                method, url, data=data, headers=headers, timeout=TIMEOUT, allow_redirects=False
            )
            if r.status_code in (301, 302, 303):
                url = urllib.parse.urljoin(url, r.headers["Location"])
                method, data = "GET", None
                continue
            parser = FormParser()
            parser.feed(r.text)
            if "device-form" in parser.forms and not typed:
                form = parser.forms["device-form"]
                data, typed = dict(form["fields"], user_code=user_code), True
            elif "login-form" in parser.forms:
                form = parser.forms["login-form"]
                data = dict(form["fields"], username=USERNAME, password=PASSWORD)
            elif "consent-form" in parser.forms:
                form = parser.forms["consent-form"]
                data = dict(form["fields"], decision=decision)
            else:
                return r.status_code, r.text
            url, method = urllib.parse.urljoin(url, form["action"]), "POST"
        raise CheckFailed("browser: more than 20 redirects")


# ------------------------------------------------------------------------------------------
# the app's loopback callback listener (RFC 8252 §7.3)


class Callback:
    def __init__(self, port=0):
        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                received.append(self.path)
                body = b"You can close this window."
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def take(self, redirect_uri):
        check(self.received, "the callback listener received a request")
        path = self.received.pop(0)
        parts = urllib.parse.urlsplit(redirect_uri)
        return "%s://%s%s" % (parts.scheme, parts.netloc, path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------------------------------
# the provider: discovery, JWKS and ID token validation as authlib's client integrations do


class Provider(OpenIDMixin):
    def __init__(self, issuer, client_id):
        self.issuer, self.client_id = issuer, client_id
        self.server_metadata = {}

    def _get_session(self):
        return OAuth2Session(default_timeout=TIMEOUT)

    def load_server_metadata(self):
        if not self.server_metadata:
            r = requests.get(get_well_known_url(self.issuer, external=True), timeout=TIMEOUT)
            r.raise_for_status()
            metadata = OpenIDProviderMetadata(r.json())
            metadata.validate(metadata_classes=[rfc9207.AuthorizationServerMetadata])
            # OpenID Connect Discovery §4.3: the issuer must be the one asked for.
            check(
                metadata["issuer"] == self.issuer,
                "metadata issuer %s == %s" % (metadata["issuer"], self.issuer),
            )
            self.server_metadata = dict(metadata)
        return self.server_metadata


def session(provider, client_id, secret=None, method="none"):
    meta = provider.load_server_metadata()
    return OAuth2Session(
        client_id=client_id,
        client_secret=secret,
        token_endpoint_auth_method=method,
        revocation_endpoint_auth_method=method,
        code_challenge_method="S256",
        token_endpoint=meta["token_endpoint"],
        default_timeout=TIMEOUT,
    )


class Flow:
    """An authorization the user has completed: the callback URL, and what the app kept."""

    def __init__(self, provider, sess, scope, decision="allow", port=0, host="127.0.0.1",
                 path="/callback", nonce=True, extra=None, browser=None):
        meta = provider.load_server_metadata()
        self.provider, self.session = provider, sess
        self.verifier = secrets.token_urlsafe(48)
        self.nonce = secrets.token_urlsafe(16) if nonce else None
        with Callback(port) as cb:
            self.redirect_uri = "http://%s:%d%s" % (host, cb.port, path)
            params = dict(extra or {})
            if self.nonce:
                params["nonce"] = self.nonce
            self.url, self.state = sess.create_authorization_url(
                meta["authorization_endpoint"], code_verifier=self.verifier,
                redirect_uri=self.redirect_uri, scope=scope, **params,
            )
            (browser or Browser()).authorize(self.url, self.redirect_uri, decision)
            self.callback = cb.take(self.redirect_uri)
        self.params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.callback).query))

    def check_response(self):
        """What the app does with the callback before the exchange: RFC 9207 iss, then the
        error, as authlib's framework integrations raise it."""
        check(self.params.get("iss") == self.provider.issuer,
              "callback iss %s is the issuer" % self.params.get("iss"))
        if "error" in self.params:
            check(self.params.get("state") == self.state, "error response carries the state")
            raise OAuthError(
                error=self.params["error"], description=self.params.get("error_description")
            )

    def exchange(self, verifier=None, redirect_uri=None):
        self.check_response()
        return self.session.fetch_token(
            authorization_response=self.callback,
            state=self.state,
            code_verifier=verifier or self.verifier,
            redirect_uri=redirect_uri or self.redirect_uri,
        )

    def id_token(self, token):
        claims = self.provider.parse_id_token(token, self.nonce)
        check(claims is not None, "an ID token")
        return claims


def userinfo(provider, token):
    meta = provider.load_server_metadata()
    r = requests.get(
        meta["userinfo_endpoint"],
        headers={"Authorization": "Bearer " + token["access_token"]},
        timeout=TIMEOUT,
    )
    check(r.status_code == 200, "userinfo answered %d: %s" % (r.status_code, r.text[:200]))
    return r.json()


def introspect(sess, provider, token, hint=None):
    meta = provider.load_server_metadata()
    r = sess.introspect_token(meta["introspection_endpoint"], token=token, token_type_hint=hint)
    check(r.status_code == 200, "introspection answered %d: %s" % (r.status_code, r.text[:200]))
    return r.json()


def revoke(sess, provider, token, hint):
    meta = provider.load_server_metadata()
    r = sess.revoke_token(meta["revocation_endpoint"], token=token, token_type_hint=hint)
    check(r.status_code == 200, "revocation answered %d: %s" % (r.status_code, r.text[:200]))


def describe_id_token(claims):
    return "id_token sub=%s… aud=%s exp in %ds" % (
        claims["sub"][:8], claims["aud"], claims["exp"] - int(time.time()))


# ------------------------------------------------------------------------------------------
# scenarios

main = Provider(ISSUER, PUBLIC_ID)


def provider(client_id):
    p = Provider(ISSUER, client_id)
    p.server_metadata = main.load_server_metadata()
    return p


def s1_discovery_jwks():
    meta = main.load_server_metadata()  # validated by OpenIDProviderMetadata + issuer check
    for k in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint",
              "revocation_endpoint", "introspection_endpoint", "jwks_uri"):
        check(meta.get(k, "").startswith("https://"), "%s is an https URL" % k)
    check("S256" in meta.get("code_challenge_methods_supported", []), "S256 advertised")
    jwks = main.fetch_jwk_set(force=True)
    key_set = KeySet.import_key_set(jwks)  # rejects malformed keys
    check(len(key_set.keys) == len(jwks["keys"]) > 0, "every JWK imported")
    algs = [k["alg"] for k in jwks["keys"]]
    for alg in meta["id_token_signing_alg_values_supported"]:
        check(alg in algs, "a key for the advertised ID token alg " + alg)
    for k in jwks["keys"]:
        check(k.get("kid") and k.get("use") == "sig", "key has kid and use=sig")
        check("d" not in k, "key is public only")
    return "metadata validated, issuer matches; %d keys imported (%s)" % (
        len(key_set.keys), ", ".join(algs))


def s15_custom_claim():
    p = provider(PUBLIC_ID)
    meta = p.load_server_metadata()
    check(meta.get("claims_parameter_supported") is True, "claims_parameter_supported")
    check("patreon" in meta.get("claims_supported", []), "patreon in claims_supported")
    patreon = json.loads(env("INTEROP_USER_PATREON"))
    asked = json.dumps({"id_token": {"patreon": {"essential": True}}})
    flow = Flow(p, session(p, PUBLIC_ID), "openid patreon", extra={"claims": asked})
    token = flow.exchange()
    claims = flow.id_token(token)
    check(claims.get("patreon") == patreon, "ID token patreon (%r)" % claims.get("patreon"))
    info = userinfo(p, token)
    check(info.get("patreon") == patreon, "userinfo patreon (%r)" % info.get("patreon"))
    check(info["sub"] == claims["sub"], "userinfo sub is the ID token sub")
    without = Flow(p, session(p, PUBLIC_ID), "openid profile", extra={"claims": asked})
    token = without.exchange()
    check("patreon" not in without.id_token(token), "no patreon in the ID token without the scope")
    check("patreon" not in userinfo(p, token), "no patreon in userinfo without the scope")
    return "patreon=%s in the ID token (claims parameter) and userinfo; absent without the scope" % (
        json.dumps(claims.get("patreon")))


def s2_public_cli_pkce():
    p = provider(PUBLIC_ID)
    sess = session(p, PUBLIC_ID)
    flow = Flow(p, sess, "openid profile email offline_access urn:neoncloud:projects:read")
    for k in ("code", "state", "scope", "iss"):
        check(k in flow.params, "callback carries " + k)
    token = flow.exchange()
    check(token.get("token_type", "").lower() == "bearer", "token_type Bearer")
    check(token.get("refresh_token"), "a refresh token (offline_access)")
    claims = flow.id_token(token)
    info = userinfo(p, token)
    check(info["sub"] == claims["sub"], "userinfo sub")
    check(info.get("email") == USER_EMAIL, "userinfo email (%s)" % info.get("email"))
    check(isinstance(info.get("email_verified"), bool), "userinfo email_verified")
    check(info.get("name") and info.get("preferred_username") == USERNAME,
          "userinfo name, preferred_username")
    return "%s; userinfo name=%r email=%s" % (describe_id_token(claims), info["name"], info["email"])


def s3_code(kind, creds):
    def run():
        p = provider(creds[0])
        sess = session(p, creds[0], creds[1], "client_secret_" + kind)
        flow = Flow(p, sess, "openid profile email urn:neoncloud:projects:read")
        token = flow.exchange()
        claims = flow.id_token(token)
        check("refresh_token" not in token, "no refresh token without offline_access")
        info = userinfo(p, token)
        check(info.get("email") == USER_EMAIL, "userinfo email")
        return "client_secret_%s: %s; userinfo ok" % (kind, describe_id_token(claims))
    return run


def s4_refresh_rotation():
    p = provider(PUBLIC_ID)
    sess = session(p, PUBLIC_ID)
    flow = Flow(p, sess, "openid offline_access urn:neoncloud:projects:read")
    token = flow.exchange()
    sub = flow.id_token(token)["sub"]
    rt1 = token["refresh_token"]
    second = sess.refresh_token(refresh_token=rt1)
    rt2 = second["refresh_token"]
    check(rt2 != rt1, "rotation: a new refresh token")
    check(userinfo(p, second)["sub"] == sub, "the new access token works")
    third = sess.refresh_token(refresh_token=rt2)
    rt3 = third["refresh_token"]
    check(rt3 != rt2, "the new refresh token works and rotates again")
    old = expect_oauth_error(
        expect_error(lambda: sess.refresh_token(refresh_token=rt1), "refresh with the old token"),
        "invalid_grant")
    killed = expect_oauth_error(
        expect_error(lambda: sess.refresh_token(refresh_token=rt3),
                     "refresh with the newest token after reuse"),
        "invalid_grant")
    return "new token works; old one: %s; newest after reuse: %s" % (old, killed)


def s5_revoke_introspect():
    p = provider(BASIC[0])
    sess = session(p, BASIC[0], BASIC[1], "client_secret_basic")
    scope = "openid offline_access urn:neoncloud:projects:read"
    flow = Flow(p, sess, scope)
    token = flow.exchange()
    sub = flow.id_token(token)["sub"]
    live = introspect(sess, p, token["access_token"])
    check(live.get("active") is True, "live access token is active")
    check(live.get("sub") == sub, "introspection sub (%s)" % live.get("sub"))
    check(live.get("client_id") == BASIC[0], "introspection client_id")
    for s in scope.split():
        check(s in live.get("scope", "").split(), "introspection scope has %s" % s)
    revoke(sess, p, token["access_token"], "access_token")
    check(introspect(sess, p, token["access_token"]).get("active") is False,
          "revoked access token is inactive")
    revoke(sess, p, token["refresh_token"], "refresh_token")
    check(introspect(sess, p, token["refresh_token"], "refresh_token").get("active") is False,
          "revoked refresh token is inactive")
    expect_oauth_error(
        expect_error(lambda: sess.refresh_token(refresh_token=token["refresh_token"]),
                     "refresh with a revoked token"),
        "invalid_grant")
    return ("live: active, scope=%r, sub matches; after revocation: active=false (access and "
            "refresh), refresh -> invalid_grant" % live["scope"])


def s6_client_credentials(kind, creds):
    def run():
        p = provider(creds[0])
        sess = session(p, creds[0], creds[1], "client_secret_" + kind)
        token = sess.fetch_token(grant_type="client_credentials",
                                 scope="urn:neoncloud:projects:read")
        check(token.get("access_token") and token.get("token_type", "").lower() == "bearer",
              "a Bearer access token")
        check("refresh_token" not in token and "id_token" not in token, "no refresh or ID token")
        info = introspect(sess, p, token["access_token"])
        check(info.get("active") is True and info.get("client_id") == creds[0],
              "introspection: active, client_id")
        check("urn:neoncloud:projects:read" in info.get("scope", "").split(), "introspection scope")
        return "client_secret_%s: token issued, introspection active scope=%r" % (
            kind, info["scope"])
    return run


def s6_public_refused():
    p = provider(PUBLIC_ID)
    sess = session(p, PUBLIC_ID)
    e = expect_error(lambda: sess.fetch_token(grant_type="client_credentials", scope="openid"),
                     "client_credentials for a public client")
    return expect_oauth_error(e, "unauthorized_client")


def jwt_session(p, kind):
    """A session authenticating with authlib's rfc7523 PrivateKeyJWT or ClientSecretJWT. Each
    assertion gets a 60 s `exp` through the documented `claims` argument (authlib's default is
    an hour; Gatehouse accepts at most five minutes). authlib keeps the `jti` it adds in that
    dict, so a session (and its dict) serves one request."""
    meta = p.load_server_metadata()
    claims = {"exp": int(time.time()) + 60}
    if kind == "private_key_jwt":
        client_id, secret = KEYS_ID, ECKey.import_key(KEYS_PEM)
        auth = PrivateKeyJWT(meta["token_endpoint"], claims=claims, headers={"kid": KEYS_KID},
                             alg="ES256")
    else:
        client_id, secret = HS
        auth = ClientSecretJWT(meta["token_endpoint"], claims=claims)
    sess = OAuth2Session(client_id=client_id, client_secret=secret,
                         token_endpoint_auth_method=kind, revocation_endpoint_auth_method=kind,
                         token_endpoint=meta["token_endpoint"], default_timeout=TIMEOUT)
    sess.register_client_auth_method(auth)
    return sess


def s9_jwt(kind):
    def run():
        client_id = KEYS_ID if kind == "private_key_jwt" else HS[0]
        p = provider(client_id)
        token = jwt_session(p, kind).fetch_token(grant_type="client_credentials",
                                                 scope="urn:neoncloud:projects:read")
        check(token.get("access_token") and token.get("token_type", "").lower() == "bearer",
              "a Bearer access token")
        info = introspect(jwt_session(p, kind), p, token["access_token"])
        check(info.get("active") is True and info.get("client_id") == client_id,
              "introspection: active, client_id")
        return "%s (authlib rfc7523): token issued, introspection (another assertion) active" % kind
    return run


def s9_replayed():
    # One session, two token requests: the same claims dict, so the same jti (see jwt_session).
    p = provider(KEYS_ID)
    sess = jwt_session(p, "private_key_jwt")
    sess.fetch_token(grant_type="client_credentials", scope="urn:neoncloud:projects:read")
    e = expect_error(lambda: sess.fetch_token(grant_type="client_credentials",
                                              scope="urn:neoncloud:projects:read"),
                     "a second request with the same assertion jti")
    return "second request with the same jti: " + expect_oauth_error(e, "invalid_client")


def s7_seed_url():
    p = provider(SEED[0])
    sess = session(p, SEED[0], SEED[1], "client_secret_post")
    flow = Flow(p, sess, SEED_SCOPES, port=SEED_PORT, host="localhost",
                path="/api/auth/callback/neon", nonce=False,
                extra={"grant_type": "authorization_code"})
    names = [k for k, _ in urllib.parse.parse_qsl(urllib.parse.urlsplit(flow.url).query)]
    check(set(names) == SEED_PARAMS and len(names) == len(SEED_PARAMS),
          "the URL has exactly the seed's parameters (%s)" % ",".join(names))
    token = flow.exchange()
    granted = token.get("scope", flow.params.get("scope", "")).split()
    for s in SEED_SCOPES.split():
        if s.startswith("urn:"):
            check(s in granted, "granted scope has " + s)
    check(token.get("refresh_token"), "a refresh token (offline)")
    claims = flow.id_token(token)
    check("nonce" not in claims, "no nonce in the ID token (none was sent)")
    return "%s -> code -> tokens (client_secret_post); scope=%r" % ("&".join(names), token["scope"])


def s8_wrong_redirect_uri():
    p = provider(PUBLIC_ID)
    sess = session(p, PUBLIC_ID)
    flow = Flow(p, sess, "openid")
    parts = urllib.parse.urlsplit(flow.redirect_uri)
    other = "http://127.0.0.1:%d/callback" % (parts.port + 1 if parts.port < 65535 else 65534)
    return expect_oauth_error(
        expect_error(lambda: flow.exchange(redirect_uri=other), "exchange with another redirect_uri"),
        "invalid_grant")


def s8_wrong_verifier():
    p = provider(PUBLIC_ID)
    sess = session(p, PUBLIC_ID)
    flow = Flow(p, sess, "openid")
    return expect_oauth_error(
        expect_error(lambda: flow.exchange(verifier=secrets.token_urlsafe(48)),
                     "exchange with a wrong code_verifier"),
        "invalid_grant")


def s8_code_reused():
    p = provider(BASIC[0])
    sess = session(p, BASIC[0], BASIC[1], "client_secret_basic")
    flow = Flow(p, sess, "openid urn:neoncloud:projects:read")
    first = flow.exchange()
    msg = expect_oauth_error(expect_error(flow.exchange, "second exchange of one code"),
                             "invalid_grant")
    check(introspect(sess, p, first["access_token"]).get("active") is False,
          "the access token from the replayed code is revoked")
    return msg + "; first access token revoked"


def s8_expired_code():
    p = Provider(SHORT_ISSUER, PUBLIC_ID)
    sess = session(p, PUBLIC_ID)
    flow = Flow(p, sess, "openid")
    time.sleep(SHORT_TTL + 1.5)
    return expect_oauth_error(
        expect_error(flow.exchange, "exchange after %.1fs (code TTL %.0fs)" % (
            SHORT_TTL + 1.5, SHORT_TTL)),
        "invalid_grant")


def s8_wrong_secret():
    msgs = []
    for kind, creds in (("basic", BASIC), ("post", POST)):
        p = provider(creds[0])
        sess = session(p, creds[0], "not-the-secret", "client_secret_" + kind)
        e = expect_error(lambda: sess.fetch_token(grant_type="client_credentials",
                                                  scope="urn:neoncloud:projects:read"),
                         "client_secret_%s with a wrong secret" % kind)
        msgs.append("%s: %s" % (kind, expect_oauth_error(e, "invalid_client")))
    return "; ".join(msgs)


def s8_scope_not_allowed():
    p = provider(PUBLIC_ID)
    sess = session(p, PUBLIC_ID)
    flow = Flow(p, sess, "openid urn:neoncloud:billing:admin")
    m1 = expect_oauth_error(expect_error(flow.exchange, "a callback for a scope not allowed"),
                            "invalid_scope")
    pb = provider(BASIC[0])
    sb = session(pb, BASIC[0], BASIC[1], "client_secret_basic")
    m2 = expect_oauth_error(
        expect_error(lambda: sb.fetch_token(grant_type="client_credentials",
                                            scope="urn:neoncloud:billing:admin"),
                     "client_credentials with a scope not allowed"),
        "invalid_scope")
    return "authorization: %s; token endpoint: %s" % (m1, m2)


def s8_consent_denied():
    p = provider(PUBLIC_ID)
    sess = session(p, PUBLIC_ID)
    flow = Flow(p, sess, "openid profile", decision="deny")
    return expect_oauth_error(expect_error(flow.exchange, "a callback after denied consent"),
                              "access_denied") + " (state and iss checked)"


def device_start(provider, scope):
    """RFC 8628 §3.1 with plain requests: authlib has no client helper for the device
    authorization request (its token polling is fetch_token with the device grant type)."""
    meta = provider.load_server_metadata()
    r = requests.post(meta["device_authorization_endpoint"],
                      data={"client_id": DEVICE_ID, "scope": scope}, timeout=TIMEOUT)
    check(r.status_code == 200, "device authorization: HTTP %d %s" % (r.status_code, r.text[:200]))
    return r.json()


def device_poll(sess, started):
    """Polls as RFC 8628 §3.5 says: every `interval` seconds, 5 more after slow_down."""
    interval = started.get("interval", 5)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(interval)
        try:
            return sess.fetch_token(grant_type=DEVICE_GRANT, device_code=started["device_code"])
        except OAuthError as e:
            if e.error == "authorization_pending":
                continue
            if e.error == "slow_down":
                interval += 5
                continue
            raise
    raise CheckFailed("no tokens within 60 s")


def s11_device_grant():
    p = provider(DEVICE_ID)
    started = device_start(p, "openid offline_access profile")
    status, page = Browser().device(started["verification_uri_complete"], started["user_code"])
    check(status == 200 and 'id="device-approved"' in page, "the done page (HTTP %d)" % status)
    sess = session(p, DEVICE_ID)
    token = device_poll(sess, started)
    check(isinstance(token.get("access_token"), str), "an access token")
    check(isinstance(token.get("refresh_token"), str), "a refresh token (offline_access)")
    claims = p.parse_id_token(token, None)
    check(claims is not None and claims.get("sub"), "an ID token")
    again = expect_oauth_error(expect_error(
        lambda: sess.fetch_token(grant_type=DEVICE_GRANT, device_code=started["device_code"]),
        "the device code used again"), "invalid_grant")
    return "fetch_token(grant_type=device_code): %s, refresh token; again: %s" % (
        describe_id_token(claims), again)


def s11_device_slow_down():
    p = provider(DEVICE_ID)
    started = device_start(p, "openid")
    sess = session(p, DEVICE_ID)
    poll = lambda: sess.fetch_token(grant_type=DEVICE_GRANT, device_code=started["device_code"])  # noqa: E731
    first = expect_oauth_error(expect_error(poll, "a poll before the user answered"),
                               "authorization_pending")
    second = expect_oauth_error(expect_error(poll, "a poll at once after"), "slow_down")
    return "%s; then %s" % (first, second)


def s11_device_denied():
    p = provider(DEVICE_ID)
    started = device_start(p, "openid")
    status, page = Browser().device(started["verification_uri"], started["user_code"], "deny")
    check('id="device-denied"' in page, "the denied page (HTTP %d)" % status)
    sess = session(p, DEVICE_ID)
    return "fetch_token: " + expect_oauth_error(
        expect_error(lambda: device_poll(sess, started), "polling after the user denied"),
        "access_denied")


def s11_device_wrong_user_code():
    p = provider(DEVICE_ID)
    started = device_start(p, "openid")
    wrong = "ZZZZ-ZZZZ" if started["user_code"] == "BCDF-GHJK" else "BCDF-GHJK"
    status, page = Browser().device(started["verification_uri"], wrong)
    check(status == 400 and 'id="device-error"' in page,
          "the form again with its error (HTTP %d)" % status)
    return "HTTP %d, the page says the code is not valid" % status
def registration(method, uri, token=None, body=None):
    """RFC 7591/7592 over plain requests: authlib has no client-side registration API."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    r = requests.request(method, uri, headers=headers, json=body, timeout=TIMEOUT)
    return r.status_code, (r.json() if r.content else None), r.headers


def s12_registration_management():
    meta = main.load_server_metadata()
    endpoint = meta.get("registration_endpoint")
    check(endpoint == ISSUER + "/oauth2/register", "registration_endpoint in discovery (%s)" % endpoint)
    app = {
        "client_name": "Interop self-registered app (authlib)",
        "redirect_uris": ["http://127.0.0.1/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": "openid offline_access profile email",
    }
    status, created, _ = registration("POST", endpoint, REGISTRATION_TOKEN, app)
    check(status == 201, "registration: HTTP %s %s" % (status, created))
    client_id, secret = created["client_id"], created.get("client_secret")
    check(secret and created.get("client_secret_expires_at") == 0, "a confidential client gets a secret")
    rat, uri = created["registration_access_token"], created["registration_client_uri"]
    check(uri == "%s/oauth2/register/%s" % (ISSUER, client_id), "registration_client_uri %s" % uri)
    # The new client through authlib: code flow with client_secret_basic, ID token validated.
    p = provider(client_id)
    sess = session(p, client_id, secret, "client_secret_basic")
    flow = Flow(p, sess, "openid offline_access profile")
    token = flow.exchange()
    claims = flow.id_token(token)
    check(claims["aud"] == client_id or client_id in claims["aud"], "ID token aud is the new client")
    check(token.get("refresh_token"), "a refresh token (offline_access)")
    # RFC 7592: read, replace, delete.
    status, read, _ = registration("GET", uri, rat)
    check(status == 200 and read["client_id"] == client_id, "GET: HTTP %s" % status)
    check("registration_access_token" not in read and "client_secret" not in read, "GET shows no token or secret")
    status, replaced, _ = registration("PUT", uri, rat, dict(read, client_name="Renamed", client_secret=secret))
    check(status == 200 and replaced["client_name"] == "Renamed", "PUT: HTTP %s %s" % (status, replaced))
    status, refused, _ = registration("PUT", uri, rat, dict(read, client_secret="x" * 40))
    check(status == 400 and refused["error"] == "invalid_client_metadata", "PUT with a new secret: %s %s" % (status, refused))
    for what, tok in (("the initial access token", REGISTRATION_TOKEN), ("no token", None), ("a guess", "x" * 43)):
        status, body, headers = registration("GET", uri, tok)
        check(status == 401 and body["error"] == "invalid_token", "GET with %s: %s %s" % (what, status, body))
        check(headers.get("WWW-Authenticate", "").lower().startswith("bearer"), "GET with %s: a Bearer challenge" % what)
    status, _, _ = registration("DELETE", uri, rat)
    check(status == 204, "DELETE: HTTP %s" % status)
    status, _, _ = registration("GET", uri, rat)
    check(status == 401, "GET after DELETE: HTTP %s" % status)
    e = expect_error(lambda: sess.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"]),
                     "refresh for a deleted client")
    return "registered %s... (client_secret_basic), code flow %s; GET 200, PUT 200, new secret 400, " \
        "other tokens 401, DELETE 204, then 401; refresh after delete: %s" % (
            client_id[:8], describe_id_token(claims), one_line(describe(e))[:60])


# ------------------------------------------------------------------------------------------
# deployment X: login, consent and logout by the external app (login_app.py, Ory's SDK); the
# browser follows its redirects, the client's login_hint stands for the user's choice there


def login_app_events(hint=None):
    r = requests.get(env("INTEROP_LOGIN_APP_URL") + "/events", timeout=TIMEOUT)
    check(r.status_code == 200, "the login app's /events answered %d" % r.status_code)
    return [e for e in r.json() if hint is None or e.get("login_hint") == hint]


def login_app_reset():
    """No remembered consent (it is the user's, not the browser's): each scenario starts clean."""
    r = requests.get(env("INTEROP_LOGIN_APP_URL") + "/reset", timeout=TIMEOUT)
    check(r.status_code == 200, "the login app's /reset: HTTP %d %s" % (r.status_code, r.text[:300]))


def external_flow(decision, browser=None, scope="openid profile", extra=None):
    """An authorization of the public client (PKCE S256) through the external app, with
    login_hint DECISION-<tag>; returns the flow and the hint."""
    p = provider(PUBLIC_ID)
    hint = "%s-%s" % (decision, secrets.token_hex(6))
    params = dict(extra or {}, login_hint=hint)
    flow = Flow(p, session(p, PUBLIC_ID), scope, extra=params, browser=browser)
    return flow, hint


def steps(events):
    return ",".join("%s:%s%s" % (e["step"], e.get("decision", "error"),
                                 "" if "error" not in e else "(%s)" % e["error"][:120])
                    for e in events)


def s14_login_consent():
    login_app_reset()
    flow, hint = external_flow("accept", scope="openid profile offline_access")
    token = flow.exchange()
    claims = flow.id_token(token)
    events = login_app_events(hint)
    check([e["step"] for e in events] == ["login", "consent"],
          "the app saw one login and one consent request (%s)" % steps(events))
    login, consent = events
    check(login["skip"] is False and consent["skip"] is False, "no skip the first time")
    check(login["client_id"] == PUBLIC_ID, "login request client_id (%s)" % login["client_id"])
    check(set(consent["requested_scope"] or []) == {"openid", "profile", "offline_access"},
          "consent requested_scope (%s)" % consent["requested_scope"])
    check(consent["subject"] == env("INTEROP_EXTERNAL_SUBJECT"),
          "consent subject is the one the login accepted (%s)" % consent["subject"])
    check(claims["sub"] == env("INTEROP_EXTERNAL_SUBJECT"), "ID token sub (%s)" % claims["sub"])
    check(claims.get("patreon_tier") == "gold",
          "ID token patreon_tier from session.id_token (%r)" % claims.get("patreon_tier"))
    check(set(token.get("scope", "").split()) == {"openid", "profile", "offline_access"},
          "granted scope (%s)" % token.get("scope"))
    check(token.get("refresh_token"), "a refresh token (offline_access granted)")
    return "login + consent accepted with the Ory SDK; %s, patreon_tier=%s" % (
        describe_id_token(claims), claims["patreon_tier"])


def s14_remember_skip():
    login_app_reset()
    browser = Browser()
    first, hint = external_flow("accept", browser=browser)
    first.exchange()
    second = Flow(first.provider, first.session, "openid profile",
                  extra={"login_hint": hint}, browser=browser)
    token = second.exchange()
    claims = second.id_token(token)
    events = login_app_events(hint)
    check([(e["step"], e["skip"]) for e in events if "skip" in e] ==
          [("login", False), ("consent", False), ("login", True), ("consent", True)],
          "the app saw login and consent, then both again with skip: true (%s)" % ", ".join(
              "%s skip=%s" % (e["step"], e.get("skip")) for e in events))
    check(events[2]["subject"] == env("INTEROP_EXTERNAL_SUBJECT"),
          "the skipped login names the remembered subject (%r)" % events[2]["subject"])
    check(claims["sub"] == env("INTEROP_EXTERNAL_SUBJECT") and claims.get("patreon_tier") == "gold",
          "second ID token: sub and patreon_tier")
    return "second authorization: login skip=true (subject %s), consent skip=true, accepted " \
        "without asking; %s" % (events[2]["subject"], describe_id_token(claims))


def s14_rejected(step):
    from login_app import REJECT_CONSENT_DESCRIPTION, REJECT_LOGIN_DESCRIPTION

    description = REJECT_LOGIN_DESCRIPTION if step == "login" else REJECT_CONSENT_DESCRIPTION

    def run():
        login_app_reset()
        flow, hint = external_flow("reject-" + step)
        e = expect_error(flow.exchange, "a callback after the app rejected the %s" % step)
        msg = expect_oauth_error(e, "access_denied")
        check(e.description == description,
              "error_description is the app's (%r)" % e.description)
        check("code" not in flow.params, "no code in the callback")
        events = login_app_events(hint)
        want = ["login"] if step == "login" else ["login", "consent"]
        check([e["step"] for e in events] == want and events[-1]["decision"] == "reject",
              "the app saw %s (%s)" % ("+".join(want), steps(events)))
        return "%s rejected with the Ory SDK -> %s %r (state and iss checked)" % (
            step, msg, e.description)
    return run


def s14_logout():
    login_app_reset()
    browser = Browser()
    flow, hint = external_flow("accept", browser=browser)
    token = flow.exchange()
    claims = flow.id_token(token)
    meta = flow.provider.load_server_metadata()
    # Before logout: the remembered session answers prompt=none.
    before = Flow(flow.provider, flow.session, "openid profile",
                  extra={"login_hint": hint, "prompt": "none"}, browser=browser)
    check("code" in before.params, "prompt=none before logout gives a code (%s)" % before.params)
    # RP-initiated logout (authlib has no client helper for it): the browser follows the
    # redirects through the app's logout challenge back to post_logout_redirect_uri.
    end_session = meta.get("end_session_endpoint")
    check(end_session, "end_session_endpoint in discovery")
    state = secrets.token_urlsafe(12)
    back = env("INTEROP_POST_LOGOUT_URI")
    url = end_session + "?" + urllib.parse.urlencode({
        "id_token_hint": token["id_token"], "post_logout_redirect_uri": back, "state": state,
        "client_id": PUBLIC_ID})
    seen_before = len(login_app_events())
    hops = []
    for _ in range(10):
        if url.startswith(back):
            break
        r = browser.http.get(url, headers={"Accept": "text/html"}, timeout=TIMEOUT,
                             allow_redirects=False)
        check(r.status_code in (302, 303), "logout: HTTP %d at %s: %s" % (
            r.status_code, url.split("?")[0], " ".join(r.text.split())[:200]))
        url = urllib.parse.urljoin(url, r.headers["Location"])
        hops.append(url.split("?")[0])
    check(url.startswith(back), "the browser is back at post_logout_redirect_uri (%s)" % url)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    check(query.get("state") == state, "post-logout redirect carries the state")
    # After: the session is gone.
    after = Flow(flow.provider, flow.session, "openid profile",
                 extra={"login_hint": hint, "prompt": "none"}, browser=browser)
    msg = expect_oauth_error(expect_error(after.exchange, "prompt=none after logout"),
                             "login_required")
    logout = [e for e in login_app_events()[seen_before:] if e["step"] == "logout"]
    check(len(logout) == 1 and logout[0].get("decision") == "accept",
          "the app saw one logout request and accepted it (%s; the browser went %s; the "
          "session did end: prompt=none after: %s)" % (steps(logout), " -> ".join(hops), msg))
    check(logout[0]["subject"] == claims["sub"] and logout[0]["rp_initiated"] is True,
          "logout request: subject %r, rp_initiated %r" % (
              logout[0]["subject"], logout[0]["rp_initiated"]))
    return "prompt=none before: code; logout challenge accepted (subject, rp_initiated), " \
        "back with state; prompt=none after: %s" % msg


SCENARIOS = [
    ("1-discovery-jwks", s1_discovery_jwks),
    ("2-public-cli-pkce", s2_public_cli_pkce),
    ("3-code-client-secret-basic", s3_code("basic", BASIC)),
    ("3-code-client-secret-post", s3_code("post", POST)),
    ("4-refresh-rotation", s4_refresh_rotation),
    ("5-revoke-introspect", s5_revoke_introspect),
    ("6-client-credentials-basic", s6_client_credentials("basic", BASIC)),
    ("6-client-credentials-post", s6_client_credentials("post", POST)),
    ("6-client-credentials-public-refused", s6_public_refused),
    ("7-seed-authorization-url", s7_seed_url),
    ("8-wrong-redirect-uri", s8_wrong_redirect_uri),
    ("8-wrong-pkce-verifier", s8_wrong_verifier),
    ("8-code-reused", s8_code_reused),
    ("8-expired-code", s8_expired_code),
    ("8-wrong-client-secret", s8_wrong_secret),
    ("8-scope-not-allowed", s8_scope_not_allowed),
    ("8-consent-denied", s8_consent_denied),
    ("9-private-key-jwt", s9_jwt("private_key_jwt")),
    ("9-client-secret-jwt", s9_jwt("client_secret_jwt")),
    ("9-client-assertion-replayed", s9_replayed),
    ("11-device-grant", s11_device_grant),
    ("11-device-slow-down", s11_device_slow_down),
    ("11-device-denied", s11_device_denied),
    ("11-device-wrong-user-code", s11_device_wrong_user_code),
    ("12-registration-management", s12_registration_management),
    ("14-external-login-consent", s14_login_consent),
    ("14-external-remember-skip", s14_remember_skip),
    ("14-external-login-rejected", s14_rejected("login")),
    ("14-external-consent-rejected", s14_rejected("consent")),
    ("14-external-logout", s14_logout),
    ("15-custom-claim", s15_custom_claim),
]

# Scenarios this library cannot run, and why (reported as N/A).
NOT_APPLICABLE = [
    ("9-request-object", "authlib's OAuth2Session has no request object (RFC 9101) client support"),
]


def one_line(s):
    return " ".join(str(s).split())


def run():
    print("LIBRARY %s %s" % (LIB, version("authlib")), flush=True)
    only = os.environ.get("INTEROP_ONLY")
    # The scenarios of this deployment (../run sets it from scenarios.txt); all when unset.
    wanted = os.environ.get("INTEROP_SCENARIOS")
    wanted = set(wanted.split()) if wanted is not None else None
    for name, fn in SCENARIOS:
        if (only and only not in name) or (wanted is not None and name not in wanted):
            continue
        started = time.monotonic()
        try:
            print("RESULT %s %s PASS %s" % (LIB, name, one_line(fn() or "ok")), flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is a FAIL line
            print("RESULT %s %s FAIL %s" % (LIB, name, one_line(describe(e))), flush=True)
            if os.environ.get("INTEROP_VERBOSE"):
                traceback.print_exc(file=sys.stderr)
        print("%s: %.2f s" % (name, time.monotonic() - started), file=sys.stderr, flush=True)
    for name, reason in NOT_APPLICABLE:
        if (not only or only in name) and (wanted is None or name in wanted):
            print("RESULT %s %s N/A %s" % (LIB, name, reason), flush=True)


if __name__ == "__main__":
    run()
