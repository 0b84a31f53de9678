"""An external login and consent app for Gatehouse's Hydra-compatible mode (GATEHOUSE_UI=external),
written with Ory's own SDK, `ory-hydra-client` (pinned in requirements.txt), used unmodified:
`ory_hydra_client.OAuth2Api` against Gatehouse's admin listener, as a partner's Hydra login app
would run against Hydra.

    login_app.py PORT ADMIN_URL

Serves on 127.0.0.1:PORT (plain HTTP, loopback only):

  GET /login?login_challenge=C      get_o_auth2_login_request, then accept_o_auth2_login_request
                                    (subject SUBJECT, remember) or reject_o_auth2_login_request;
                                    redirects the browser to the answer's redirect_to
  GET /consent?consent_challenge=C  get_o_auth2_consent_request, then accept_o_auth2_consent_request
                                    (grant_scope = requested_scope, remember, session.id_token
                                    {"patreon_tier": "gold"}) or reject_o_auth2_consent_request
  GET /logout?logout_challenge=C    get_o_auth2_logout_request, then accept_o_auth2_logout_request
  GET /error?error=...              the server's error page URL: shows the error (HTTP 200)
  GET /reset                        forgets the consents SUBJECT gave (revoke_o_auth2_consent_sessions,
                                    all=true), so a scenario starts from no remembered consent
                                    (they are the user's, not the browser's); lists them first
                                    (list_o_auth2_consent_sessions), recording what it got
  GET /events                       JSON: every request the app saw, in order (for the drivers'
                                    assertions: skip, subject, requested_scope, rp_initiated)
  GET /health                       200 "ok"

The decision is the client's `login_hint` (OpenID Connect Core §3.1.2.1), which the server hands
over in `oidc_context.login_hint` of the login and the consent request; it starts with:

  reject-login    the login is rejected: access_denied, REJECT_LOGIN_DESCRIPTION
  reject-consent  the login is accepted, the consent rejected: access_denied,
                  REJECT_CONSENT_DESCRIPTION
  anything else   both are accepted (with remember, so the next authorization in the same
                  browser comes with skip: true, and is accepted without asking)

A headless test has no user to click, so the hint stands for the user's choice. The rest of the
hint (e.g. a random tag) lets a driver find its own requests in /events.

Environment: LOGIN_APP_ADMIN_TOKEN, the admin API's bearer token (GATEHOUSE_ADMIN_TOKEN of the
server), optional; LOGIN_APP_SUBJECT, the subject the app signs users in as (default
"external-alice"). A failing SDK call (an HTTP error, or a response the SDK's models refuse) is
answered 502 with the SDK's exception, and logged to stderr.
"""

import http.server
import json
import os
import socketserver
import sys
import threading
import traceback
import urllib.parse

import ory_hydra_client
from ory_hydra_client import (
    AcceptOAuth2ConsentRequest,
    AcceptOAuth2ConsentRequestSession,
    AcceptOAuth2LoginRequest,
    ApiClient,
    ApiException,
    Configuration,
    OAuth2Api,
    RejectOAuth2Request,
)

REJECT_LOGIN_DESCRIPTION = "The user refused to sign in at the external login app."
REJECT_CONSENT_DESCRIPTION = "The user denied access at the external consent app."
ID_TOKEN_CLAIMS = {"patreon_tier": "gold"}
ACCESS_TOKEN_CLAIMS = {"patreon_tier": "gold"}
REMEMBER_FOR = 3600  # seconds


def make_api(admin_url, token):
    """OAuth2Api on the server's admin listener. `Configuration(access_token=...)` alone sends
    nothing for these calls: the SDK's OpenAPI document declares no security scheme for Hydra's
    login/consent/logout admin operations (Hydra's admin API is meant to sit on a private
    network), so the bearer token goes in as the API client's default header, the SDK's own
    documented way to add one."""
    config = Configuration(host=admin_url, access_token=token)
    if token:
        client = ApiClient(config, header_name="Authorization", header_value="Bearer " + token)
    else:
        client = ApiClient(config)
    return OAuth2Api(client)


def hint_of(req):
    ctx = getattr(req, "oidc_context", None)
    return (ctx.login_hint if ctx is not None else None) or ""


