// Ory Hydra v2.3.0 in front of the smartguard demo: JWT and opaque access
// tokens, an authorization-code login whose launch context Hydra puts
// under "ext", key rotation through Hydra's admin API, and a flood of
// forged kids just before a rotation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { fhirFetch, bearerError } from '../lib/env.js';
import { reserveFhirBase, startFhirServer } from '../lib/fhirserver.js';
import { startHydra } from '../lib/hydra.js';
import { PATIENT_A, PATIENT_B } from '../lib/config.js';

// The demo's least time between JWKS fetches caused by unknown kids.
const UNKNOWN_KID_INTERVAL_S = 2;

const BACKEND = {
  client_id: 'interop-backend', client_secret: 'interop-backend-secret-0123456789',
  grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic',
  scope: 'system/Observation.rs system/Patient.rs',
};
const OPAQUE = {
  ...BACKEND, client_id: 'interop-opaque', client_secret: 'interop-opaque-secret-0123456789', access_token_strategy: 'opaque',
};
const APP = {
  client_id: 'interop-app', client_secret: 'interop-app-secret-0123456789',
  grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic',
  redirect_uris: ['http://127.0.0.1:9/callback'], scope: 'openid launch/patient patient/Observation.rs patient/Patient.rs',
};

let hydra;
let fhir;
let fhirBase;
before(async () => {
  fhirBase = await reserveFhirBase();
  hydra = await startHydra({ fhirBase });
  for (const c of [BACKEND, OPAQUE, APP]) await hydra.createClient({ ...c, audience: [fhirBase] });
  fhir = await startFhirServer({
    base: fhirBase,
    issuer: hydra.issuer,
    extraArgs: [
      // JWTs verified with Hydra's keys, opaque tokens asked about at its
      // admin introspection endpoint (unauthenticated: loopback only).
      '-tokens', 'jwt-or-introspect',
      '-introspection-endpoint', `${hydra.admin}/admin/oauth2/introspect`,
      '-introspection-auth', 'none',
      // The launch context a consent adds is under "ext".
      '-claim', 'patient=ext.patient', '-claim', 'fhirUser=ext.fhirUser',
      '-unknown-kid-interval', `${UNKNOWN_KID_INTERVAL_S}s`,
    ],
  });
});
after(async () => {
  await fhir?.close();
  await hydra?.close();
});

const header = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url'));
const payload = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url'));
const backendToken = async (client = BACKEND, scope = 'system/Observation.rs') => (await hydra.clientCredentials(client, scope)).access_token;
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

