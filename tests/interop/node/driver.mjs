// Interoperability driver: openid-client (the current major), as a partner's Node app uses it.
//
// Strictness: discovery by issuer identifier (the library checks the document's `issuer`),
// `enableNonRepudiationChecks` so every ID token's JWS signature is verified against the JWKS
// (on top of the library's iss/aud/exp/iat/nonce/azp checks and RFC 9207 `iss` check of the
// callback), and HTTPS only: the issuer is the suite's TLS proxy, trusted through
// NODE_EXTRA_CA_CERTS. Nothing is relaxed (no allowInsecureRequests, no skip*Check).
//
// Configuration comes from INTEROP_* environment variables set by ../run. Output: one line per
// scenario, `RESULT openid-client <scenario> PASS|FAIL <message>`.

import * as client from 'openid-client';
import * as jose from 'jose';
import http from 'node:http';
import { createRequire } from 'node:module';

const LIB = 'openid-client';
const require = createRequire(import.meta.url);
const VERSION = require('openid-client/package.json').version;

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
}

const ISSUER = env('INTEROP_ISSUER');
const SHORT_ISSUER = env('INTEROP_SHORT_ISSUER');
const SHORT_TTL = Number(env('INTEROP_SHORT_CODE_TTL_SECONDS'));
const USER = { username: env('INTEROP_USERNAME'), password: env('INTEROP_PASSWORD') };
const USER_EMAIL = env('INTEROP_USER_EMAIL');
const PUBLIC_ID = env('INTEROP_PUBLIC_CLIENT_ID');
const BASIC = { id: env('INTEROP_BASIC_CLIENT_ID'), secret: env('INTEROP_BASIC_CLIENT_SECRET') };
const POST = { id: env('INTEROP_POST_CLIENT_ID'), secret: env('INTEROP_POST_CLIENT_SECRET') };
const SEED = { id: env('INTEROP_SEED_CLIENT_ID'), secret: env('INTEROP_SEED_CLIENT_SECRET') };
const SEED_PORT = Number(env('INTEROP_SEED_CALLBACK_PORT'));
const DEVICE_ID = env('INTEROP_DEVICE_CLIENT_ID');
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const SEED_SCOPES =
  'openid offline offline_access urn:neoncloud:projects:create urn:neoncloud:projects:read ' +
  'urn:neoncloud:projects:update urn:neoncloud:projects:delete';
const SEED_PARAMS = [
  'client_id', 'scope', 'response_type', 'redirect_uri', 'grant_type', 'state',
  'code_challenge', 'code_challenge_method',
];

// ------------------------------------------------------------------------------------------
// reporting

function oneLine(s) {
  return String(s).replace(/\s+/g, ' ').trim();
}

function describe(e) {
  if (e instanceof client.ResponseBodyError) {
    return `${e.name}: error=${e.error} (${e.error_description ?? ''}) HTTP ${e.status}`;
  }
  if (e instanceof client.AuthorizationResponseError) {
    return `${e.name}: error=${e.error} (${e.error_description ?? ''})`;
  }
  if (e instanceof client.WWWAuthenticateChallengeError) {
    return `${e.name}: HTTP ${e.status} ${JSON.stringify(e.cause)}`;
  }
  let msg = `${e?.name ?? 'Error'}: ${e?.message ?? e}`;
  if (e?.code) msg += ` [${e.code}]`;
  if (e?.cause?.message) msg += ` cause: ${e.cause.message}`;
  return msg;
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

async function scenario(name, fn) {
  try {
    const msg = await fn();
    console.log(`RESULT ${LIB} ${name} PASS ${oneLine(msg ?? 'ok')}`);
  } catch (e) {
    console.log(`RESULT ${LIB} ${name} FAIL ${oneLine(describe(e))}`);
    if (process.env.INTEROP_VERBOSE) console.error(e);
  }
}

/** Runs `fn`, which must fail; returns the error for the caller's assertions. */
async function expectError(fn, what) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error(`${what} succeeded, but it must fail`);
}

/** The library's error must be a token-endpoint error body with this RFC 6749 §5.2 code. */
function expectBodyError(e, code) {
  if (!(e instanceof client.ResponseBodyError)) {
    throw new Error(`expected ResponseBodyError ${code}, got ${describe(e)}`);
  }
  check(e.error === code, `error === '${code}' (got '${e.error}')`);
  return `ResponseBodyError error=${e.error} HTTP ${e.status}`;
}

