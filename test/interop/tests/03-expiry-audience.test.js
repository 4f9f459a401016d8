// Scenario 3: tokens that are genuine but not for us, or no longer valid.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEnvironment, fhirFetch, bearerError } from '../lib/env.js';
import { clientCredentialsToken, decodePayload } from '../lib/authserver.js';
import {
  BACKEND_CLIENT, SHORT_CLIENT, OTHER_AUDIENCE, CLOCK_LEEWAY,
} from '../lib/config.js';

let env;
before(async () => { env = await startEnvironment(); });
after(async () => { await env?.close(); });

const scope = 'system/Observation.rs';

test('a token for another resource server: 401 invalid_token', async () => {
  const tok = await clientCredentialsToken(env.as.issuer, BACKEND_CLIENT, { scope, resource: OTHER_AUDIENCE });
  assert.equal(decodePayload(tok.access_token).aud, OTHER_AUDIENCE);
  const res = await fhirFetch(env.fhirBase, 'Observation', { token: tok.access_token });
  assert.equal(res.status, 401, res.text);
  assert.equal(bearerError(res.headers.get('www-authenticate')), 'invalid_token');
});

test('a token with a forged signature: 401 invalid_token', async () => {
  const { access_token: t } = await clientCredentialsToken(env.as.issuer, BACKEND_CLIENT, { scope });
  const [h, p] = t.split('.');
  const claims = { ...decodePayload(t), scope: 'system/*.cruds' };
  const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${t.split('.')[2]}`;
  assert.notEqual(p, forged.split('.')[1]);
  const res = await fhirFetch(env.fhirBase, 'Observation', { token: forged });
  assert.equal(res.status, 401);
  assert.equal(bearerError(res.headers.get('www-authenticate')), 'invalid_token');
});

test('an expired token: accepted before exp, 401 invalid_token after', async () => {
  const tok = await clientCredentialsToken(env.as.issuer, SHORT_CLIENT, { scope });
  const { exp } = decodePayload(tok.access_token);
  const before = await fhirFetch(env.fhirBase, 'Observation', { token: tok.access_token });
  assert.equal(before.status, 200, 'the short-lived token works while valid (and is now cached)');
  const waitMs = (exp + CLOCK_LEEWAY + 1) * 1000 - Date.now() + 100;
  if (waitMs > 0) await new Promise((r) => { setTimeout(r, waitMs); });
  const after = await fhirFetch(env.fhirBase, 'Observation', { token: tok.access_token });
  assert.equal(after.status, 401, 'expired token');
  assert.equal(bearerError(after.headers.get('www-authenticate')), 'invalid_token');
});
