// oidc-provider with its default opaque access tokens: the FHIR server
// finds the introspection endpoint in oidc-provider's metadata and asks
// it, as its own confidential client, about every token it has not seen.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startEnvironment, fhirFetch, bearerError } from '../lib/env.js';
import { clientCredentialsToken } from '../lib/authserver.js';
import { BACKEND_CLIENT, OTHER_AUDIENCE, RS_CLIENT } from '../lib/config.js';

let env;
before(async () => {
  env = await startEnvironment({
    opaque: true,
    fhirArgs: ['-tokens', 'introspect', '-introspection-client-id', RS_CLIENT.id, '-introspection-client-secret', RS_CLIENT.secret],
  });
});
after(async () => { await env?.close(); });

const introspect = async (token) => (await fetch(`${env.as.issuer}/token/introspection`, {
  method: 'POST',
  headers: {
    authorization: `Basic ${Buffer.from(`${RS_CLIENT.id}:${RS_CLIENT.secret}`).toString('base64')}`,
    'content-type': 'application/x-www-form-urlencoded',
  },
  body: new URLSearchParams({ token }),
})).json();

test('an opaque token: introspected, searches Observations, cannot create', async () => {
  const { access_token: tok } = await clientCredentialsToken(env.as.issuer, BACKEND_CLIENT, { scope: 'system/Observation.rs' });
  assert.equal(tok.split('.').length, 1, 'oidc-provider issued an opaque token');
  const answer = await introspect(tok);
  assert.equal(answer.active, true);
  assert.equal(answer.aud, env.fhirBase);
  const res = await fhirFetch(env.fhirBase, 'Observation', { token: tok });
  assert.equal(res.status, 200, res.text);
  const create = await fhirFetch(env.fhirBase, 'Observation', {
    token: tok, method: 'POST', body: { resourceType: 'Observation', status: 'final', code: { text: 'x' } },
  });
  assert.equal(create.status, 403);
  assert.equal(bearerError(create.headers.get('www-authenticate')), 'insufficient_scope');
});

test('an opaque token for another resource server: 401 invalid_token', async () => {
  const { access_token: tok } = await clientCredentialsToken(env.as.issuer, BACKEND_CLIENT, { scope: 'system/Observation.rs', resource: OTHER_AUDIENCE });
  assert.equal((await introspect(tok)).aud, OTHER_AUDIENCE);
  const res = await fhirFetch(env.fhirBase, 'Observation', { token: tok });
  assert.equal(res.status, 401);
  assert.match(res.headers.get('www-authenticate'), /error="invalid_token", error_description="token not issued for this server"/);
});

test('a token oidc-provider does not know: 401 token not active', async () => {
  const res = await fhirFetch(env.fhirBase, 'Observation', { token: crypto.randomBytes(32).toString('base64url') });
  assert.equal(res.status, 401);
  assert.match(res.headers.get('www-authenticate'), /error_description="token not active"/);
});

test('the introspection endpoint down: 503 with Retry-After, never 200', async () => {
  const { access_token: tok } = await clientCredentialsToken(env.as.issuer, BACKEND_CLIENT, { scope: 'system/Observation.rs' });
  await env.as.close();
  const res = await fhirFetch(env.fhirBase, 'Observation', { token: tok });
  assert.equal(res.status, 503, res.text);
  assert.ok(Number(res.headers.get('retry-after')) >= 1);
  assert.equal(res.json.resourceType, 'OperationOutcome');
});
