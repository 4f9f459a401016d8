// The SMART App Launch plumbing of the demo app: discovery, PKCE and DPoP
// proofs through the browser's Web Crypto, the token requests, and what
// the app keeps in sessionStorage (this tab only) and IndexedDB (its DPoP
// key, which no script can read). Written for the smartguard demo; no
// third-party code.

// The scopes the app asks for. The consent page lets the user untick any.
export const STANDALONE_SCOPES = [
  'launch/patient', 'launch/encounter', 'openid', 'fhirUser', 'offline_access',
  'patient/Patient.r', 'patient/Observation.rs', 'patient/Observation.c',
];
export const EHR_SCOPES = [
  'launch', 'openid', 'fhirUser', 'offline_access',
  'patient/Patient.r', 'patient/Observation.rs', 'patient/Observation.c',
];

const PENDING = 'smartdemo.pending.';
const SESSION = 'smartdemo.session';

// loadConfig returns what the demo tells its app: the FHIR base it may
// talk to, its client_id and its registered redirect URI.
export async function loadConfig() {
  const res = await fetch('config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
  return res.json();
}

export function base64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function randomString(nbytes) {
  return base64url(crypto.getRandomValues(new Uint8Array(nbytes)));
}

// newPKCE returns a code verifier (43 characters from 32 random bytes) and
// its S256 challenge, BASE64URL(SHA-256(verifier)) (RFC 7636).
export async function newPKCE() {
  if (!crypto.subtle) throw new Error('Web Crypto is not available: open the demo at the http://127.0.0.1 address it prints');
  const verifier = randomString(32);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return { verifier, challenge: base64url(new Uint8Array(digest)) };
}

// discover reads the FHIR server's SMART configuration.
export async function discover(iss) {
  const res = await fetch(`${iss}/.well-known/smart-configuration`, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`${iss}/.well-known/smart-configuration: HTTP ${res.status}`);
  return res.json();
}

export function savePending(state, value) {
  sessionStorage.setItem(PENDING + state, JSON.stringify(value));
}

// takePending returns and forgets what the launch kept under state.
export function takePending(state) {
  const key = PENDING + state;
  const v = sessionStorage.getItem(key);
  sessionStorage.removeItem(key);
  return v ? JSON.parse(v) : null;
}

export function loadSession() {
  const v = sessionStorage.getItem(SESSION);
  return v ? JSON.parse(v) : null;
}

export function saveSession(s) {
  sessionStorage.setItem(SESSION, JSON.stringify(s));
}

export function forgetSession() {
  sessionStorage.removeItem(SESSION);
}

// tokenRequest POSTs a form to the token endpoint and returns the status
// and the JSON answer. With keys (a DPoP key pair) it sends a DPoP proof,
// and once more with the server's nonce when it asks for one
// (use_dpop_nonce, RFC 9449 §8).
export async function tokenRequest(endpoint, params, keys) {
  let nonce;
  for (let attempt = 0; ; attempt++) {
    const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (keys) headers.dpop = await dpopProof(keys, 'POST', endpoint, { nonce });
    const res = await fetch(endpoint, { method: 'POST', headers, body: new URLSearchParams(params) });
    let json = null;
    try { json = await res.json(); } catch { /* not JSON */ }
    nonce = res.headers.get('dpop-nonce');
    if (keys && attempt === 0 && res.status === 400 && json && json.error === 'use_dpop_nonce' && nonce) continue;
    return { status: res.status, json };
  }
}

// DPoP (RFC 9449): the app's key pair is ES256, made by Web Crypto with
// extractable: false, so that no script (this one included) can read the
// private key; the CryptoKey objects are kept in IndexedDB (this origin),
// which stores them without exposing the key material, so that they
// outlive the redirect to the authorization server.
const DB = 'smartdemo';
const KEYS = 'keys';

function keyStore(mode, fn) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(KEYS);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction(KEYS, mode);
      const req = fn(tx.objectStore(KEYS));
      tx.oncomplete = () => { open.result.close(); resolve(req.result); };
      tx.onerror = () => { open.result.close(); reject(tx.error); };
    };
  });
}

// newDPoPKey makes a new key pair, keeps it, and returns it with the id
// it is kept under (one per launch: tabs do not share keys).
export async function newDPoPKey() {
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const id = randomString(16);
  await keyStore('readwrite', (s) => s.put(keys, id));
  return { id, keys };
}

// loadDPoPKey returns the DPoP key pair kept under id, or undefined.
export function loadDPoPKey(id) {
  return keyStore('readonly', (s) => s.get(id));
}

// publicJWK is the public key's JWK members a proof carries.
async function publicJWK(keys) {
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', keys.publicKey);
  return { kty, crv, x, y };
}

async function sha256url(text) {
  return base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))));
}

// jwkThumbprint is the RFC 7638 SHA-256 thumbprint of the public key: the
// cnf.jkt of the tokens bound to it, and the dpop_jkt of a code.
export async function jwkThumbprint(keys) {
  const { crv, kty, x, y } = await publicJWK(keys);
  return sha256url(JSON.stringify({ crv, kty, x, y })); // members in this order, no spaces
}

const b64json = (v) => base64url(new TextEncoder().encode(JSON.stringify(v)));

// dpopProof signs a proof for a request of htm to htu (its query and
// fragment dropped), with ath for accessToken and the server's nonce.
export async function dpopProof(keys, htm, htu, { accessToken, nonce } = {}) {
  const u = new URL(htu);
  u.search = '';
  u.hash = '';
  const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: await publicJWK(keys) };
  const claims = { jti: randomString(16), htm, htu: u.href, iat: Math.floor(Date.now() / 1000) };
  if (accessToken) claims.ath = await sha256url(accessToken);
  if (nonce) claims.nonce = nonce;
  const input = `${b64json(header)}.${b64json(claims)}`;
  // Web Crypto's ECDSA signature is r || s, as JWS wants it.
  const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys.privateKey, new TextEncoder().encode(input));
  return `${input}.${base64url(new Uint8Array(sig))}`;
}

// jwtPayload decodes the claims of a JWT without verifying it: the app
// shows them, and trusts nothing in them.
export function jwtPayload(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(part + '='.repeat((4 - (part.length % 4)) % 4));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
  } catch {
    return null;
  }
}
