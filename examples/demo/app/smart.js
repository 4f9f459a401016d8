// The SMART App Launch plumbing of the demo app: discovery, PKCE through
// the browser's Web Crypto, the token requests, and what the app keeps in
// sessionStorage (this tab only). Written for the smartguard demo; no
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
// and the JSON answer.
export async function tokenRequest(endpoint, params) {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(params),
  });
  let json = null;
  try { json = await res.json(); } catch { /* not JSON */ }
  return { status: res.status, json };
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
