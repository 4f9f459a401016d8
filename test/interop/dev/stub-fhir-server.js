// DEV-ONLY stand-in for the smartguard Go demo server, used to build the
// harness before the demo existed (INTEROP_SERVER=stub). It is deliberately
// naive and proves NOTHING about smartguard: the real runs target the Go server.
import http from 'node:http';
import crypto from 'node:crypto';

export async function startStubFhirServer({ port, issuer, audience, corsOrigins, patients }) {
  const meta = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  let keys = [];
  const refresh = async () => { keys = (await (await fetch(meta.jwks_uri)).json()).keys; };
  await refresh();
  const basePath = new URL(audience).pathname;

  async function verify(token) {
    const [h, p, s] = token.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url'));
    if (header.alg !== 'RS256') return null;
    let jwk = keys.find((k) => k.kid === header.kid);
    if (!jwk) { await refresh(); jwk = keys.find((k) => k.kid === header.kid); }
    if (!jwk) return null;
    const ok = crypto.verify('sha256', Buffer.from(`${h}.${p}`), crypto.createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(s, 'base64url'));
    if (!ok) return null;
    const c = JSON.parse(Buffer.from(p, 'base64url'));
    const aud = [].concat(c.aud);
    if (c.iss !== issuer || !aud.includes(audience) || !(c.exp > Date.now() / 1000)) return null;
    return c;
  }

  const obs = (id, pid, cat) => ({ resourceType: 'Observation', id, status: 'final', subject: { reference: `Patient/${pid}` }, category: [{ coding: [{ code: cat }] }], code: { text: 'x' } });
  const store = patients.flatMap((pid, i) => [obs(`o${i}a`, pid, 'laboratory'), obs(`o${i}b`, pid, 'vital-signs')]);

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, audience);
    const origin = req.headers.origin;
    const send = (status, body, headers = {}) => {
      res.writeHead(status, { 'content-type': 'application/fhir+json', ...headers });
      res.end(body ? JSON.stringify(body) : undefined);
    };
    if (url.pathname === `${basePath}/.well-known/smart-configuration`) {
      return send(200, {
        issuer, jwks_uri: meta.jwks_uri, authorization_endpoint: meta.authorization_endpoint, token_endpoint: meta.token_endpoint,
        grant_types_supported: ['authorization_code', 'client_credentials'], code_challenge_methods_supported: ['S256'],
        capabilities: ['launch-standalone', 'client-public', 'context-standalone-patient', 'permission-v2', 'sso-openid-connect'],
      }, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
    }
    if (!url.pathname.startsWith(basePath)) return send(404);
    const cors = origin && corsOrigins.includes(origin)
      ? { 'access-control-allow-origin': origin, 'access-control-expose-headers': 'WWW-Authenticate', vary: 'Origin' } : {};
    if (req.method === 'OPTIONS') {
      return send(204, null, origin && corsOrigins.includes(origin)
        ? { ...cors, 'access-control-allow-methods': 'GET, POST, PUT, DELETE', 'access-control-allow-headers': 'authorization, content-type, accept' } : {});
    }
    const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
    if (!m) return send(401, { resourceType: 'OperationOutcome' }, { ...cors, 'www-authenticate': 'Bearer realm="fhir"' });
    const c = await verify(m[1]).catch(() => null);
    if (!c) return send(401, { resourceType: 'OperationOutcome' }, { ...cors, 'www-authenticate': 'Bearer realm="fhir", error="invalid_token"' });
    const scopes = String(c.scope).split(' ');
    const rel = url.pathname.slice(basePath.length + 1).split('/');
    const type = rel[0];
    const letter = req.method === 'POST' ? 'c' : (rel[1] ? 'r' : 's');
    const allowed = scopes.some((s) => {
      const mm = /^(patient|user|system)\/(\*|[A-Za-z]+)\.([cruds]+)$/.exec(s);
      return mm && (mm[2] === '*' || mm[2] === type) && mm[3].includes(letter) && (mm[1] !== 'patient' || c.patient);
    });
    const inCompartment = !scopes.some((s) => s.startsWith('patient/')) || scopes.some((s) => s.startsWith('system/'))
      || (type === 'Patient' ? rel[1] === c.patient : url.searchParams.get('patient') === c.patient);
    if (!allowed || !inCompartment) return send(403, { resourceType: 'OperationOutcome' }, { ...cors, 'www-authenticate': 'Bearer realm="fhir", error="insufficient_scope"' });
    if (type === 'Patient' && rel[1]) return send(200, { resourceType: 'Patient', id: rel[1] }, cors);
    if (type === 'Observation' && !rel[1]) {
      const pid = url.searchParams.get('patient');
      const hits = store.filter((o) => !pid || o.subject.reference === `Patient/${pid}`);
      return send(200, { resourceType: 'Bundle', type: 'searchset', total: hits.length, entry: hits.map((r) => ({ resource: r })) }, cors);
    }
    return send(404, { resourceType: 'OperationOutcome' }, cors);
  });
  await new Promise((resolve) => { server.listen(port, '127.0.0.1', resolve); });
  return { close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}
