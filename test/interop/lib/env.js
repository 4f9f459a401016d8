// One test environment: app pages, oidc-provider, and the FHIR server under
// test, wired to each other on loopback. close() stops all of it.
import { startAppServer } from './appserver.js';
import { startAuthServer } from './authserver.js';
import { reserveFhirBase, startFhirServer } from './fhirserver.js';

// opaque: oidc-provider issues opaque access tokens for the FHIR base;
// fhirArgs: further flags for the FHIR server.
export async function startEnvironment({ opaque = false, fhirArgs = [] } = {}) {
  const stops = [];
  const close = async () => {
    while (stops.length) await stops.pop()().catch((e) => console.error('cleanup:', e));
  };
  try {
    const fhirBase = await reserveFhirBase();
    const app = await startAppServer();
    stops.push(app.close);
    const as = await startAuthServer({
      fhirBase, redirectUris: [`${app.origin}/app.html`], appOrigins: [app.origin], opaque,
    });
    stops.push(as.close);
    const fhir = await startFhirServer({ base: fhirBase, issuer: as.issuer, corsOrigins: [app.origin], extraArgs: fhirArgs });
    stops.push(fhir.close);
    return { fhirBase, app, as, fhir, close };
  } catch (e) {
    await close();
    throw e;
  }
}

// fhirFetch calls the FHIR server from node with an optional bearer token.
export async function fhirFetch(base, rel, { token, method = 'GET', body, headers = {} } = {}) {
  const h = { accept: 'application/fhir+json', ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body) h['content-type'] = 'application/fhir+json';
  const res = await fetch(`${base}/${rel}`, { method, headers: h, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, json, text };
}

// bearerError returns the error= value of a WWW-Authenticate Bearer challenge.
export function bearerError(h) {
  const m = /error="([^"]*)"/.exec(h || '');
  return m ? m[1] : undefined;
}
