// Scenario 4: a page on one loopback origin calls the FHIR API on another.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEnvironment, fhirFetch } from '../lib/env.js';
import { clientCredentialsToken } from '../lib/authserver.js';
import { launchBrowser } from '../lib/browser.js';
import { BACKEND_CLIENT, OTHER_AUDIENCE } from '../lib/config.js';

let env;
let browser;
before(async () => {
  env = await startEnvironment();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await env?.close();
});

// call runs fetch() inside a page served from `origin`.
async function call(origin, url, token) {
  const page = await browser.newPage();
  try {
    await page.goto(`${origin}/blank.html`);
    return await page.evaluate(async ({ url, token }) => {
      const headers = { accept: 'application/fhir+json' };
      if (token) headers.authorization = `Bearer ${token}`;
      try {
        const res = await fetch(url, { headers });
        return { status: res.status, www: res.headers.get('www-authenticate'), body: await res.text() };
      } catch (e) {
        return { blocked: true, error: String(e) };
      }
    }, { url, token });
  } finally {
    await page.close();
  }
}

test('preflight passes and a bearer request succeeds from the registered origin', async () => {
  const { access_token: token } = await clientCredentialsToken(env.as.issuer, BACKEND_CLIENT, { scope: 'system/Observation.rs' });
  const r = await call(env.app.origin, `${env.fhirBase}/Observation`, token);
  assert.equal(r.blocked, undefined, r.error);
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.body).resourceType, 'Bundle');
});

test('the preflight itself needs no token and allows Authorization', async () => {
  const res = await fetch(`${env.fhirBase}/Observation`, {
    method: 'OPTIONS',
    headers: {
      origin: env.app.origin,
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'authorization',
    },
  });
  assert.ok(res.status >= 200 && res.status < 300, `preflight status ${res.status}`);
  assert.equal(res.headers.get('access-control-allow-origin'), env.app.origin);
  assert.match(res.headers.get('access-control-allow-headers') || '', /authorization/i);
});

test('a 401 WWW-Authenticate is readable from JavaScript', async () => {
  const { access_token: wrongAud } = await clientCredentialsToken(env.as.issuer, BACKEND_CLIENT, { scope: 'system/Observation.rs', resource: OTHER_AUDIENCE });
  const r = await call(env.app.origin, `${env.fhirBase}/Observation`, wrongAud);
  assert.equal(r.blocked, undefined, r.error);
  assert.equal(r.status, 401);
  assert.match(r.www || '', /^Bearer\b.*error="invalid_token"/i);

  const none = await call(env.app.origin, `${env.fhirBase}/Observation`);
  assert.equal(none.status, 401);
  assert.match(none.www || '', /^Bearer\b/i);
});

test('the discovery document is readable from any origin; the API is not', async () => {
  const d = await call(env.app.otherOrigin, `${env.fhirBase}/.well-known/smart-configuration`);
  assert.equal(d.blocked, undefined, d.error);
  assert.equal(d.status, 200);
  const doc = JSON.parse(d.body);
  assert.equal(doc.token_endpoint, `${env.as.issuer}/token`);
  assert.ok(doc.code_challenge_methods_supported.includes('S256'));

  const { access_token: token } = await clientCredentialsToken(env.as.issuer, BACKEND_CLIENT, { scope: 'system/Observation.rs' });
  const api = await call(env.app.otherOrigin, `${env.fhirBase}/Observation`, token);
  assert.equal(api.blocked, true, 'an unregistered origin must not read the FHIR API');

  // Node (no CORS) sees the same document.
  const n = await fhirFetch(env.fhirBase, '.well-known/smart-configuration');
  assert.match(n.headers.get('content-type'), /^application\/json/);
});