class App:
    def __init__(self, api, subject):
        self.api, self.subject = api, subject
        self.events, self.lock = [], threading.Lock()

    def record(self, **event):
        with self.lock:
            self.events.append(event)
        sys.stderr.write("event %s\n" % json.dumps(event))

    # Each handler returns the URL to send the browser to.

    def login(self, challenge):
        req = self.api.get_o_auth2_login_request(challenge)
        hint = hint_of(req)
        event = {"step": "login", "login_hint": hint, "skip": req.skip, "subject": req.subject,
                 "client_id": req.client.client_id, "requested_scope": req.requested_scope,
                 "session_id": req.session_id}
        if hint.startswith("reject-login"):
            answer = self.api.reject_o_auth2_login_request(challenge, RejectOAuth2Request(
                error="access_denied", error_description=REJECT_LOGIN_DESCRIPTION))
            self.record(decision="reject", **event)
        elif req.skip:
            # The server remembers the user: accept at once, with the subject it names (Hydra:
            # "you MUST include this subject"), asking the user nothing.
            answer = self.api.accept_o_auth2_login_request(
                challenge, AcceptOAuth2LoginRequest(subject=req.subject))
            self.record(decision="accept-skip", **event)
        else:
            # The user signed in here (a real app checks a password): remember them.
            answer = self.api.accept_o_auth2_login_request(challenge, AcceptOAuth2LoginRequest(
                subject=self.subject, remember=True, remember_for=REMEMBER_FOR))
            # What a reload of this page would see: Hydra answers 410 with the same redirect_to.
            event["get_after_accept"] = self.get_again(challenge, answer.redirect_to)
            self.record(decision="accept", **event)
        return answer.redirect_to

    def get_again(self, challenge, redirect_to):
        """Recorded only (no verdict): the answer to a second GET of an answered challenge."""
        try:
            again = self.api.get_o_auth2_login_request(challenge)
            return "200 (skip=%s)" % again.skip
        except ApiException as e:
            same = getattr(e.data, "redirect_to", None) == redirect_to
            return "%s%s" % (e.status, " with the same redirect_to" if same else "")
        except Exception as e:  # noqa: BLE001 - recorded for the report
            return "%s: %s" % (type(e).__name__, one_line(str(e))[:200])

    def consent(self, challenge):
        req = self.api.get_o_auth2_consent_request(challenge)
        hint = hint_of(req)
        event = {"step": "consent", "login_hint": hint, "skip": req.skip, "subject": req.subject,
                 "client_id": req.client.client_id if req.client else None,
                 "requested_scope": req.requested_scope,
                 "requested_access_token_audience": req.requested_access_token_audience}
        if hint.startswith("reject-consent"):
            answer = self.api.reject_o_auth2_consent_request(challenge, RejectOAuth2Request(
                error="access_denied", error_description=REJECT_CONSENT_DESCRIPTION))
            self.record(decision="reject", **event)
            return answer.redirect_to
        session = AcceptOAuth2ConsentRequestSession(
            id_token=ID_TOKEN_CLAIMS, access_token=ACCESS_TOKEN_CLAIMS)
        # Asked (and granted) once: remembered, so the next time comes with skip: true.
        remember = {} if req.skip else {"remember": True, "remember_for": REMEMBER_FOR}
        body = AcceptOAuth2ConsentRequest(
            grant_scope=req.requested_scope,
            grant_access_token_audience=req.requested_access_token_audience,
            session=session, **remember)
        answer = self.api.accept_o_auth2_consent_request(challenge, body)
        self.record(decision="accept-skip" if req.skip else "accept", **event)
        return answer.redirect_to

    def reset(self):
        try:
            listed = self.api.list_o_auth2_consent_sessions(self.subject)
            found = {"listed": [(s.consent_request.client.client_id, s.grant_scope)
                                for s in listed if s.consent_request and s.consent_request.client]}
        except Exception as e:  # noqa: BLE001 - recorded for the report, not the reset's verdict
            found = {"list_error": one_line("%s: %s" % (type(e).__name__, e))}
        self.api.revoke_o_auth2_consent_sessions(subject=self.subject, all=True)
        self.record(step="reset", decision="revoked", **found)

    def logout(self, challenge):
        req = self.api.get_o_auth2_logout_request(challenge)
        answer = self.api.accept_o_auth2_logout_request(challenge)
        self.record(step="logout", decision="accept", subject=req.subject, sid=req.sid,
                    rp_initiated=req.rp_initiated,
                    client_id=req.client.client_id if req.client else None)
        return answer.redirect_to


def serve(port, app):
    routes = {"/login": ("login_challenge", app.login),
              "/consent": ("consent_challenge", app.consent),
              "/logout": ("logout_challenge", app.logout)}

    class Handler(http.server.BaseHTTPRequestHandler):
        def reply(self, status, body, content_type="text/plain; charset=utf-8", location=None):
            data = body.encode()
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            if url.path == "/health":
                return self.reply(200, "ok")
            if url.path == "/events":
                with app.lock:
                    return self.reply(200, json.dumps(app.events), "application/json")
            if url.path == "/reset":
                try:
                    app.reset()
                except Exception as e:  # noqa: BLE001 - the driver reports it
                    return self.reply(502, "login app: /reset: %s: %s" % (
                        type(e).__name__, one_line(str(e))))
                return self.reply(200, "ok")
            if url.path == "/error":
                return self.reply(200, "error page: error=%s error_description=%s" % (
                    query.get("error"), query.get("error_description")))
            if url.path not in routes:
                return self.reply(404, "not found")
            name, handler = routes[url.path]
            if not query.get(name):
                return self.reply(400, "missing %s" % name)
            try:
                target = handler(query[name])
            except ApiException as e:
                redirect = getattr(e.data, "redirect_to", None)
                if e.status == 410 and redirect:
                    # Hydra: the challenge was answered already; continue where it says.
                    return self.reply(302, "", location=redirect)
                app.record(step=url.path[1:], error=one_line(str(e)))
                sys.stderr.write("%s: %s\n" % (url.path, e))
                return self.reply(502, "login app: %s: %s" % (url.path, one_line(str(e))))
            except Exception as e:  # noqa: BLE001 - e.g. the SDK's models refusing a response
                app.record(step=url.path[1:], error=one_line("%s: %s" % (type(e).__name__, e)))
                traceback.print_exc(file=sys.stderr)
                return self.reply(502, "login app: %s: %s: %s" % (
                    url.path, type(e).__name__, one_line(str(e))))
            return self.reply(302, "", location=target)

        def log_message(self, fmt, *args):  # one line per request, without query strings
            sys.stderr.write("%s %s\n" % (self.command, self.path.split("?")[0]))

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", port), Handler)
    sys.stderr.write("login app (ory-hydra-client %s) on http://127.0.0.1:%d\n" % (
        ory_hydra_client.__version__, port))
    server.serve_forever()


def one_line(s):
    return " ".join(str(s).split())


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    api = make_api(argv[2], os.environ.get("LOGIN_APP_ADMIN_TOKEN") or None)
    serve(int(argv[1]), App(api, os.environ.get("LOGIN_APP_SUBJECT") or "external-alice"))


if __name__ == "__main__":
    main(sys.argv)