// ------------------------------------------------------------------------------------------
// the user's browser: follows redirects, keeps cookies, submits the forms with their CSRF token

function decodeEntities(s) {
  return s
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#([0-9]+);/g, (_, d) => String.fromCodePoint(parseInt(d, 10)))
    .replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function attrs(tag) {
  const out = {};
  for (const m of tag.matchAll(/([a-zA-Z_:-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    out[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

/** The form with this id: its action and the fields a browser would submit untouched. */
function findForm(html, id) {
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const a = attrs(m[1]);
    if (a.id !== id) continue;
    const fields = {};
    for (const input of m[2].matchAll(/<input\b([^>]*)>/gi)) {
      const i = attrs(input[1]);
      if (i.type === 'hidden' && i.name) fields[i.name] = i.value ?? '';
    }
    return { action: a.action, method: (a.method || 'get').toLowerCase(), fields };
  }
  return null;
}

class Browser {
  constructor() {
    this.jar = new Map(); // origin -> Map(name -> value)
  }

  cookies(url) {
    const jar = this.jar.get(url.origin);
    return jar ? [...jar].map(([k, v]) => `${k}=${v}`).join('; ') : '';
  }

  keep(url, res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...rest] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = rest.some((a) => /^\s*max-age\s*=\s*(0|-)/i.test(a));
      if (!this.jar.has(url.origin)) this.jar.set(url.origin, new Map());
      if (expired) this.jar.get(url.origin).delete(name);
      else this.jar.get(url.origin).set(name, value);
    }
  }

  async fetch(url, method = 'GET', form = undefined) {
    const headers = { 'user-agent': 'gatehouse-interop-browser', accept: 'text/html' };
    const cookie = this.cookies(url);
    if (cookie) headers.cookie = cookie;
    let body;
    if (form) {
      body = new URLSearchParams(form);
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers.origin = url.origin;
    }
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    this.keep(url, res);
    return res;
  }

  /**
   * Opens the authorization URL as a user would: signs in, answers the consent screen with
   * `decision` (allow or deny; "remember" unticked, so every flow asks again), and follows the
   * redirects until the browser lands on `redirectUri` (served by a Callback listener).
   * Returns the URL it landed on.
   */
  async authorize(authUrl, redirectUri, decision = 'allow') {
    let url = new URL(authUrl);
    let method = 'GET';
    let form;
    for (let hop = 0; hop < 20; hop++) {
      if (url.href.startsWith(redirectUri)) {
        const res = await this.fetch(url);
        check(res.status === 200, `callback listener answered ${res.status}`);
        return url;
      }
      const res = await this.fetch(url, method, form);
      if ([301, 302, 303, 307, 308].includes(res.status)) {
        url = new URL(res.headers.get('location'), url);
        if (res.status !== 307 && res.status !== 308) {
          method = 'GET';
          form = undefined;
        }
        continue;
      }
      const html = await res.text();
      if (res.status !== 200) {
        throw new Error(`browser: HTTP ${res.status} at ${url.pathname}: ${oneLine(html).slice(0, 200)}`);
      }
      const login = findForm(html, 'login-form');
      const consent = findForm(html, 'consent-form');
      if (login) {
        form = { ...login.fields, username: USER.username, password: USER.password };
        url = new URL(login.action, url);
      } else if (consent) {
        form = { ...consent.fields, decision };
        url = new URL(consent.action, url);
      } else {
        const text = oneLine(html.replace(/<[^>]+>/g, ' ')).slice(0, 200);
        throw new Error(`browser: neither a login nor a consent form at ${url.pathname}: ${text}`);
      }
      method = 'POST';
    }
    throw new Error('browser: more than 20 redirects');
  }

  /**
   * The user's part of the device grant (RFC 8628 §3.3): opens `verificationUri`, types
   * `userCode` into the device form, signs in and answers the consent screen with `decision`.
   * Returns the last page's HTML (the done page, or the form again with its error).
   */
  async device(verificationUri, userCode, decision = 'allow') {
    let url = new URL(verificationUri);
    let method = 'GET';
    let form;
    let typed = false;
    for (let hop = 0; hop < 20; hop++) {
      const res = await this.fetch(url, method, form);
      if ([301, 302, 303].includes(res.status)) {
        url = new URL(res.headers.get('location'), url);
        method = 'GET';
        form = undefined;
        continue;
      }
      const html = await res.text();
      const device = findForm(html, 'device-form');
      const login = findForm(html, 'login-form');
      const consent = findForm(html, 'consent-form');
      if (device && !typed) {
        form = { ...device.fields, user_code: userCode };
        url = new URL(device.action, url);
        typed = true;
      } else if (login) {
        form = { ...login.fields, username: USER.username, password: USER.password };
        url = new URL(login.action, url);
      } else if (consent) {
        form = { ...consent.fields, decision };
        url = new URL(consent.action, url);
      } else {
        return { status: res.status, html };
      }
      method = 'POST';
    }
    throw new Error('browser: more than 20 redirects');
  }
}

// ------------------------------------------------------------------------------------------
// the app's loopback callback listener (RFC 8252 §7.3)

class Callback {
  static async listen(port = 0, host = '127.0.0.1') {
    const cb = new Callback();
    cb.server = http.createServer((req, res) => {
      cb.received.push(req.url);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('You can close this window.');
    });
    await new Promise((resolve, reject) => {
      cb.server.once('error', reject);
      cb.server.listen(port, host, resolve);
    });
    cb.port = cb.server.address().port;
    return cb;
  }

  constructor() {
    this.received = [];
  }

  /** The full URL of the last request the listener received, as the app sees it. */
  take(base) {
    const path = this.received.shift();
    if (!path) throw new Error('the callback listener received nothing');
    return new URL(path, base);
  }

  close() {
    this.server.closeAllConnections?.();
    this.server.close();
  }
}

// ------------------------------------------------------------------------------------------
// the library's configurations

async function configure(issuer, id, auth, secret) {
  return client.discovery(new URL(issuer), id, secret ? { client_secret: secret } : undefined, auth, {
    execute: [client.enableNonRepudiationChecks],
  });
}

const configs = {};
async function cfg(kind) {
  if (!configs[kind]) {
    configs[kind] = {
      public: () => configure(ISSUER, PUBLIC_ID, client.None()),
      basic: () => configure(ISSUER, BASIC.id, client.ClientSecretBasic(BASIC.secret), BASIC.secret),
      post: () => configure(ISSUER, POST.id, client.ClientSecretPost(POST.secret), POST.secret),
      seed: () => configure(ISSUER, SEED.id, client.ClientSecretPost(SEED.secret), SEED.secret),
      short: () => configure(SHORT_ISSUER, PUBLIC_ID, client.None()),
      device: () => configure(ISSUER, DEVICE_ID, client.None()),
    }[kind]();
  }
  return configs[kind];
}

/**
 * Authorization request built by the library (PKCE S256, state, nonce), the user's part in the
 * browser, and the callback the loopback listener received. The code is not exchanged yet.
 */
async function authorize(config, scope, { decision = 'allow', port = 0, path = '/callback', host } = {}) {
  const cb = await Callback.listen(port);
  try {
    const redirectUri = `http://${host ?? '127.0.0.1'}:${cb.port}${path}`;
    const verifier = client.randomPKCECodeVerifier();
    const checks = {
      pkceCodeVerifier: verifier,
      expectedState: client.randomState(),
      expectedNonce: client.randomNonce(),
      idTokenExpected: scope.split(' ').includes('openid'),
    };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope,
      state: checks.expectedState,
      nonce: checks.expectedNonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    await new Browser().authorize(url, redirectUri, decision);
    return { callback: cb.take(redirectUri), checks, redirectUri };
  } finally {
    cb.close();
  }
}

async function codeFlow(config, scope) {
  const a = await authorize(config, scope);
  const tokens = await client.authorizationCodeGrant(config, a.callback, a.checks);
  return { ...a, tokens };
}

function describeIdToken(claims) {
  return `id_token sub=${claims.sub.slice(0, 8)}… aud=${JSON.stringify(claims.aud)} exp in ${claims.exp - Math.floor(Date.now() / 1000)}s`;
}

// ------------------------------------------------------------------------------------------
// scenarios

const scenarios = [
  ['1-discovery-jwks', async () => {
    const config = await cfg('public');
    const meta = config.serverMetadata();
    check(meta.issuer === ISSUER, `issuer ${meta.issuer} === ${ISSUER}`);
    for (const k of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint',
      'revocation_endpoint', 'introspection_endpoint']) {
      check(typeof meta[k] === 'string' && meta[k].startsWith('https://'), `${k} is an https URL`);
    }
    check(meta.code_challenge_methods_supported?.includes('S256'), 'S256 advertised');
    // The JWK Set, through jose (the JOSE library openid-client itself is built with).
    const set = jose.createRemoteJWKSet(new URL(meta.jwks_uri));
    await set.reload();
    const jwks = set.jwks();
    check(jwks.keys.length > 0, 'the JWKS has keys');
    const algs = [];
    for (const jwk of jwks.keys) {
      check(jwk.kid && jwk.use === 'sig' && jwk.alg, `key ${jwk.kid} has kid, use=sig, alg`);
      check(!('d' in jwk) && !('p' in jwk), `key ${jwk.kid} is public only`);
      await jose.importJWK(jwk, jwk.alg);
      algs.push(jwk.alg);
    }
    for (const alg of meta.id_token_signing_alg_values_supported) {
      check(algs.includes(alg), `a key for the advertised ID token alg ${alg}`);
    }
    return `issuer matches; ${jwks.keys.length} keys imported (${algs.join(', ')})`;
  }],

  ['2-public-cli-pkce', async () => {
    const config = await cfg('public');
    const scope = 'openid profile email offline_access urn:neoncloud:projects:read';
    const { callback, tokens, checks } = await codeFlow(config, scope);
    const q = callback.searchParams;
    for (const p of ['code', 'state', 'scope', 'iss']) check(q.has(p), `callback carries ${p}`);
    check(q.get('iss') === ISSUER, 'callback iss is the issuer');
    check(q.get('state') === checks.expectedState, 'callback state');
    check(tokens.token_type?.toLowerCase() === 'bearer', 'token_type Bearer');
    check(tokens.refresh_token, 'a refresh token (offline_access)');
    const claims = tokens.claims();
    check(claims && claims.nonce === checks.expectedNonce, 'ID token nonce');
    check(claims.iss === ISSUER, 'ID token iss');
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    check(info.sub === claims.sub, 'userinfo sub');
    check(info.email === USER_EMAIL, `userinfo email (${info.email})`);
    check(typeof info.email_verified === 'boolean', 'userinfo email_verified');
    check(info.name && info.preferred_username === USER.username, 'userinfo name, preferred_username');
    return `${describeIdToken(claims)}; userinfo name=${JSON.stringify(info.name)} email=${info.email}`;
  }],

  ...[['basic', BASIC], ['post', POST]].map(([kind, c]) => [`3-code-client-secret-${kind}`, async () => {
    const config = await cfg(kind);
    const { tokens, checks } = await codeFlow(config, 'openid profile email urn:neoncloud:projects:read');
    const claims = tokens.claims();
    check(claims.aud === c.id || claims.aud?.includes?.(c.id), 'ID token aud');
    check(claims.nonce === checks.expectedNonce, 'ID token nonce');
    check(!tokens.refresh_token, 'no refresh token without offline_access');
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    check(info.email === USER_EMAIL, 'userinfo email');
    return `client_secret_${kind}: ${describeIdToken(claims)}; userinfo ok`;
  }]),

  ['4-refresh-rotation', async () => {
    const config = await cfg('public');
    const { tokens } = await codeFlow(config, 'openid offline_access urn:neoncloud:projects:read');
    const rt1 = tokens.refresh_token;
    check(rt1, 'a refresh token');
    const second = await client.refreshTokenGrant(config, rt1);
    const rt2 = second.refresh_token;
    check(rt2 && rt2 !== rt1, 'rotation: a new refresh token');
    await client.fetchUserInfo(config, second.access_token, tokens.claims().sub);
    const third = await client.refreshTokenGrant(config, rt2);
    const rt3 = third.refresh_token;
    check(rt3 && rt3 !== rt2, 'the new refresh token works and rotates again');
    const old = await expectError(() => client.refreshTokenGrant(config, rt1), 'refresh with the old token');
    const oldMsg = expectBodyError(old, 'invalid_grant');
    const killed = await expectError(() => client.refreshTokenGrant(config, rt3), 'refresh with the newest token after reuse');
    const killedMsg = expectBodyError(killed, 'invalid_grant');
    return `new token works; old one: ${oldMsg}; newest after reuse: ${killedMsg}`;
  }],

  ['5-revoke-introspect', async () => {
    const config = await cfg('basic');
    const scope = 'openid offline_access urn:neoncloud:projects:read';
    const { tokens } = await codeFlow(config, scope);
    const sub = tokens.claims().sub;
    const live = await client.tokenIntrospection(config, tokens.access_token);
    check(live.active === true, 'live access token is active');
    check(live.sub === sub, `introspection sub (${live.sub})`);
    check(live.client_id === BASIC.id, 'introspection client_id');
    const scopes = (live.scope ?? '').split(' ');
    for (const s of scope.split(' ')) check(scopes.includes(s), `introspection scope has ${s} (${live.scope})`);
    await client.tokenRevocation(config, tokens.access_token, { token_type_hint: 'access_token' });
    const dead = await client.tokenIntrospection(config, tokens.access_token);
    check(dead.active === false, 'revoked access token is inactive');
    await client.tokenRevocation(config, tokens.refresh_token, { token_type_hint: 'refresh_token' });
    const deadRt = await client.tokenIntrospection(config, tokens.refresh_token, { token_type_hint: 'refresh_token' });
    check(deadRt.active === false, 'revoked refresh token is inactive');
    const e = await expectError(() => client.refreshTokenGrant(config, tokens.refresh_token), 'refresh with a revoked token');
    expectBodyError(e, 'invalid_grant');
    return `live: active, scope="${live.scope}", sub matches; after revocation: active=false (access and refresh), refresh → invalid_grant`;
  }],

  ...[['basic', BASIC], ['post', POST]].map(([kind, c]) => [`6-client-credentials-${kind}`, async () => {
    const config = await cfg(kind);
    const tokens = await client.clientCredentialsGrant(config, { scope: 'urn:neoncloud:projects:read' });
    check(tokens.access_token && tokens.token_type?.toLowerCase() === 'bearer', 'a Bearer access token');
    check(!tokens.refresh_token && !tokens.id_token, 'no refresh or ID token');
    const info = await client.tokenIntrospection(config, tokens.access_token);
    check(info.active === true && info.client_id === c.id, 'introspection: active, client_id');
    check((info.scope ?? '').split(' ').includes('urn:neoncloud:projects:read'), 'introspection scope');
    return `client_secret_${kind}: token issued, introspection active scope="${info.scope}"`;
  }]),

  ['6-client-credentials-public-refused', async () => {
    const config = await cfg('public');
    const e = await expectError(() => client.clientCredentialsGrant(config, { scope: 'openid' }), 'client_credentials for a public client');
    return expectBodyError(e, 'unauthorized_client');
  }],

  ['7-seed-authorization-url', async () => {
    const config = await cfg('seed');
    const cb = await Callback.listen(SEED_PORT);
    try {
      const redirectUri = `http://localhost:${SEED_PORT}/api/auth/callback/neon`;
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const url = client.buildAuthorizationUrl(config, {
        scope: SEED_SCOPES,
        response_type: 'code',
        redirect_uri: redirectUri,
        grant_type: 'authorization_code',
        state,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      const names = [...url.searchParams.keys()];
      check(JSON.stringify([...names].sort()) === JSON.stringify([...SEED_PARAMS].sort()),
        `the URL has exactly the seed's parameters (${names.join(',')})`);
      await new Browser().authorize(url, redirectUri);
      const callback = cb.take(redirectUri);
      const tokens = await client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier, expectedState: state, idTokenExpected: true,
      });
      const granted = (tokens.scope ?? callback.searchParams.get('scope') ?? '').split(' ');
      for (const s of SEED_SCOPES.split(' ').filter((s) => s.startsWith('urn:'))) {
        check(granted.includes(s), `granted scope has ${s}`);
      }
      check(tokens.refresh_token, 'a refresh token (offline)');
      const claims = tokens.claims();
      check(claims.aud === SEED.id || claims.aud?.includes?.(SEED.id), 'ID token aud');
      return `${names.join('&')} → code → tokens (client_secret_post); scope="${tokens.scope}"`;
    } finally {
      cb.close();
    }
  }],

  ['8-wrong-redirect-uri', async () => {
    const config = await cfg('public');
    const a = await authorize(config, 'openid');
    // The app serves its callback at another (also registered, loopback) URI than it asked for.
    const elsewhere = new URL(a.callback);
    elsewhere.pathname = '/callback';
    elsewhere.port = String(Number(elsewhere.port) === 65535 ? 65534 : Number(elsewhere.port) + 1);
    const e = await expectError(() => client.authorizationCodeGrant(config, elsewhere, a.checks), 'exchange with another redirect_uri');
    return expectBodyError(e, 'invalid_grant');
  }],

  ['8-wrong-pkce-verifier', async () => {
    const config = await cfg('public');
    const a = await authorize(config, 'openid');
    const checks = { ...a.checks, pkceCodeVerifier: client.randomPKCECodeVerifier() };
    const e = await expectError(() => client.authorizationCodeGrant(config, a.callback, checks), 'exchange with a wrong code_verifier');
    return expectBodyError(e, 'invalid_grant');
  }],

  ['8-code-reused', async () => {
    const config = await cfg('basic');
    const a = await authorize(config, 'openid urn:neoncloud:projects:read');
    const first = await client.authorizationCodeGrant(config, a.callback, a.checks);
    const e = await expectError(() => client.authorizationCodeGrant(config, a.callback, a.checks), 'second exchange of one code');
    const msg = expectBodyError(e, 'invalid_grant');
    // RFC 6749 §4.1.2: the tokens issued from the replayed code should be revoked.
    const info = await client.tokenIntrospection(config, first.access_token);
    check(info.active === false, 'the access token from the replayed code is revoked');
    return `${msg}; first access token revoked`;
  }],

  ['8-expired-code', async () => {
    const config = await cfg('short');
    const a = await authorize(config, 'openid');
    await new Promise((r) => setTimeout(r, (SHORT_TTL + 1.5) * 1000));
    const e = await expectError(() => client.authorizationCodeGrant(config, a.callback, a.checks), `exchange after ${SHORT_TTL + 1.5}s (code TTL ${SHORT_TTL}s)`);
    return expectBodyError(e, 'invalid_grant');
  }],

  ['8-wrong-client-secret', async () => {
    // client_secret_basic: RFC 6749 §5.2 wants 401 with a WWW-Authenticate challenge, which
    // openid-client surfaces as WWWAuthenticateChallengeError (the error code is in the body).
    const basic = await configure(ISSUER, BASIC.id, client.ClientSecretBasic('not-the-secret'), 'not-the-secret');
    const e1 = await expectError(() => client.clientCredentialsGrant(basic, { scope: 'urn:neoncloud:projects:read' }), 'client_secret_basic with a wrong secret');
    if (!(e1 instanceof client.WWWAuthenticateChallengeError)) {
      throw new Error(`basic: expected WWWAuthenticateChallengeError, got ${describe(e1)}`);
    }
    check(e1.status === 401, 'basic: HTTP 401');
    check(e1.cause.some((c) => c.scheme === 'basic'), `basic: a Basic challenge (${JSON.stringify(e1.cause)})`);
    const body = await e1.response.json();
    check(body.error === 'invalid_client', `basic: body error invalid_client (${body.error})`);
    const post = await configure(ISSUER, POST.id, client.ClientSecretPost('not-the-secret'), 'not-the-secret');
    const e2 = await expectError(() => client.clientCredentialsGrant(post, { scope: 'urn:neoncloud:projects:read' }), 'client_secret_post with a wrong secret');
    const msg2 = expectBodyError(e2, 'invalid_client');
    return `basic: WWWAuthenticateChallengeError 401 Basic, error=invalid_client; post: ${msg2}`;
  }],

  ['8-scope-not-allowed', async () => {
    const config = await cfg('public');
    const a = await authorize(config, 'openid urn:neoncloud:billing:admin');
    const e = await expectError(() => client.authorizationCodeGrant(config, a.callback, a.checks), 'a callback for a scope the client may not ask for');
    if (!(e instanceof client.AuthorizationResponseError)) {
      throw new Error(`expected AuthorizationResponseError, got ${describe(e)}`);
    }
    check(e.error === 'invalid_scope', `error === 'invalid_scope' (got '${e.error}')`);
    // and at the token endpoint (client_credentials)
    const basic = await cfg('basic');
    const e2 = await expectError(() => client.clientCredentialsGrant(basic, { scope: 'urn:neoncloud:billing:admin' }), 'client_credentials with a scope not allowed');
    const msg2 = expectBodyError(e2, 'invalid_scope');
    return `authorization: AuthorizationResponseError error=${e.error}; token endpoint: ${msg2}`;
  }],

  ['8-consent-denied', async () => {
    const config = await cfg('public');
    const a = await authorize(config, 'openid profile', { decision: 'deny' });
    const e = await expectError(() => client.authorizationCodeGrant(config, a.callback, a.checks), 'a callback after denied consent');
    if (!(e instanceof client.AuthorizationResponseError)) {
      throw new Error(`expected AuthorizationResponseError, got ${describe(e)}`);
    }
    check(e.error === 'access_denied', `error === 'access_denied' (got '${e.error}')`);
    return `AuthorizationResponseError error=${e.error} (state and iss checked by the library)`;
  }],

  ['11-device-grant', async () => {
    const config = await cfg('device');
    check(config.serverMetadata().device_authorization_endpoint?.endsWith('/oauth2/device/auth'),
      'discovery names the device authorization endpoint');
    const started = await client.initiateDeviceAuthorization(config, { scope: 'openid offline_access profile' });
    check(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/.test(started.user_code), `user_code ${started.user_code}`);
    check(started.verification_uri === `${ISSUER}/device`, `verification_uri ${started.verification_uri}`);
    // The user opens verification_uri_complete (the code prefilled) while the device polls.
    const polling = client.pollDeviceAuthorizationGrant(config, started);
    const page = await new Browser().device(started.verification_uri_complete, started.user_code);
    check(page.status === 200 && page.html.includes('id="device-approved"'), `the done page (HTTP ${page.status})`);
    const tokens = await polling;
    check(typeof tokens.access_token === 'string', 'an access token');
    check(typeof tokens.refresh_token === 'string', 'a refresh token (offline_access)');
    const claims = tokens.claims();
    check(claims?.sub, 'an ID token');
    const again = await expectError(() => client.genericGrantRequest(config, DEVICE_GRANT, { device_code: started.device_code }), 'the device code used again');
    const msg = expectBodyError(again, 'invalid_grant');
    return `initiateDeviceAuthorization + pollDeviceAuthorizationGrant: ${describeIdToken(claims)}, refresh token; again: ${msg}`;
  }],

  ['11-device-slow-down', async () => {
    const config = await cfg('device');
    const started = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
    const poll = () => client.genericGrantRequest(config, DEVICE_GRANT, { device_code: started.device_code });
    const first = expectBodyError(await expectError(poll, 'a poll before the user answered'), 'authorization_pending');
    const second = expectBodyError(await expectError(poll, 'a poll at once after'), 'slow_down');
    return `${first}; then ${second}`;
  }],

  ['11-device-denied', async () => {
    const config = await cfg('device');
    const started = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
    const polling = client.pollDeviceAuthorizationGrant(config, started).then(
      () => { throw new Error('tokens after the user denied'); },
      (e) => e,
    );
    const page = await new Browser().device(started.verification_uri, started.user_code, 'deny');
    check(page.html.includes('id="device-denied"'), `the denied page (HTTP ${page.status})`);
    const e = await polling;
    return `pollDeviceAuthorizationGrant: ${expectBodyError(e, 'access_denied')}`;
  }],

  ['11-device-wrong-user-code', async () => {
    const config = await cfg('device');
    const started = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
    const wrong = started.user_code === 'BCDF-GHJK' ? 'ZZZZ-ZZZZ' : 'BCDF-GHJK';
    const page = await new Browser().device(started.verification_uri, wrong);
    check(page.status === 400 && page.html.includes('id="device-error"'), `the form again with its error (HTTP ${page.status})`);
    check(!page.html.includes('consent-form') && !page.html.includes('login-form'), 'no sign-in for a wrong code');
    return `HTTP ${page.status}, the page says the code is not valid`;
  }],
];

console.log(`LIBRARY ${LIB} ${VERSION}`);
const only = process.env.INTEROP_ONLY;
for (const [name, fn] of scenarios) {
  if (only && !name.includes(only)) continue;
  await scenario(name, fn);
}
