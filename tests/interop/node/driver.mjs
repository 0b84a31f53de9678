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
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';

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
const KEYS = {
  id: env('INTEROP_KEYS_CLIENT_ID'),
  kid: env('INTEROP_KEYS_KID'),
  pem: readFileSync(env('INTEROP_KEYS_PRIVATE_KEY_FILE'), 'utf8'),
};
const HS = { id: env('INTEROP_HS_CLIENT_ID'), secret: env('INTEROP_HS_CLIENT_SECRET') };
const DEVICE_ID = env('INTEROP_DEVICE_CLIENT_ID');
const PATREON = JSON.parse(env('INTEROP_USER_PATREON'));
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const REGISTRATION_TOKEN = env('INTEROP_REGISTRATION_TOKEN');
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
      const expired = rest.some((a) => /^\s*max-age\s*=\s*(0|-)/i.test(a)
        || (/^\s*expires\s*=/i.test(a) && Date.parse(a.split('=').slice(1).join('=')) <= Date.now()));
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
        // A form_post response arrives as a POST of the form's fields.
        const res = await this.fetch(url, method, form);
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
      const formPost = findForm(html, 'form-post');
      if (formPost) {
        // The auto-submitting form of response_mode=form_post: submitted as its script would.
        form = formPost.fields;
        url = new URL(formPost.action, url);
        method = 'POST';
        continue;
      } else if (login) {
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
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        cb.received.push(req.url);
        cb.requests.push({
          method: req.method,
          url: req.url,
          contentType: req.headers['content-type'] ?? '',
          body: Buffer.concat(chunks).toString('utf8'),
        });
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('You can close this window.');
      });
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
    this.requests = [];
  }

  /** The last request the listener received, as a fetch Request (for form_post responses). */
  takeRequest(base) {
    const r = this.requests.shift();
    if (!r) throw new Error('the callback listener received nothing');
    this.received.shift();
    const init = { method: r.method, headers: { 'content-type': r.contentType } };
    if (r.method === 'POST') init.body = r.body;
    return new Request(new URL(r.url, base), init);
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
      keys: async () => configure(ISSUER, KEYS.id,
        client.PrivateKeyJwt({ key: await jose.importPKCS8(KEYS.pem, 'ES256'), kid: KEYS.kid })),
      hs: () => configure(ISSUER, HS.id, client.ClientSecretJwt(HS.secret), HS.secret),
      device: () => configure(ISSUER, DEVICE_ID, client.None()),
    }[kind]();
  }
  return configs[kind];
}

/**
 * Authorization request built by the library (PKCE S256, state, nonce), the user's part in the
 * browser, and the callback the loopback listener received. The code is not exchanged yet.
 */
async function authorize(config, scope, { decision = 'allow', port = 0, path = '/callback', host, build, extra = {}, browser } = {}) {
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
    const parameters = {
      redirect_uri: redirectUri,
      scope,
      state: checks.expectedState,
      nonce: checks.expectedNonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...extra,
    };
    const url = build ? await build(config, parameters) : client.buildAuthorizationUrl(config, parameters);
    await (browser ?? new Browser()).authorize(url, redirectUri, decision);
    return { callback: cb.take(redirectUri), checks, redirectUri };
  } finally {
    cb.close();
  }
}

/**
 * An authorization request with extra parameters: pushed first (RFC 9126) when `par`, and
 * answered as a form post when `response_mode: 'form_post'`. Returns what the app received
 * (a fetch Request: a GET to the callback, or the form's POST) and the checks.
 */
async function authorizeWith(config, scope, extra = {}, { par = false } = {}) {
  const cb = await Callback.listen(0);
  try {
    const redirectUri = `http://127.0.0.1:${cb.port}/callback`;
    const verifier = client.randomPKCECodeVerifier();
    const checks = {
      pkceCodeVerifier: verifier,
      expectedState: client.randomState(),
      expectedNonce: client.randomNonce(),
      idTokenExpected: scope.split(' ').includes('openid'),
    };
    const params = {
      redirect_uri: redirectUri,
      scope,
      state: checks.expectedState,
      nonce: checks.expectedNonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...extra,
    };
    const url = par
      ? await client.buildAuthorizationUrlWithPAR(config, params)
      : client.buildAuthorizationUrl(config, params);
    await new Browser().authorize(url, redirectUri);
    return { request: cb.takeRequest(redirectUri), checks, url };
  } finally {
    cb.close();
  }
}

async function codeFlow(config, scope) {
  const a = await authorize(config, scope);
  const tokens = await client.authorizationCodeGrant(config, a.callback, a.checks);
  return { ...a, tokens };
}

