// The app's launch URL: /app/launch.html?iss=FHIR_BASE&launch=X from an
// EHR, or with no parameter for a standalone launch. It sends the browser
// to the authorization endpoint with PKCE S256.
import {
  loadConfig, discover, newPKCE, randomString, savePending, newDPoPKey, jwkThumbprint, STANDALONE_SCOPES, EHR_SCOPES,
} from './smart.js';

const status = document.getElementById('status');
const errorBox = document.getElementById('error');

async function launch() {
  const cfg = await loadConfig();
  // sessionStorage is per origin: launch from the origin of the redirect URI.
  const origin = new URL(cfg.redirectUri).origin;
  if (location.origin !== origin) {
    location.replace(origin + location.pathname + location.search);
    return;
  }
  const p = new URLSearchParams(location.search);
  const iss = p.get('iss') || cfg.fhirBase;
  const launchParam = p.get('launch');
  // An app must not follow any iss it is handed: this one knows one server.
  if (iss !== cfg.fhirBase) {
    throw new Error(`This app talks to ${cfg.fhirBase} only; it refuses to launch against iss=${iss}.`);
  }
  const doc = await discover(iss);
  if (!(doc.code_challenge_methods_supported || []).includes('S256')) {
    throw new Error('The server does not advertise PKCE S256 (code_challenge_methods_supported): the app does not launch without it.');
  }
  const needed = launchParam ? 'launch-ehr' : 'launch-standalone';
  if (!(doc.capabilities || []).includes(needed)) {
    throw new Error(`The server does not advertise the capability ${needed}.`);
  }
  const scope = (launchParam ? EHR_SCOPES : STANDALONE_SCOPES).join(' ');
  const { verifier, challenge } = await newPKCE();
  const state = randomString(16);
  // DPoP when the server's token endpoint takes ES256 proofs: a new key
  // for this launch, and the code bound to it (dpop_jkt, RFC 9449 §10).
  const dpop = (doc.dpop_signing_alg_values_supported || []).includes('ES256');
  const key = dpop ? await newDPoPKey() : null;
  const dpopJKT = key ? await jwkThumbprint(key.keys) : null;
  savePending(state, {
    dpopKeyId: key ? key.id : null,
    verifier, iss, scope,
    mode: launchParam ? 'EHR launch' : 'standalone launch',
    tokenEndpoint: doc.token_endpoint,
    clientId: cfg.clientId,
    redirectUri: cfg.redirectUri,
  });
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: cfg.clientId,
    redirect_uri: cfg.redirectUri,
    scope,
    state,
    aud: iss,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  if (launchParam) q.set('launch', launchParam);
  if (dpopJKT) q.set('dpop_jkt', dpopJKT);
  status.textContent = 'Sending you to the authorization server.';
  location.assign(`${doc.authorization_endpoint}?${q}`);
}

launch().catch((e) => {
  document.getElementById('heading').textContent = 'The launch failed';
  status.textContent = 'The app did not send you to the authorization server:';
  errorBox.textContent = String(e && e.message ? e.message : e);
  errorBox.hidden = false;
});