test('client credentials: Hydra JWT (typ JWT, scp array, aud array) searches Observations, cannot create', async () => {
  const tok = await backendToken();
  assert.equal(header(tok).typ, 'JWT');
  const c = payload(tok);
  assert.equal(c.iss, hydra.issuer);
  assert.deepEqual(c.aud, [fhirBase]);
  assert.deepEqual(c.scp, ['system/Observation.rs']);
  const res = await fhirFetch(fhirBase, 'Observation', { token: tok });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.resourceType, 'Bundle');
  const create = await fhirFetch(fhirBase, 'Observation', {
    token: tok, method: 'POST', body: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${PATIENT_A}` } },
  });
  assert.equal(create.status, 403);
  assert.equal(bearerError(create.headers.get('www-authenticate')), 'insufficient_scope');
});

test('client credentials without audience=: aud is empty, 401 invalid_token', async () => {
  const { access_token: tok } = await hydra.clientCredentials(BACKEND, 'system/Observation.rs', { audience: '' });
  assert.ok(!payload(tok).aud?.length, JSON.stringify(payload(tok).aud));
  const res = await fhirFetch(fhirBase, 'Observation', { token: tok });
  assert.equal(res.status, 401);
  assert.equal(bearerError(res.headers.get('www-authenticate')), 'invalid_token');
});

test('authorization-code login: patient and fhirUser under ext, read through claim paths', async () => {
  const tr = await hydra.login(APP, {
    scope: 'openid launch/patient patient/Observation.rs patient/Patient.rs',
    subject: 'alice',
    accessTokenClaims: { patient: PATIENT_A, fhirUser: `Patient/${PATIENT_A}` },
  });
  const c = payload(tr.access_token);
  assert.deepEqual(c.ext, { patient: PATIENT_A, fhirUser: `Patient/${PATIENT_A}` });
  assert.equal(c.patient, undefined, 'Hydra keeps consent claims under ext by default');
  const own = await fhirFetch(fhirBase, `Observation?patient=${PATIENT_A}`, { token: tr.access_token });
  assert.equal(own.status, 200, own.text);
  assert.ok(own.json.entry?.length > 0, 'the patient has Observations');
  assert.equal((await fhirFetch(fhirBase, `Patient/${PATIENT_A}`, { token: tr.access_token })).status, 200);
  const other = await fhirFetch(fhirBase, `Observation?patient=${PATIENT_B}`, { token: tr.access_token });
  assert.equal(other.status, 403, other.text);
  assert.equal((await fhirFetch(fhirBase, `Patient/${PATIENT_B}`, { token: tr.access_token })).status, 403);
});

test('opaque tokens (ory_at_): introspected at the admin API; a revoked one is refused', async () => {
  const tok = await backendToken(OPAQUE);
  assert.match(tok, /^ory_at_/);
  const res = await fhirFetch(fhirBase, 'Observation', { token: tok });
  assert.equal(res.status, 200, res.text);
  assert.equal((await fhirFetch(fhirBase, 'Observation', { token: tok })).status, 200, 'cached');

  const revoked = await backendToken(OPAQUE);
  await hydra.revoke(OPAQUE, revoked);
  const r = await fhirFetch(fhirBase, 'Observation', { token: revoked });
  assert.equal(r.status, 401);
  assert.match(r.headers.get('www-authenticate'), /error="invalid_token", error_description="token not active"/);

  const junk = await fhirFetch(fhirBase, 'Observation', { token: `ory_at_${crypto.randomBytes(32).toString('base64url')}` });
  assert.equal(junk.status, 401);
});

test('key rotation through the admin API: the new key signs, its tokens are accepted', async () => {
  const before = await backendToken();
  assert.equal((await fhirFetch(fhirBase, 'Observation', { token: before })).status, 200);
  const kid = await hydra.rotateKey();
  const after = await backendToken();
  assert.equal(header(after).kid, kid);
  assert.notEqual(header(before).kid, kid);
  const start = Date.now();
  let status;
  while ((status = (await fhirFetch(fhirBase, 'Observation', { token: after })).status) !== 200) {
    assert.equal(status, 401);
    assert.ok(Date.now() - start < (UNKNOWN_KID_INTERVAL_S + 3) * 1000, `new key still refused after ${Date.now() - start} ms`);
    await sleep(200);
  }
  // The old key is still published by Hydra: its tokens stay valid.
  assert.equal((await fhirFetch(fhirBase, 'Observation', { token: before })).status, 200);
});

test('forged kids flood the server just before a rotation: the new key is accepted within the interval', async () => {
  const real = await backendToken();
  const [, body] = real.split('.');
  const forge = () => {
    const h = Buffer.from(JSON.stringify({ ...header(real), kid: crypto.randomUUID() })).toString('base64url');
    return `${h}.${body}.${crypto.randomBytes(256).toString('base64url')}`;
  };
  // Wait out any fetch a previous test caused, then let the forgers spend it.
  await sleep(UNKNOWN_KID_INTERVAL_S * 1000 + 200);
  const flood = await Promise.all(Array.from({ length: 30 }, () => fhirFetch(fhirBase, 'Observation', { token: forge() })));
  assert.ok(flood.every((r) => r.status === 401), flood.map((r) => r.status).join(','));

  const rotated = Date.now();
  const kid = await hydra.rotateKey();
  const fresh = await backendToken();
  assert.equal(header(fresh).kid, kid);
  let status;
  while ((status = (await fhirFetch(fhirBase, 'Observation', { token: fresh })).status) !== 200) {
    assert.equal(status, 401);
    // The forgers go on.
    await Promise.all(Array.from({ length: 5 }, () => fhirFetch(fhirBase, 'Observation', { token: forge() })));
    assert.ok(Date.now() - rotated < (UNKNOWN_KID_INTERVAL_S + 2) * 1000, `new key refused ${Date.now() - rotated} ms after the rotation`);
    await sleep(100);
  }
});