/**
 * RFC 7591 through the library: discovery, then registration with the initial access token
 * (`null`: none at all).
 */
async function registerClient(metadata, initialAccessToken = REGISTRATION_TOKEN) {
  return client.dynamicClientRegistration(new URL(ISSUER), metadata, client.None(), {
    initialAccessToken: initialAccessToken ?? undefined,
    execute: [client.enableNonRepudiationChecks],
  });
}

const REGISTERED_APP = {
  client_name: 'Interop self-registered app',
  redirect_uris: ['http://127.0.0.1/callback'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
  scope: 'openid offline_access profile email',
};

/** RFC 7592 over raw HTTP: the library has no client configuration endpoint API. */
async function registration(method, uri, token, body) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body) headers['content-type'] = 'application/json';
  const res = await fetch(uri, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

function describeIdToken(claims) {
  return `id_token sub=${claims.sub.slice(0, 8)}… aud=${JSON.stringify(claims.aud)} exp in ${claims.exp - Math.floor(Date.now() / 1000)}s`;
}

// ------------------------------------------------------------------------------------------
// DPoP proofs made by hand (jose), for what the library never sends: replays, other URLs

async function rawProof({ privateKey, publicKey }, htu) {
  return new jose.SignJWT({ htm: 'POST', htu, jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000) })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await jose.exportJWK(publicKey) })
    .sign(privateKey);
}

