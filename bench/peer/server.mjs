// The benchmark's reference peer: node-oidc-provider configured like the Gatehouse it is compared
// with (bench/run sets both up):
//
// - in-memory storage (the provider's own memory adapter), opaque access tokens by default;
// - `bench-confidential`: client_secret_basic, client_credentials;
// - `bench-pkjwt`: private_key_jwt with the ES256 public key in the JWK Set file
//   PEER_PKJWT_JWKS (written by `gatehouse-bench keygen`), client_credentials;
// - `bench-flow`: a public client (token_endpoint_auth_method none) with PKCE S256, redirect URI
//   http://127.0.0.1/callback (loopback, any port), authorization_code;
// - JWT access tokens through RFC 8707 resource indicators, one resource per algorithm
//   (https://api.bench.invalid/rs256, /es256, /eddsa), like Gatehouse's JWT client per process;
// - a login page with a form (username, password, csrf_token) whose POST logs the user in and
//   consents at once (auto-consent, like Gatehouse's skip_consent client). User `bench` is
//   compared with a plain constant-time check (the auto-login the targets are set against); user `bench-argon2`
//   is checked against an argon2id hash with Gatehouse's parameters (m=19456 KiB, t=2, p=1), for
//   an equal-work comparison of the login;
// - lifetimes as Gatehouse's defaults: access and ID tokens 1 h, codes 10 min.
//
// Environment: PEER_PORT (default 13000). Listens on 127.0.0.1 only.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';

import { hash as argon2Hash, verify as argon2Verify, Algorithm } from '@node-rs/argon2';
import Provider from 'oidc-provider';

const port = Number(process.env.PEER_PORT || 13000);
const issuer = `http://127.0.0.1:${port}`;

const CONFIDENTIAL_ID = 'bench-confidential';
const CONFIDENTIAL_SECRET = 'bench-confidential-secret-0123456789abcdefghijklmnop';
const FLOW_ID = 'bench-flow';
const REDIRECT_URI = 'http://127.0.0.1/callback';
const PASSWORD = 'bench-password-0123456789';
const ARGON2 = { algorithm: Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 };

function signingKey(alg) {
  const pair = alg === 'RS256'
    ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    : alg === 'ES256'
      ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : crypto.generateKeyPairSync('ed25519');
  const jwk = pair.privateKey.export({ format: 'jwk' });
  return { ...jwk, alg, use: 'sig', kid: `bench-${alg.toLowerCase()}` };
}

const RESOURCES = {
  'https://api.bench.invalid/rs256': 'RS256',
  'https://api.bench.invalid/es256': 'ES256',
  'https://api.bench.invalid/eddsa': 'EdDSA',
};

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: CONFIDENTIAL_ID,
      client_secret: CONFIDENTIAL_SECRET,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
    ...(process.env.PEER_PKJWT_JWKS ? [{
      client_id: 'bench-pkjwt',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: JSON.parse(fs.readFileSync(process.env.PEER_PKJWT_JWKS, 'utf8')),
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    }] : []),
    {
      client_id: FLOW_ID,
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [REDIRECT_URI],
    },
  ],
  jwks: { keys: ['RS256', 'ES256', 'EdDSA'].map(signingKey) },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => undefined,
      useGrantedResource: async () => false,
      getResourceServerInfo: async (_ctx, resource) => {
        const alg = RESOURCES[resource];
        if (!alg) throw new Provider.errors.InvalidTarget();
        return {
          scope: 'api',
          audience: resource,
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg } },
        };
      },
    },
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, sub) {
    return { accountId: sub, async claims() { return { sub }; } };
  },
  ttl: {
    AccessToken: 3600,
    ClientCredentials: 3600,
    AuthorizationCode: 600,
    IdToken: 3600,
    Interaction: 600,
    Session: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
  },
});

const csrfKey = crypto.randomBytes(32);
const csrfFor = (uid) => crypto.createHmac('sha256', csrfKey).update(uid).digest('base64url');
const sameText = (a, b) => {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && crypto.timingSafeEqual(x, y);
};

// Made once, after the listener is up, so it does not count towards start-up.
let argon2Phc;
const argon2PhcReady = () => {
  argon2Phc ??= argon2Hash(PASSWORD, ARGON2);
  return argon2Phc;
};

async function checkPassword(username, password) {
  if (username === 'bench') return sameText(password, PASSWORD);
  if (username === 'bench-argon2') return argon2Verify(await argon2PhcReady(), String(password));
  return false;
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid, error) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head><body>
<h1>Sign in</h1>${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<input type="hidden" name="csrf_token" value="${escape(csrfFor(uid))}">
<label>Username <input type="text" name="username" autocomplete="username"></label>
<label>Password <input type="password" name="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button>
</form></body></html>`;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 64 * 1024) reject(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, type, body) {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}

// GET /interaction/:uid (the login page) and POST /interaction/:uid/login (login + consent).
async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, 'text/plain', 'interaction mismatch');
  if (req.method === 'GET' && !action) {
    return send(res, 200, 'text/html; charset=utf-8', loginPage(uid));
  }
  if (req.method !== 'POST' || action !== 'login') return send(res, 405, 'text/plain', 'method not allowed');
  const form = new URLSearchParams(await readBody(req));
  if (!sameText(form.get('csrf_token') ?? '', csrfFor(uid))) {
    return send(res, 403, 'text/plain', 'bad csrf token');
  }
  const username = form.get('username') ?? '';
  if (!(await checkPassword(username, form.get('password') ?? ''))) {
    return send(res, 401, 'text/html; charset=utf-8', loginPage(uid, 'Wrong username or password.'));
  }
  // Auto-consent: grant what was asked, as Gatehouse does for a skip_consent client.
  const grant = new provider.Grant({ accountId: username, clientId: details.params.client_id });
  if (details.params.scope) grant.addOIDCScope(String(details.params.scope));
  const grantId = await grant.save();
  return provider.interactionFinished(
    req,
    res,
    { login: { accountId: username }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/health/ready') return send(res, 200, 'application/json', '{"status":"ok"}');
  const m = path.match(/^\/interaction\/([^/]+)(?:\/([a-z]+))?$/);
  if (m) {
    interaction(req, res, m[1], m[2]).catch((err) => {
      if (!res.headersSent) send(res, 500, 'text/plain', String(err?.message ?? err));
    });
    return undefined;
  }
  return callback(req, res);
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`peer listening on ${issuer}\n`);
  argon2PhcReady();
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
