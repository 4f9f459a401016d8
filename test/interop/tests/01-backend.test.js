// Scenario 1: a SMART Backend Services client (client_credentials, JWT
// access token from oidc-provider) reads but cannot write Observations.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEnvironment, fhirFetch, bearerError } from '../lib/env.js';
import { clientCredentialsToken } from '../lib/authserver.js';
import { BACKEND_CLIENT, PATIENT_A } from '../lib/config.js';

let env;
before(async () => { env = await startEnvironment(); });
after(async () => { await env?.close(); });

test('system/Observation.rs reads Observations', async () => {
  const { access_token: token } = await clientCredentialsToken(env.as.issuer, BACKEND_CLIENT, { scope: 'system/Observation.rs' });
  const res = await fhirFetch(env.fhirBase, 'Observation', { token });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.resourceType, 'Bundle');
  assert.ok(res.json.entry?.length > 0, 'the demo store has Observations');
  assert.ok(res.json.entry.every((e) => e.resource.resourceType === 'Observation'));
});

test('system/Observation.rs cannot create an Observation (403 insufficient_scope)', async () => {
  const { access_token: token } = await clientCredentialsToken(env.as.issuer, BACKEND_CLIENT, { scope: 'system/Observation.rs' });
  const res = await fhirFetch(env.fhirBase, 'Observation', {
    token,
    method: 'POST',
    body: { resourceType: 'Observation', status: 'final', code: { text: 'interop' }, subject: { reference: `Patient/${PATIENT_A}` } },
  });
  assert.equal(res.status, 403, res.text);
  assert.equal(bearerError(res.headers.get('www-authenticate')), 'insufficient_scope');
});

test('no token: 401 with a bare Bearer challenge', async () => {
  const res = await fhirFetch(env.fhirBase, 'Observation');
  assert.equal(res.status, 401);
  const h = res.headers.get('www-authenticate');
  assert.match(h, /^Bearer\b/i);
  assert.equal(bearerError(h), undefined);
});
