// The authorization server alone: it must issue what the other scenarios rely on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startAuthServer, clientCredentialsToken, decodePayload } from '../lib/authserver.js';
import { BACKEND_CLIENT, OTHER_AUDIENCE } from '../lib/config.js';

const FHIR = 'http://127.0.0.1:1/fhir';
let as;
before(async () => { as = await startAuthServer({ fhirBase: FHIR }); });
after(async () => { await as?.close(); });

test('discovery and JWKS are served with an RS256 key', async () => {
  const meta = await (await fetch(`${as.issuer}/.well-known/openid-configuration`)).json();
  assert.equal(meta.issuer, as.issuer);
  assert.ok(meta.code_challenge_methods_supported.includes('S256'));
  assert.ok(!meta.code_challenge_methods_supported.includes('plain'));
  const jwks = await (await fetch(meta.jwks_uri)).json();
  assert.deepEqual(jwks.keys.map((k) => k.kid), [as.key.kid]);
  assert.equal(jwks.keys[0].kty, 'RSA');
});

test('client_credentials gives a JWT for the FHIR base with the SMART scope', async () => {
  const tok = await clientCredentialsToken(as.issuer, BACKEND_CLIENT, { scope: 'system/Observation.rs' });
  assert.equal(tok.token_type.toLowerCase(), 'bearer');
  assert.equal(tok.scope, 'system/Observation.rs');
  const header = JSON.parse(Buffer.from(tok.access_token.split('.')[0], 'base64url'));
  assert.equal(header.alg, 'RS256');
  assert.equal(header.kid, as.key.kid);
  const claims = decodePayload(tok.access_token);
  assert.equal(claims.iss, as.issuer);
  assert.equal(claims.aud, FHIR);
  assert.equal(claims.scope, 'system/Observation.rs');
  assert.equal(claims.client_id, BACKEND_CLIENT.id);
  assert.ok(claims.exp > claims.iat);
});

test('a token for another resource carries that audience', async () => {
  const tok = await clientCredentialsToken(as.issuer, BACKEND_CLIENT, { scope: 'system/Observation.rs', resource: OTHER_AUDIENCE });
  assert.equal(decodePayload(tok.access_token).aud, OTHER_AUDIENCE);
});

test('restart publishes a new key only', async () => {
  const old = as.key.kid;
  await as.restart();
  assert.notEqual(as.key.kid, old);
  const jwks = await (await fetch(`${as.issuer}/jwks`)).json();
  assert.deepEqual(jwks.keys.map((k) => k.kid), [as.key.kid]);
  const tok = await clientCredentialsToken(as.issuer, BACKEND_CLIENT, { scope: 'system/Observation.rs' });
  assert.equal(JSON.parse(Buffer.from(tok.access_token.split('.')[0], 'base64url')).kid, as.key.kid);
});
