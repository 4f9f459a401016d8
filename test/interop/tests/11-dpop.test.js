// DPoP (RFC 9449) end to end: oidc-provider (features.dPoP, on by default in
// v9) binds client_credentials tokens to the key of a proof made by panva's
// `dpop` package, as JWTs with cnf.jkt and as opaque tokens whose
// introspection answer carries cnf.jkt; two replicas of the demo behind one
// FHIR base URL share one redis-server (-redis) and one nonce key
// (-dpop-nonce-key). A proof replayed to the other replica, a proof for
// another method or URL, the token sent as a bearer token or with another
// key's proof are refused; the nonce flow works across replicas; with Redis
// gone the replicas answer 503, never 200.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import * as DPoP from 'dpop';
import { startAuthServer, decodePayload } from '../lib/authserver.js';
import { reserveFhirBase, spawnGoServer } from '../lib/fhirserver.js';
import { freePort } from '../lib/ports.js';
import { startRedis } from '../lib/redis.js';
import { goServerCommand } from '../lib/config.js';
import { BACKEND_CLIENT, RS_CLIENT } from '../lib/config.js';

const NONCE_KEY = crypto.randomBytes(32).toString('base64url');
const stops = [];
let fhirBase; // the one URL of the FHIR base, as clients address it
let redis;
let jwtAS;
let opaqueAS;
let A; // replicas of fhirBase, with oidc-provider's JWTs
let B;
let O; // a replica for opaque tokens (introspection)

// replica starts the demo on its own port as a replica of base: tokens and
// proofs name base, whatever port the request reaches (a load balancer's
// job, done here by the test). Returns { origin, close }.
async function replica(base, issuer, extraArgs) {
  const port = await freePort();
  const s = await spawnGoServer({
    ...goServerCommand({ addr: `127.0.0.1:${port}`, issuer, audience: base, corsOrigins: [], extraArgs }),
    port,
    readyUrl: `http://127.0.0.1:${port}/fhir/.well-known/smart-configuration`,
  });
  stops.push(s.close);
  return { origin: `http://127.0.0.1:${port}`, log: s.log };
}

before(async () => {
  redis = await startRedis();
  stops.push(redis.close);
  fhirBase = await reserveFhirBase();
  jwtAS = await startAuthServer({ fhirBase });
  stops.push(jwtAS.close);
  opaqueAS = await startAuthServer({ fhirBase, opaque: true });
  stops.push(opaqueAS.close);
  const shared = ['-redis', redis.url, '-dpop-nonce-key', NONCE_KEY];
  A = await replica(fhirBase, jwtAS.issuer, shared);
  B = await replica(fhirBase, jwtAS.issuer, shared);
  O = await replica(fhirBase, opaqueAS.issuer, [...shared, '-tokens', 'introspect',
    '-introspection-client-id', RS_CLIENT.id, '-introspection-client-secret', RS_CLIENT.secret]);
});
after(async () => {
  while (stops.length) await stops.pop()().catch((e) => console.error('cleanup:', e));
});

// dpopToken asks issuer's token endpoint for a client_credentials token
// with a proof by keypair.
async function dpopToken(issuer, keypair, scope = 'system/Patient.rs system/Observation.rs') {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${BACKEND_CLIENT.id}:${BACKEND_CLIENT.secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      dpop: await DPoP.generateProof(keypair, `${issuer}/token`, 'POST'),
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
  });
  const json = await res.json();
  assert.equal(res.status, 200, JSON.stringify(json));
  return json;
}

// send makes one request to a replica for rel under the FHIR base with
// "Authorization: DPoP token" and proof ("" for none).
async function send(rep, rel, { token, proof, method = 'GET', scheme = 'DPoP' }) {
  const headers = { accept: 'application/fhir+json', authorization: `${scheme} ${token}` };
  if (proof) headers.dpop = proof;
  const res = await fetch(`${rep.origin}/fhir/${rel}`, { method, headers });
  await res.arrayBuffer();
  const www = res.headers.get('www-authenticate') || '';
  return { status: res.status, www, error: (/DPoP [^]*?error="([^"]+)"/.exec(www) || [])[1], nonce: res.headers.get('dpop-nonce'), res };
}

