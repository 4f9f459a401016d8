// Scenario 10: FHIR Bulk Data export (Bulk Data Access IG 2.0.0) by a SMART
// Backend Services client: a client_credentials JWT from oidc-provider,
// a kick-off, polling as the IG says (Retry-After, X-Progress), the
// complete manifest, every file downloaded with the same kind of token,
// and the job deleted. A second backend client is refused the first one's
// status URL, files and cancel (404), and a request without a token 401.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEnvironment } from '../lib/env.js';
import { clientCredentialsToken } from '../lib/authserver.js';
import { BACKEND_CLIENT, SHORT_CLIENT } from '../lib/config.js';

let env;
before(async () => { env = await startEnvironment(); });
after(async () => { await env?.close(); });

// bulk sends one request of the IG's flow: the headers it asks clients to
// send, a bearer token when given.
async function bulk(url, { token, method = 'GET', accept = 'application/fhir+json', prefer, headers = {}, body } = {}) {
  const h = { accept, ...headers };
  if (prefer) h.prefer = prefer;
  if (token) h.authorization = `Bearer ${token}`;
  const res = await fetch(url, { method, headers: h, body });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

async function backendToken(client, scope) {
  return (await clientCredentialsToken(env.as.issuer, client, { scope })).access_token;
}

// poll follows the IG: GET the status URL with Accept: application/json
// until 200, waiting as Retry-After says (at most 2 s here).
async function poll(statusUrl, token) {
  for (let i = 0; i < 60; i++) {
    const res = await bulk(statusUrl, { token, accept: 'application/json' });
    if (res.status === 200) return res;
    assert.equal(res.status, 202, res.text);
    const progress = res.headers.get('x-progress');
    if (progress) assert.ok(progress.length < 100, 'X-Progress is short');
    const wait = Math.min(Number(res.headers.get('retry-after')) || 1, 2);
    await new Promise((r) => setTimeout(r, wait * 1000));
  }
  throw new Error('the export did not complete');
}

function assertOutcome(res, status) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.json?.resourceType, 'OperationOutcome', res.text);
}

test('a backend client runs an export: kick-off, poll, download, delete', async () => {
  const token = await backendToken(BACKEND_CLIENT, 'system/*.rs');
  const kickUrl = `${env.fhirBase}/$export?_type=Patient,Observation`;

  const anonymous = await bulk(kickUrl, { prefer: 'respond-async' });
  assert.equal(anonymous.status, 401, 'a kick-off without a token');

  const kick = await bulk(kickUrl, { token, prefer: 'respond-async' });
  assert.equal(kick.status, 202, kick.text);
  const statusUrl = kick.headers.get('content-location');
  assert.ok(statusUrl?.startsWith(`${env.fhirBase}/`), `an absolute status URL under the base: ${statusUrl}`);

  const done = await poll(statusUrl, token);
  assert.match(done.headers.get('content-type'), /^application\/json/);
  const m = done.json;
  for (const field of ['transactionTime', 'request', 'requiresAccessToken', 'output', 'error']) {
    assert.ok(field in m, `the manifest has ${field}`);
  }
  assert.equal(m.requiresAccessToken, true);
  assert.ok(Array.isArray(m.error));
  assert.deepEqual([...new Set(m.output.map((o) => o.type))].sort(), ['Observation', 'Patient']);
  for (const file of m.output) {
    assert.ok(file.url.startsWith(`${env.fhirBase}/`), `an absolute file URL under the base: ${file.url}`);
    const res = await bulk(file.url, { token, accept: 'application/fhir+ndjson' });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type'), /^application\/fhir\+ndjson/);
    const lines = res.text.split('\n').filter((l) => l !== '');
    assert.ok(lines.length > 0, `${file.type} has resources`);
    for (const line of lines) assert.equal(JSON.parse(line).resourceType, file.type);
    if (file.count !== undefined) assert.equal(lines.length, file.count);
    const noToken = await bulk(file.url, { accept: 'application/fhir+ndjson' });
    assert.equal(noToken.status, 401, 'a file without a token (requiresAccessToken)');
  }

  const del = await bulk(statusUrl, { token, method: 'DELETE' });
  assert.equal(del.status, 202, del.text);
  assertOutcome(await bulk(statusUrl, { token, accept: 'application/json' }), 404);
});

test("another backend client is refused the first one's job and files", async () => {
  const token = await backendToken(BACKEND_CLIENT, 'system/*.rs');
  const kick = await bulk(`${env.fhirBase}/Patient/$export`, { token, prefer: 'respond-async' });
  assert.equal(kick.status, 202, kick.text);
  const statusUrl = kick.headers.get('content-location');
  const m = (await poll(statusUrl, token)).json;
  assert.ok(m.output.length > 0);

  // The second client holds every scope the first has: only the binding
  // refuses it. Its tokens live 5 s: one per use.
  const other = () => backendToken(SHORT_CLIENT, 'system/*.rs');
  assertOutcome(await bulk(statusUrl, { token: await other(), accept: 'application/json' }), 404);
  for (const file of m.output) {
    assertOutcome(await bulk(file.url, { token: await other() }), 404);
  }
  assertOutcome(await bulk(statusUrl, { token: await other(), method: 'DELETE' }), 404);
  // Still there for its own client.
  assert.equal((await bulk(statusUrl, { token, accept: 'application/json' })).status, 200);
  const forged = statusUrl.slice(0, -4) + (statusUrl.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  assertOutcome(await bulk(forged, { token, accept: 'application/json' }), 404);
  assert.equal((await bulk(statusUrl, { token, method: 'DELETE' })).status, 202);
});

test('an export is limited to the types the scopes allow', async () => {
  const token = await backendToken(BACKEND_CLIENT, 'system/Observation.rs');
  const refused = await bulk(`${env.fhirBase}/$export?_type=Observation,Patient`, { token, prefer: 'respond-async' });
  assertOutcome(refused, 403);
  assert.match(refused.headers.get('www-authenticate'), /insufficient_scope/);

  const kick = await bulk(`${env.fhirBase}/$export`, { token, prefer: 'respond-async' });
  assert.equal(kick.status, 202, kick.text);
  const statusUrl = kick.headers.get('content-location');
  const m = (await poll(statusUrl, token)).json;
  assert.deepEqual([...new Set(m.output.map((o) => o.type))], ['Observation'], 'only the granted type');
  await bulk(statusUrl, { token, method: 'DELETE' });
});
