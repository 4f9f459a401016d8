// Scenario 2: the authorization server restarts with a new signing key while
// the FHIR server keeps running. The new kid must be fetched on demand; a
// token signed with the retired key must then be refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEnvironment, fhirFetch, bearerError } from '../lib/env.js';
import { clientCredentialsToken } from '../lib/authserver.js';
import { BACKEND_CLIENT } from '../lib/config.js';

let env;
before(async () => { env = await startEnvironment(); });
after(async () => { await env?.close(); });

const kidOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url')).kid;
const token = async () => (await clientCredentialsToken(env.as.issuer, BACKEND_CLIENT, { scope: 'system/Observation.rs' })).access_token;

test('new kid accepted without restarting the FHIR server; retired key refused', async () => {
  const used = await token();
  const unused = await token(); // signed with the old key, never shown to the FHIR server before the rotation
  assert.equal((await fhirFetch(env.fhirBase, 'Observation', { token: used })).status, 200);

  const oldKid = env.as.key.kid;
  await env.as.restart(); // new process state, new RS256 key, same issuer URL
  assert.notEqual(env.as.key.kid, oldKid);

  const fresh = await token();
  assert.equal(kidOf(fresh), env.as.key.kid);
  assert.equal(kidOf(unused), oldKid);
  // Let keyfunc's unknown-kid rate limit (set short for the tests) pass.
  await new Promise((r) => { setTimeout(r, 1100); });
  const res = await fhirFetch(env.fhirBase, 'Observation', { token: fresh });
  assert.equal(res.status, 200, `token with the new kid: ${res.status} ${res.headers.get('www-authenticate')}`);

  const old = await fhirFetch(env.fhirBase, 'Observation', { token: unused });
  assert.equal(old.status, 401, 'token signed by a key no longer published');
  assert.equal(bearerError(old.headers.get('www-authenticate')), 'invalid_token');
});