// proofFor makes a proof for method and rel under the FHIR base (htu names
// the base, not the replica).
function proofFor(keypair, rel, token, { method = 'GET', nonce } = {}) {
  return DPoP.generateProof(keypair, `${fhirBase}/${rel.split('?')[0]}`, method, nonce, token);
}

// read reads rel through rep with a fresh proof, fetching the server's
// nonce first when it asks for one (use_dpop_nonce), as a client does.
async function read(rep, rel, keypair, token, nonce) {
  let r = await send(rep, rel, { token, proof: await proofFor(keypair, rel, token, { nonce }) });
  if (r.status === 401 && r.error === 'use_dpop_nonce') {
    assert.ok(r.nonce, 'use_dpop_nonce comes with a DPoP-Nonce header');
    r = await send(rep, rel, { token, proof: await proofFor(keypair, rel, token, { nonce: r.nonce }) });
  }
  return r;
}

test('oidc-provider binds a JWT access token to the proof key: token_type DPoP, cnf.jkt', async () => {
  const kp = await DPoP.generateKeyPair('ES256');
  const t = await dpopToken(jwtAS.issuer, kp);
  assert.equal(t.token_type, 'DPoP');
  const claims = decodePayload(t.access_token);
  assert.equal(claims.cnf?.jkt, await DPoP.calculateThumbprint(kp.publicKey));
  assert.equal(claims.aud, fhirBase);
});

test('the nonce flow: use_dpop_nonce with a DPoP-Nonce, then 200; the nonce of one replica works at the other', async () => {
  const kp = await DPoP.generateKeyPair('ES256');
  const { access_token: tok } = await dpopToken(jwtAS.issuer, kp);
  const first = await send(A, 'Patient', { token: tok, proof: await proofFor(kp, 'Patient', tok) });
  assert.equal(first.status, 401);
  assert.equal(first.error, 'use_dpop_nonce');
  assert.ok(first.nonce);
  const ok = await send(A, 'Patient?_count=1', { token: tok, proof: await proofFor(kp, 'Patient', tok, { nonce: first.nonce }) });
  assert.equal(ok.status, 200, ok.www);
  const atB = await send(B, 'Patient', { token: tok, proof: await proofFor(kp, 'Patient', tok, { nonce: first.nonce }) });
  assert.equal(atB.status, 200, atB.www);
  const madeUp = await send(B, 'Patient', { token: tok, proof: await proofFor(kp, 'Patient', tok, { nonce: 'not-a-nonce-of-ours' }) });
  assert.equal(madeUp.status, 401);
  assert.equal(madeUp.error, 'use_dpop_nonce');
});

test('a proof used at one replica is refused at the other (one redis-server)', async () => {
  const kp = await DPoP.generateKeyPair('ES256');
  const { access_token: tok } = await dpopToken(jwtAS.issuer, kp);
  const warm = await read(A, 'Patient', kp, tok);
  assert.equal(warm.status, 200, warm.www);
  const nonce = warm.nonce || (await send(A, 'Patient', { token: tok })).nonce;
  const proof = await proofFor(kp, 'Patient', tok, { nonce });
  const once = await send(A, 'Patient', { token: tok, proof });
  assert.equal(once.status, 200, once.www);
  const replayed = await send(B, 'Patient', { token: tok, proof });
  assert.equal(replayed.status, 401);
  assert.equal(replayed.error, 'invalid_dpop_proof');
  assert.match(replayed.www, /already used/);
  const again = await send(A, 'Patient', { token: tok, proof });
  assert.equal(again.status, 401, 'and at the same replica');
});

