// Ory Hydra v2.3.0 as a second, independent authorization server: built
// from the Go module proxy by run.sh (module test/interop/hydra) into
// .state/hydra, run on loopback with in-memory storage, configured through
// its admin API only. See INTEROP notes in README.md.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from './ports.js';
import { INTEROP_DIR } from './config.js';

const STATE_DIR = path.join(INTEROP_DIR, '.state');
export const HYDRA_BIN = process.env.INTEROP_HYDRA_BIN || path.join(STATE_DIR, 'hydra');

const children = new Set();
process.on('exit', () => { for (const c of children) { try { process.kill(-c.pid, 'SIGKILL'); } catch { /* gone */ } } });

const basic = (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function json(res, what) {
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = undefined; }
  if (res.status >= 300) throw new Error(`${what}: ${res.status} ${text.slice(0, 500)}`);
  return body;
}

// A cookie jar for the browserless login: Hydra's login and consent steps
// are tied together by CSRF cookies.
class Jar {
  constructor() { this.cookies = new Map(); }
  take(res) {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      this.cookies.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
    }
  }
  header() { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '); }
}

// startHydra starts Hydra for the FHIR base fhirBase. Access tokens are
// JWTs unless a client asks for opaque ones (access_token_strategy).
export async function startHydra({ fhirBase }) {
  if (!fs.existsSync(HYDRA_BIN)) {
    throw new Error(`${HYDRA_BIN} is missing: test/interop/run.sh builds it (or set INTEROP_HYDRA_BIN)`);
  }
  const [pub, adm] = [await freePort(), await freePort()];
  const issuer = `http://127.0.0.1:${pub}`;
  const admin = `http://127.0.0.1:${adm}`;
  fs.mkdirSync(STATE_DIR, { recursive: true });
  const logFile = path.join(STATE_DIR, `hydra-${pub}.log`);
  const out = fs.openSync(logFile, 'w');
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME || '/tmp',
    DSN: 'memory',
    URLS_SELF_ISSUER: issuer,
    // Nobody serves these: the tests read the challenges off the redirects.
    URLS_LOGIN: 'http://127.0.0.1:9/login',
    URLS_CONSENT: 'http://127.0.0.1:9/consent',
    SERVE_PUBLIC_HOST: '127.0.0.1',
    SERVE_PUBLIC_PORT: String(pub),
    SERVE_ADMIN_HOST: '127.0.0.1',
    SERVE_ADMIN_PORT: String(adm),
    STRATEGIES_ACCESS_TOKEN: 'jwt',
    SECRETS_SYSTEM: crypto.randomBytes(24).toString('hex'),
    LOG_LEVEL: 'warn',
  };
  const child = spawn(HYDRA_BIN, ['serve', 'all', '--dev', '--sqa-opt-out'], { env, detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  children.add(child);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) { children.delete(child); return; }
    const exited = new Promise((r) => { child.once('exit', r); });
    try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
    const t = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
    await exited;
    clearTimeout(t);
    children.delete(child);
  };
  const deadline = Date.now() + 60000;
  for (;;) {
    if (child.exitCode !== null) break;
    try {
      const [a, p] = await Promise.all([fetch(`${admin}/health/ready`), fetch(`${issuer}/.well-known/openid-configuration`)]);
      if (a.status === 200 && p.status === 200) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) break;
    await new Promise((r) => { setTimeout(r, 200); });
  }
  if (child.exitCode !== null || Date.now() > deadline) {
    await stop();
    throw new Error(`Hydra did not start:\n${fs.readFileSync(logFile, 'utf8').slice(-4000)}`);
  }

  const h = {
    issuer, admin, fhirBase, log: logFile, close: stop,

    // createClient registers an OAuth client through the admin API.
    async createClient(client) {
      return json(await fetch(`${admin}/admin/clients`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(client),
      }), 'create client');
    },

    // clientCredentials asks for a token for the FHIR base.
    async clientCredentials(client, scope, { audience = fhirBase } = {}) {
      const body = new URLSearchParams({ grant_type: 'client_credentials', scope });
      if (audience) body.set('audience', audience);
      return json(await fetch(`${issuer}/oauth2/token`, {
        method: 'POST', headers: { authorization: basic(client.client_id, client.client_secret), 'content-type': 'application/x-www-form-urlencoded' }, body,
      }), 'token');
    },

    // revoke revokes a token at Hydra (RFC 7009).
    async revoke(client, token) {
      const res = await fetch(`${issuer}/oauth2/revoke`, {
        method: 'POST', headers: { authorization: basic(client.client_id, client.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }),
      });
      if (res.status !== 200) throw new Error(`revoke: ${res.status} ${await res.text()}`);
    },

    // rotateKey creates a new key for JWT access tokens: it signs at once.
    async rotateKey() {
      const set = await json(await fetch(`${admin}/admin/keys/hydra.jwt.access-token`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ alg: 'RS256', use: 'sig', kid: crypto.randomUUID() }),
      }), 'rotate key');
      return set.keys[0].kid;
    },

    // login runs an authorization-code login without a browser: the login
    // and consent requests are accepted through the admin API, the consent
    // putting the launch context into the access token's session (Hydra
    // puts it under "ext").
    async login(client, { scope, subject, accessTokenClaims }) {
      const jar = new Jar();
      const follow = async (url) => {
        const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
        jar.take(res);
        const loc = res.headers.get('location');
        if (!loc) throw new Error(`login: ${url} answered ${res.status} without a redirect: ${(await res.text()).slice(0, 300)}`);
        return new URL(loc, url);
      };
      const accept = async (kind, challenge, body) => (await json(await fetch(
        `${admin}/admin/oauth2/auth/requests/${kind}/accept?${kind}_challenge=${encodeURIComponent(challenge)}`,
        { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
      ), `${kind} accept`)).redirect_to;
      const redirectUri = client.redirect_uris[0];
      const q = new URLSearchParams({
        response_type: 'code', client_id: client.client_id, redirect_uri: redirectUri, scope,
        state: crypto.randomBytes(12).toString('hex'), audience: fhirBase,
      });
      let u = await follow(`${issuer}/oauth2/auth?${q}`);
      const loginChallenge = u.searchParams.get('login_challenge');
      if (!loginChallenge) throw new Error(`login: no login_challenge in ${u}`);
      u = await follow(await accept('login', loginChallenge, { subject }));
      const consentChallenge = u.searchParams.get('consent_challenge');
      if (!consentChallenge) throw new Error(`login: no consent_challenge in ${u}`);
      u = await follow(await accept('consent', consentChallenge, {
        grant_scope: scope.split(' '),
        grant_access_token_audience: [fhirBase],
        session: { access_token: accessTokenClaims, id_token: { fhirUser: accessTokenClaims.fhirUser } },
      }));
      const code = u.searchParams.get('code');
      if (!code) throw new Error(`login: no code in ${u}`);
      return json(await fetch(`${issuer}/oauth2/token`, {
        method: 'POST',
        headers: { authorization: basic(client.client_id, client.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri }),
      }), 'code exchange');
    },
  };
  return h;
}