/** client_credentials as the basic client with this DPoP proof: status, JSON body, DPoP-Nonce. */
async function rawClientCredentials(tokenEndpoint, proof) {
  const credentials = `${encodeURIComponent(BASIC.id)}:${encodeURIComponent(BASIC.secret)}`;
  const res = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(credentials).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      dpop: proof,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'urn:neoncloud:projects:read' }),
  });
  return { status: res.status, body: await res.json(), nonce: res.headers.get('dpop-nonce') };
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

  ...[['private-key-jwt', 'keys', KEYS.id], ['client-secret-jwt', 'hs', HS.id]].map(([name, kind, id]) => [`9-${name}`, async () => {
    const config = await cfg(kind);
    const tokens = await client.clientCredentialsGrant(config, { scope: 'urn:neoncloud:projects:read' });
    check(tokens.access_token && tokens.token_type?.toLowerCase() === 'bearer', 'a Bearer access token');
    // A second assertion (new jti) from the library, at the introspection endpoint.
    const info = await client.tokenIntrospection(config, tokens.access_token);
    check(info.active === true && info.client_id === id, 'introspection: active, client_id');
    return `${name.replaceAll('-', '_')}: client_credentials token issued, introspection (another assertion) active client_id=${info.client_id}`;
  }]),

  ['9-request-object', async () => {
    // buildAuthorizationUrlWithJAR: the whole request as a JWT signed with the client's key,
    // then the code exchanged with private_key_jwt.
    const config = await cfg('keys');
    const key = { key: await jose.importPKCS8(KEYS.pem, 'ES256'), kid: KEYS.kid };
    let sent;
    const a = await authorize(config, 'openid', {
      build: async (c, parameters) => {
        sent = await client.buildAuthorizationUrlWithJAR(c, parameters, key);
        return sent;
      },
    });
    const query = [...sent.searchParams.keys()].sort().join(',');
    check(query === 'client_id,request', `only client_id and request in the URL (got ${query})`);
    const tokens = await client.authorizationCodeGrant(config, a.callback, a.checks);
    const claims = tokens.claims();
    check(claims?.aud === KEYS.id || claims?.aud?.includes?.(KEYS.id), 'an ID token for the client');
    return `authorization URL carries only client_id and request (ES256); code exchanged with private_key_jwt; ${describeIdToken(claims)}`;
  }],

  ['9-client-assertion-replayed', async () => {
    // openid-client makes a fresh assertion per request, so the replay is sent over raw HTTP,
    // with an assertion signed by jose (the library openid-client itself signs with).
    const config = await cfg('keys');
    const tokenEndpoint = config.serverMetadata().token_endpoint;
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new jose.SignJWT({ jti: client.randomState() })
      .setProtectedHeader({ alg: 'ES256', kid: KEYS.kid })
      .setIssuer(KEYS.id).setSubject(KEYS.id).setAudience(ISSUER)
      .setIssuedAt(now).setExpirationTime(now + 60)
      .sign(await jose.importPKCS8(KEYS.pem, 'ES256'));
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    });
    const post = () => fetch(tokenEndpoint, { method: 'POST', body });
    const first = await post();
    check(first.status === 200, `the first use answers 200 (got ${first.status})`);
    const second = await post();
    const answer = await second.json();
    check(second.status === 401 && answer.error === 'invalid_client',
      `the replay answers 401 invalid_client (got ${second.status} ${answer.error})`);
    return `raw HTTP (jose-signed assertion): first 200, replay ${second.status} ${answer.error}: ${answer.error_description}`;
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

  // DPoP (RFC 9449): the library's own DPoP handle signs every proof (`getDPoPHandle`).
  ['10-dpop-code-refresh-userinfo', async () => {
    const config = await cfg('public');
    check(config.serverMetadata().dpop_signing_alg_values_supported?.includes('ES256'), 'ES256 advertised for DPoP');
    const keyPair = await client.randomDPoPKeyPair('ES256');
    const DPoP = client.getDPoPHandle(config, keyPair);
    const a = await authorize(config, 'openid profile offline_access');
    const tokens = await client.authorizationCodeGrant(config, a.callback, a.checks, undefined, { DPoP });
    check(tokens.token_type?.toLowerCase() === 'dpop', `token_type DPoP (${tokens.token_type})`);
    check(tokens.refresh_token, 'a refresh token');
    const sub = tokens.claims().sub;
    const info = await client.fetchUserInfo(config, tokens.access_token, sub, { DPoP });
    check(info.sub === sub, 'userinfo with the DPoP scheme');
    const second = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
    check(second.token_type?.toLowerCase() === 'dpop', 'the refreshed access token is DPoP-bound');
    check(second.refresh_token && second.refresh_token !== tokens.refresh_token, 'rotation');
    const again = await client.fetchUserInfo(config, second.access_token, sub, { DPoP });
    check(again.sub === sub, 'userinfo with the refreshed token');
    return `code → DPoP tokens; userinfo (DPoP scheme) sub matches; refresh with the same key → DPoP token, userinfo ok`;
  }],

  ['10-dpop-confidential-introspect', async () => {
    const config = await cfg('basic');
    const keyPair = await client.randomDPoPKeyPair('ES256');
    const DPoP = client.getDPoPHandle(config, keyPair);
    const jkt = await jose.calculateJwkThumbprint(await jose.exportJWK(keyPair.publicKey), 'sha256');
    const a = await authorize(config, 'openid offline_access urn:neoncloud:projects:read');
    const tokens = await client.authorizationCodeGrant(config, a.callback, a.checks, undefined, { DPoP });
    check(tokens.token_type?.toLowerCase() === 'dpop', 'token_type DPoP');
    const info = await client.tokenIntrospection(config, tokens.access_token);
    check(info.active === true, 'active');
    check(info.token_type === 'DPoP', `introspection token_type DPoP (${info.token_type})`);
    check(info.cnf?.jkt === jkt, `introspection cnf.jkt is the key's RFC 7638 thumbprint (${info.cnf?.jkt})`);
    // RFC 9449 §5: a confidential client's refresh token is not bound; a refresh without a
    // proof gives a bearer token.
    const plain = await client.refreshTokenGrant(config, tokens.refresh_token);
    check(plain.token_type?.toLowerCase() === 'bearer', `refresh without a proof: Bearer (${plain.token_type})`);
    const plainInfo = await client.tokenIntrospection(config, plain.access_token);
    check(plainInfo.active === true && !plainInfo.cnf, 'the bearer token has no cnf');
    return `introspection: token_type=${info.token_type}, cnf.jkt matches; refresh without a proof → Bearer`;
  }],

  ['10-dpop-nonce-retry', async () => {
    // The short-code instance requires DPoP nonces: a proof without one is answered
    // use_dpop_nonce with a DPoP-Nonce header (seen here first by hand), and the library
    // retries with it on its own.
    const config = await configure(SHORT_ISSUER, BASIC.id, client.ClientSecretBasic(BASIC.secret), BASIC.secret);
    const htu = config.serverMetadata().token_endpoint;
    const raw = await rawClientCredentials(htu, await rawProof(await jose.generateKeyPair('ES256'), htu));
    check(raw.status === 400 && raw.body.error === 'use_dpop_nonce', `without a nonce: HTTP ${raw.status} ${raw.body.error}`);
    check(raw.nonce, 'a DPoP-Nonce header');
    const keyPair = await client.randomDPoPKeyPair('ES256');
    const DPoP = client.getDPoPHandle(config, keyPair);
    const jkt = await jose.calculateJwkThumbprint(await jose.exportJWK(keyPair.publicKey), 'sha256');
    const tokens = await client.clientCredentialsGrant(config, { scope: 'urn:neoncloud:projects:read' }, { DPoP });
    check(tokens.token_type?.toLowerCase() === 'dpop', 'token_type DPoP');
    const info = await client.tokenIntrospection(config, tokens.access_token);
    check(info.cnf?.jkt === jkt, 'introspection cnf.jkt');
    // The handle keeps the nonce: the next request needs no retry.
    const next = await client.clientCredentialsGrant(config, { scope: 'urn:neoncloud:projects:read' }, { DPoP });
    check(next.token_type?.toLowerCase() === 'dpop', 'second request with the cached nonce');
    return `without a nonce: ${raw.status} use_dpop_nonce + DPoP-Nonce; the library retried with it; cnf.jkt matches`;
  }],

  ['10-dpop-proof-replayed', async () => {
    // A proof captured on the wire and sent again is refused (jti spent once, across replicas).
    const config = await cfg('basic');
    const htu = config.serverMetadata().token_endpoint;
    const keys = await jose.generateKeyPair('ES256');
    const proof = await rawProof(keys, htu);
    const first = await rawClientCredentials(htu, proof);
    check(first.status === 200, `first use: HTTP ${first.status}`);
    check(first.body.token_type === 'DPoP', 'first use: token_type DPoP');
    const replay = await rawClientCredentials(htu, proof);
    check(replay.status === 400 && replay.body.error === 'invalid_dpop_proof', `replay: HTTP ${replay.status} ${replay.body.error}`);
    // A fresh proof made for another URL is refused as well.
    const other = await rawClientCredentials(htu, await rawProof(keys, htu.replace('/oauth2/token', '/oauth2/revoke')));
    check(other.status === 400 && other.body.error === 'invalid_dpop_proof', `another htu: HTTP ${other.status} ${other.body.error}`);
    return `first use 200 DPoP; replay → ${replay.status} ${replay.body.error}; another htu → ${other.status} ${other.body.error}`;
  }],

  ['10-dpop-bound-token-misused', async () => {
    const config = await cfg('public');
    const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
    const thief = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
    const a = await authorize(config, 'openid offline_access');
    const tokens = await client.authorizationCodeGrant(config, a.callback, a.checks, undefined, { DPoP });
    const sub = tokens.claims().sub;
    // The bound access token presented as a bearer token.
    const e1 = await expectError(() => client.fetchUserInfo(config, tokens.access_token, sub), 'userinfo with a DPoP-bound token as Bearer');
    if (!(e1 instanceof client.WWWAuthenticateChallengeError)) {
      throw new Error(`bearer: expected WWWAuthenticateChallengeError, got ${describe(e1)}`);
    }
    check(e1.cause.some((c) => c.scheme === 'bearer' && c.parameters.error === 'invalid_token'), `bearer: invalid_token (${JSON.stringify(e1.cause)})`);
    // The public client's bound refresh token with another key.
    const e2 = await expectError(() => client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP: thief }), 'refresh with another DPoP key');
    const msg2 = expectBodyError(e2, 'invalid_grant');
    // Its holder still refreshes.
    const ok = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
    check(ok.token_type?.toLowerCase() === 'dpop', 'the key holder refreshes');
    return `as Bearer at userinfo: 401 invalid_token; refresh with another key: ${msg2}; the holder refreshes`;
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

  ['12-dynamic-registration', async () => {
    const meta = (await cfg('public')).serverMetadata();
    check(meta.registration_endpoint === `${ISSUER}/oauth2/register`, `registration_endpoint in discovery (${meta.registration_endpoint})`);
    const config = await registerClient(REGISTERED_APP);
    const m = config.clientMetadata();
    check(m.client_id && m.client_id !== PUBLIC_ID, 'a client_id chosen by the server');
    check(!m.client_secret, 'a public client gets no secret');
    check(typeof m.registration_access_token === 'string' && m.registration_access_token.length >= 43, 'a registration_access_token');
    check(m.registration_client_uri === `${ISSUER}/oauth2/register/${m.client_id}`, `registration_client_uri (${m.registration_client_uri})`);
    check(m.scope === REGISTERED_APP.scope && m.skip_consent === false, 'the registered metadata is echoed');
    const { tokens, checks } = await codeFlow(config, 'openid offline_access profile email');
    const claims = tokens.claims();
    check(claims.aud === m.client_id || claims.aud?.includes?.(m.client_id), 'ID token aud is the new client');
    check(claims.nonce === checks.expectedNonce, 'ID token nonce');
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    check(info.email === USER_EMAIL, 'userinfo email');
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    check(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'refresh rotates');
    return `registered ${m.client_id.slice(0, 8)}… (none); code flow with consent, ${describeIdToken(claims)}; userinfo and refresh ok`;
  }],

  ['12-registration-management', async () => {
    const mine = (await registerClient(REGISTERED_APP)).clientMetadata();
    const other = (await registerClient({ ...REGISTERED_APP, client_name: 'Another app' })).clientMetadata();
    const uri = mine.registration_client_uri;
    const read = await registration('GET', uri, mine.registration_access_token);
    check(read.status === 200, `GET: HTTP ${read.status} ${JSON.stringify(read.body)}`);
    check(read.body.client_id === mine.client_id && read.body.client_name === REGISTERED_APP.client_name, 'GET answers the registration');
    check(!('registration_access_token' in read.body) && !('client_secret' in read.body), 'GET shows no token or secret');
    const put = await registration('PUT', uri, mine.registration_access_token,
      { ...read.body, client_name: 'Renamed app', scope: 'openid profile' });
    check(put.status === 200, `PUT: HTTP ${put.status} ${JSON.stringify(put.body)}`);
    check(put.body.client_name === 'Renamed app' && put.body.scope === 'openid profile', 'PUT replaced the metadata');
    const smuggled = await registration('PUT', uri, mine.registration_access_token, { ...read.body, skip_consent: true });
    check(smuggled.status === 400 && smuggled.body.error === 'invalid_client_metadata', `PUT with skip_consent: ${smuggled.status} ${smuggled.body?.error}`);
    for (const [what, token] of [['another client\'s token', other.registration_access_token], ['the initial access token', REGISTRATION_TOKEN], ['no token', undefined]]) {
      for (const method of ['GET', 'DELETE']) {
        const r = await registration(method, uri, token);
        check(r.status === 401 && r.body?.error === 'invalid_token', `${method} with ${what}: ${r.status} ${r.body?.error}`);
        check(/^Bearer/i.test(r.headers.get('www-authenticate') ?? ''), `${method} with ${what}: a Bearer challenge`);
      }
    }
    const deleted = await registration('DELETE', uri, mine.registration_access_token);
    check(deleted.status === 204, `DELETE: HTTP ${deleted.status}`);
    const after = await registration('GET', uri, mine.registration_access_token);
    check(after.status === 401, `GET after DELETE: HTTP ${after.status}`);
    const cleanup = await registration('DELETE', other.registration_client_uri, other.registration_access_token);
    check(cleanup.status === 204, `DELETE of the other client: HTTP ${cleanup.status}`);
    return 'GET 200, PUT 200 (renamed), PUT skip_consent 400 invalid_client_metadata, other/initial/no token 401 invalid_token, DELETE 204, then 401';
  }],

  ['12-registration-refused', async () => {
    const anonymous = await expectError(() => registerClient(REGISTERED_APP, null), 'registration without an initial access token');
    if (!(anonymous instanceof client.WWWAuthenticateChallengeError)) {
      throw new Error(`expected WWWAuthenticateChallengeError, got ${describe(anonymous)}`);
    }
    check(anonymous.status === 401, 'HTTP 401 without a token');
    const wrong = await expectError(() => registerClient(REGISTERED_APP, 'not-a-token'), 'registration with a wrong token');
    check(wrong instanceof client.WWWAuthenticateChallengeError && wrong.status === 401, `a wrong token: ${describe(wrong)}`);
    const refused = [];
    for (const [what, metadata, code] of [
      ['an API scope', { ...REGISTERED_APP, scope: 'openid urn:neoncloud:billing:admin' }, 'invalid_client_metadata'],
      ['client_credentials', { grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic', scope: 'openid' }, 'invalid_client_metadata'],
      ['skip_consent', { ...REGISTERED_APP, skip_consent: true }, 'invalid_client_metadata'],
      ['owner', { ...REGISTERED_APP, owner: 'someone-else' }, 'invalid_client_metadata'],
      ['a plain http redirect URI', { ...REGISTERED_APP, redirect_uris: ['http://app.example.com/callback'] }, 'invalid_redirect_uri'],
    ]) {
      const e = await expectError(() => registerClient(metadata), `registration with ${what}`);
      expectBodyError(e, code);
      refused.push(`${what}: ${code}`);
    }
    return `no/wrong token: 401 challenge; ${refused.join('; ')}`;
  }],
];

scenarios.push(
  ['13-par', async () => {
    const config = await cfg('basic');
    const meta = config.serverMetadata();
    check(meta.pushed_authorization_request_endpoint === `${ISSUER}/oauth2/par`, 'PAR endpoint advertised');
    const { request, checks, url } = await authorizeWith(config, 'openid urn:neoncloud:projects:read', {}, { par: true });
    const names = [...url.searchParams.keys()].sort();
    check(JSON.stringify(names) === JSON.stringify(['client_id', 'request_uri']), `the browser saw only client_id and request_uri (${names.join(',')})`);
    check(url.searchParams.get('request_uri').startsWith('urn:ietf:params:oauth:request_uri:'), 'a request_uri URN');
    const tokens = await client.authorizationCodeGrant(config, request, checks);
    check(tokens.claims().nonce === checks.expectedNonce, 'ID token nonce from the pushed request');
    // The request URI is single use.
    const again = await fetch(url, { redirect: 'manual' });
    const body = await again.text();
    check(again.status === 400 && body.includes('invalid_request_uri'), `a reused request_uri is refused (HTTP ${again.status})`);
    return `buildAuthorizationUrlWithPAR → ${names.join('&')} → code → tokens; reuse → HTTP 400 invalid_request_uri`;
  }],

  ['13-form-post', async () => {
    const config = await cfg('public');
    const meta = config.serverMetadata();
    check(meta.response_modes_supported?.includes('form_post'), 'form_post advertised');
    const { request, checks } = await authorizeWith(config, 'openid profile', { response_mode: 'form_post' });
    check(request.method === 'POST', `the response arrived as a POST (${request.method})`);
    check(new URL(request.url).search === '', 'nothing in the callback URL');
    const tokens = await client.authorizationCodeGrant(config, request, checks);
    check(tokens.claims().nonce === checks.expectedNonce, 'ID token nonce');
    return 'response_mode=form_post: code, state and iss posted to the callback; tokens issued';
  }],

  ['13-resource-indicator', async () => {
    const config = await cfg('basic');
    const resource = 'https://api.neoncloud.example/projects';
    const { request, checks } = await authorizeWith(config, 'openid urn:neoncloud:projects:read', { resource });
    const tokens = await client.authorizationCodeGrant(config, request, checks, { resource });
    const info = await client.tokenIntrospection(config, tokens.access_token);
    const aud = Array.isArray(info.aud) ? info.aud : [info.aud];
    check(info.active === true && aud.length === 1 && aud[0] === resource, `introspection aud is the resource (${JSON.stringify(info.aud)})`);
    // A resource the client is not registered for.
    const denied = await authorizeWith(config, 'openid', { resource: 'https://api.neoncloud.example/billing' });
    const e = await expectError(() => client.authorizationCodeGrant(config, denied.request, denied.checks), 'a callback for a resource not allowed');
    if (!(e instanceof client.AuthorizationResponseError)) {
      throw new Error(`expected AuthorizationResponseError, got ${describe(e)}`);
    }
    check(e.error === 'invalid_target', `error === 'invalid_target' (got '${e.error}')`);
    return `aud=${JSON.stringify(info.aud)}; a resource not allowed → AuthorizationResponseError error=${e.error}`;
  }],

  ['15-custom-claim', async () => {
    const config = await cfg('public');
    const meta = config.serverMetadata();
    check(meta.claims_parameter_supported === true, 'claims_parameter_supported');
    check(meta.claims_supported?.includes('patreon'), 'patreon in claims_supported');
    // The scope releases the claim into userinfo; the claims parameter asks for it in the ID token.
    const claimsParam = JSON.stringify({ id_token: { patreon: { essential: true } } });
    const { request, checks } = await authorizeWith(config, 'openid patreon', { claims: claimsParam });
    const tokens = await client.authorizationCodeGrant(config, request, checks);
    const claims = tokens.claims();
    const same = (v) => isDeepStrictEqual(v, PATREON);
    check(same(claims.patreon), `ID token patreon (${JSON.stringify(claims.patreon)})`);
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    check(same(info.patreon), `userinfo patreon (${JSON.stringify(info.patreon)})`);
    check(info.sub === claims.sub, 'userinfo sub is the ID token sub');
    // Without the scope, nothing, whatever the claims parameter asks.
    const without = await authorizeWith(config, 'openid profile', { claims: claimsParam });
    const plain = await client.authorizationCodeGrant(config, without.request, without.checks);
    check(plain.claims().patreon === undefined, 'no patreon in the ID token without the scope');
    const plainInfo = await client.fetchUserInfo(config, plain.access_token, plain.claims().sub);
    check(plainInfo.patreon === undefined, 'no patreon in userinfo without the scope');
    return `patreon=${JSON.stringify(claims.patreon)} in the ID token (claims parameter) and userinfo; absent without the scope`;
  }],
);

// ------------------------------------------------------------------------------------------
// deployment X: login, consent and logout by the external app (python/login_app.py, written
// with Ory's SDK); the browser follows its redirects, and the client's login_hint stands for
// the user's choice there (see login_app.py)

const REJECT_DESCRIPTION = {
  login: 'The user refused to sign in at the external login app.',
  consent: 'The user denied access at the external consent app.',
};

async function loginAppEvents(hint) {
  const res = await fetch(`${env('INTEROP_LOGIN_APP_URL')}/events`);
  check(res.status === 200, `the login app's /events answered ${res.status}`);
  const events = await res.json();
  return hint === undefined ? events : events.filter((e) => e.login_hint === hint);
}

/** No remembered consent (it is the user's, not the browser's): each scenario starts clean. */
async function loginAppReset() {
  const res = await fetch(`${env('INTEROP_LOGIN_APP_URL')}/reset`);
  const text = await res.text();
  check(res.status === 200, `the login app's /reset: HTTP ${res.status} ${text.slice(0, 300)}`);
}

function steps(events) {
  return events.map((e) => `${e.step}:${e.decision ?? 'error'}${e.error ? `(${e.error.slice(0, 120)})` : ''}`).join(',');
}

/** The public client's authorization (PKCE S256, state, nonce) with login_hint `hint`. */
function externalAuthorize(config, hint, { browser, scope = 'openid profile', extra = {} } = {}) {
  return authorize(config, scope, { browser, extra: { login_hint: hint, ...extra } });
}

function newHint(decision) {
  return `${decision}-${crypto.randomUUID().slice(0, 12)}`;
}

scenarios.push(
  ['14-external-login-consent', async () => {
    await loginAppReset();
    const config = await cfg('public');
    const hint = newHint('accept');
    const a = await externalAuthorize(config, hint, { scope: 'openid profile offline_access' });
    const tokens = await client.authorizationCodeGrant(config, a.callback, a.checks);
    const claims = tokens.claims();
    const events = await loginAppEvents(hint);
    check(events.map((e) => e.step).join() === 'login,consent', `the app saw one login and one consent request (${steps(events)})`);
    const [login, consent] = events;
    check(login.skip === false && consent.skip === false, 'no skip the first time');
    check(login.client_id === PUBLIC_ID, `login request client_id (${login.client_id})`);
    check([...(consent.requested_scope ?? [])].sort().join(' ') === 'offline_access openid profile', `consent requested_scope (${consent.requested_scope})`);
    check(consent.subject === env('INTEROP_EXTERNAL_SUBJECT'), `consent subject is the one the login accepted (${consent.subject})`);
    check(claims.sub === env('INTEROP_EXTERNAL_SUBJECT'), `ID token sub (${claims.sub})`);
    check(claims.nonce === a.checks.expectedNonce, 'ID token nonce');
    check(claims.patreon_tier === 'gold', `ID token patreon_tier from session.id_token (${JSON.stringify(claims.patreon_tier)})`);
    check(tokens.scope?.split(' ').sort().join(' ') === 'offline_access openid profile', `granted scope (${tokens.scope})`);
    check(tokens.refresh_token, 'a refresh token (offline_access granted)');
    return `login + consent accepted with the Ory SDK; ${describeIdToken(claims)}, patreon_tier=${claims.patreon_tier}`;
  }],

  ['14-external-remember-skip', async () => {
    await loginAppReset();
    const config = await cfg('public');
    const browser = new Browser();
    const hint = newHint('accept');
    const first = await externalAuthorize(config, hint, { browser });
    await client.authorizationCodeGrant(config, first.callback, first.checks);
    const second = await externalAuthorize(config, hint, { browser });
    const tokens = await client.authorizationCodeGrant(config, second.callback, second.checks);
    const claims = tokens.claims();
    const events = (await loginAppEvents(hint)).filter((e) => 'skip' in e);
    const seen = events.map((e) => `${e.step} skip=${e.skip}`).join(', ');
    check(seen === 'login skip=false, consent skip=false, login skip=true, consent skip=true', `the app saw login and consent, then both again with skip: true (${seen})`);
    check(events[2].subject === env('INTEROP_EXTERNAL_SUBJECT'), `the skipped login names the remembered subject (${events[2].subject})`);
    check(claims.sub === env('INTEROP_EXTERNAL_SUBJECT') && claims.patreon_tier === 'gold', 'second ID token: sub and patreon_tier');
    return `second authorization: login skip=true (subject ${events[2].subject}), consent skip=true, accepted without asking; ${describeIdToken(claims)}`;
  }],

  ...['login', 'consent'].map((step) => [`14-external-${step}-rejected`, async () => {
    await loginAppReset();
    const config = await cfg('public');
    const hint = newHint(`reject-${step}`);
    const a = await externalAuthorize(config, hint);
    const e = await expectError(() => client.authorizationCodeGrant(config, a.callback, a.checks), `a callback after the app rejected the ${step}`);
    if (!(e instanceof client.AuthorizationResponseError)) {
      throw new Error(`expected AuthorizationResponseError, got ${describe(e)}`);
    }
    check(e.error === 'access_denied', `error === 'access_denied' (got '${e.error}')`);
    check(e.error_description === REJECT_DESCRIPTION[step], `error_description is the app's (${JSON.stringify(e.error_description)})`);
    check(!a.callback.searchParams.has('code'), 'no code in the callback');
    const events = await loginAppEvents(hint);
    const want = step === 'login' ? 'login' : 'login,consent';
    check(events.map((x) => x.step).join() === want && events.at(-1).decision === 'reject', `the app saw ${want} (${steps(events)})`);
    return `${step} rejected with the Ory SDK → AuthorizationResponseError error=${e.error} ${JSON.stringify(e.error_description)} (state and iss checked by the library)`;
  }]),

  ['14-external-logout', async () => {
    await loginAppReset();
    const config = await cfg('public');
    const browser = new Browser();
    const hint = newHint('accept');
    const a = await externalAuthorize(config, hint, { browser });
    const tokens = await client.authorizationCodeGrant(config, a.callback, a.checks);
    const claims = tokens.claims();
    // Before logout: the remembered session answers prompt=none.
    const before = await externalAuthorize(config, hint, { browser, extra: { prompt: 'none' } });
    check(before.callback.searchParams.has('code'), `prompt=none before logout gives a code (${before.callback.search})`);
    // RP-initiated logout, the URL built by the library; the browser follows the redirects
    // through the app's logout challenge back to post_logout_redirect_uri.
    const back = env('INTEROP_POST_LOGOUT_URI');
    const state = client.randomState();
    let url = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token, post_logout_redirect_uri: back, state });
    const seenBefore = (await loginAppEvents()).length;
    const hops = [];
    for (let hop = 0; hop < 10 && !url.href.startsWith(back); hop++) {
      const res = await browser.fetch(url);
      const body = [302, 303].includes(res.status) ? '' : oneLine(await res.text()).slice(0, 200);
      check([302, 303].includes(res.status), `logout: HTTP ${res.status} at ${url.pathname}: ${body}`);
      url = new URL(res.headers.get('location'), url);
      hops.push(`${url.origin}${url.pathname}`);
    }
    check(url.href.startsWith(back), `the browser is back at post_logout_redirect_uri (${url.href})`);
    check(url.searchParams.get('state') === state, 'post-logout redirect carries the state');
    // After: the session is gone.
    const after = await externalAuthorize(config, hint, { browser, extra: { prompt: 'none' } });
    const e = await expectError(() => client.authorizationCodeGrant(config, after.callback, after.checks), 'prompt=none after logout');
    if (!(e instanceof client.AuthorizationResponseError)) {
      throw new Error(`expected AuthorizationResponseError, got ${describe(e)}`);
    }
    check(e.error === 'login_required', `error === 'login_required' (got '${e.error}')`);
    const logout = (await loginAppEvents()).slice(seenBefore).filter((e) => e.step === 'logout');
    check(logout.length === 1 && logout[0].decision === 'accept', `the app saw one logout request and accepted it (${steps(logout)}; the browser went ${hops.join(' -> ')}; the session did end: prompt=none after: error=${e.error})`);
    check(logout[0].subject === claims.sub && logout[0].rp_initiated === true, `logout request: subject ${logout[0].subject}, rp_initiated ${logout[0].rp_initiated}`);
    return `prompt=none before: code; buildEndSessionUrl → logout challenge accepted (subject, rp_initiated), back with state; prompt=none after: error=${e.error}`;
  }],
);

console.log(`LIBRARY ${LIB} ${VERSION}`);
const only = process.env.INTEROP_ONLY;
// The scenarios of this deployment (../run sets it from scenarios.txt); all when unset.
const wanted = process.env.INTEROP_SCENARIOS === undefined ? undefined : new Set(process.env.INTEROP_SCENARIOS.split(/\s+/));
for (const [name, fn] of scenarios) {
  if (only && !name.includes(only)) continue;
  if (wanted && !wanted.has(name)) continue;
  await scenario(name, fn);
}