test('a proof for another method or URL, another key\'s proof, the token as a bearer token: refused', async () => {
  const kp = await DPoP.generateKeyPair('ES256');
  const { access_token: tok } = await dpopToken(jwtAS.issuer, kp);
  const { nonce } = await send(A, 'Patient', { token: tok });
  const cases = [
    ['POST proof for a GET', await proofFor(kp, 'Patient', tok, { method: 'POST', nonce }), 'invalid_dpop_proof', /another method/],
    ['proof for another URL', await proofFor(kp, 'Observation', tok, { nonce }), 'invalid_dpop_proof', /another URL/],
    ['proof naming the replica, not the FHIR base', await DPoP.generateProof(kp, `${A.origin}/fhir/Patient`, 'GET', nonce, tok),
      'invalid_dpop_proof', /another URL/],
    ['proof for another token', await proofFor(kp, 'Patient', `${tok}x`, { nonce }), 'invalid_dpop_proof', /another access token/],
    ['another key\'s proof', await proofFor(await DPoP.generateKeyPair('ES256'), 'Patient', tok, { nonce }), 'invalid_token', /binding/],
    ['no proof', '', 'invalid_dpop_proof', /required/],
  ];
  for (const [name, proof, error, why] of cases) {
    const r = await send(B, 'Patient', { token: tok, proof });
    assert.equal(r.status, 401, name);
    assert.equal(r.error, error, `${name}: ${r.www}`);
    assert.match(r.www, why, name);
  }
  const bearer = await send(A, 'Patient', { token: tok, scheme: 'Bearer' });
  assert.equal(bearer.status, 401);
  assert.match(bearer.www, /error="invalid_token"/);
  assert.match(bearer.www, /DPoP-bound token presented as a bearer token/);
  // The proofs of this test were refused before they were recorded: a
  // good one still passes.
  const good = await read(B, 'Patient', kp, tok, nonce);
  assert.equal(good.status, 200, good.www);
});

test('an opaque DPoP-bound token: introspection gives cnf.jkt, the replica checks the proof against it', async () => {
  const kp = await DPoP.generateKeyPair('ES256');
  const t = await dpopToken(opaqueAS.issuer, kp);
  assert.equal(t.token_type, 'DPoP');
  assert.equal(t.access_token.split('.').length, 1, 'opaque');
  const answer = await (await fetch(`${opaqueAS.issuer}/token/introspection`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${RS_CLIENT.id}:${RS_CLIENT.secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token: t.access_token }),
  })).json();
  assert.equal(answer.active, true);
  assert.equal(answer.token_type, 'DPoP');
  assert.equal(answer.cnf?.jkt, await DPoP.calculateThumbprint(kp.publicKey));
  const r = await read(O, 'Patient', kp, t.access_token);
  assert.equal(r.status, 200, r.www);
  const other = await read(O, 'Patient', await DPoP.generateKeyPair('ES256'), t.access_token);
  assert.equal(other.status, 401);
  assert.equal(other.error, 'invalid_token');
  const bearer = await send(O, 'Patient', { token: t.access_token, scheme: 'Bearer' });
  assert.equal(bearer.status, 401);
  assert.match(bearer.www, /error="invalid_token"/);
});

test('the protected-resource metadata lists the proof algorithms', async () => {
  const res = await fetch(`${A.origin}/.well-known/oauth-protected-resource/fhir`);
  assert.equal(res.status, 200);
  const doc = await res.json();
  assert.equal(doc.resource, fhirBase);
  assert.deepEqual(doc.dpop_signing_alg_values_supported, ['ES256']);
  assert.deepEqual(doc.authorization_servers, [jwtAS.issuer]);
});

test('redis-server gone: a DPoP request is answered 503 with Retry-After, never 200', async () => {
  const kp = await DPoP.generateKeyPair('ES256');
  const { access_token: tok } = await dpopToken(jwtAS.issuer, kp);
  const { nonce } = await send(A, 'Patient', { token: tok });
  await redis.stop();
  const r = await send(A, 'Patient', { token: tok, proof: await proofFor(kp, 'Patient', tok, { nonce }) });
  assert.equal(r.status, 503);
  assert.ok(Number(r.res.headers.get('retry-after')) >= 1);
});
