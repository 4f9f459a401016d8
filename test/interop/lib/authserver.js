// The authorization server: oidc-provider on a loopback port, configured as a
// SMART-capable AS for one FHIR resource server (the FHIR base URL).
import http from 'node:http';
import crypto from 'node:crypto';
import Provider, { errors } from 'oidc-provider';
import {
  ACCOUNTS, BACKEND_CLIENT, SHORT_CLIENT, SHORT_TTL, APP_CLIENT, RS_CLIENT, OTHER_AUDIENCE, RESOURCE_SCOPES, LAUNCHES,
} from './config.js';

// The EHR launch of each authorization code: the launch parameter of the
// authorization request is remembered when the code is issued, and read
// when the code is exchanged (oidc-provider keeps no extra parameters on
// codes).
const launchOfCode = new Map();

// A fresh RS256 signing key with a random kid.
export function newSigningKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: crypto.randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };
}

function decodePayload(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

// opaque: access tokens for the FHIR base are opaque (oidc-provider's
// own default format), to be introspected by the FHIR server.
function providerConfig({ fhirBase, redirectUris, appOrigins, key, opaque }) {
  const resourceServer = (audience, client) => ({
    audience,
    scope: RESOURCE_SCOPES.join(' '),
    accessTokenFormat: opaque ? 'opaque' : 'jwt',
    accessTokenTTL: client?.clientId === SHORT_CLIENT.id ? SHORT_TTL : 300,
    jwt: { sign: { alg: 'RS256' } },
  });
  const account = (id) => ACCOUNTS[id];
  const fhirUser = (id) => `${fhirBase}/Patient/${account(id).patient}`;

  return {
    clients: [
      {
        client_id: BACKEND_CLIENT.id,
        client_secret: BACKEND_CLIENT.secret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: SHORT_CLIENT.id,
        client_secret: SHORT_CLIENT.secret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: RS_CLIENT.id,
        client_secret: RS_CLIENT.secret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: APP_CLIENT.id,
        application_type: 'web',
        token_endpoint_auth_method: 'none', // public client: PKCE is required
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: redirectUris,
      },
    ],
    jwks: { keys: [key] },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    scopes: ['openid', 'fhirUser'],
    claims: { openid: ['sub'], fhirUser: ['fhirUser'] },
    conformIdTokenClaims: false, // put fhirUser in the id_token itself
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true }, // login (any password) + consent pages
      clientCredentials: { enabled: true },
      // Only the FHIR server's own client may ask about others' tokens.
      introspection: { enabled: true, allowedPolicy: async (ctx, client, token) => client.clientId === RS_CLIENT.id || client.clientId === token.clientId },
      revocation: { enabled: false },
      resourceIndicators: {
        enabled: true,
        // SMART apps send aud=<FHIR base>, not resource=: default to our FHIR base.
        defaultResource: (ctx, client, oneOf) => oneOf || fhirBase,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource, client) => {
          if (resource === fhirBase || resource === OTHER_AUDIENCE) return resourceServer(resource, client);
          throw new errors.InvalidTarget();
        },
      },
    },
    async findAccount(ctx, sub) {
      if (!account(sub)) return undefined;
      return { accountId: sub, claims: async () => ({ sub, fhirUser: fhirUser(sub) }) };
    },
    // Launch context in the JWT access token (only for user tokens).
    async extraTokenClaims(ctx, token) {
      if (!token.accountId || !account(token.accountId)) return undefined;
      const scopes = new Set(String(token.scope || '').split(' '));
      const claims = { fhirUser: fhirUser(token.accountId) };
      const launch = LAUNCHES[launchOfCode.get(ctx.oidc?.params?.code)];
      if (launch && scopes.has('launch')) {
        // EHR launch: the context the EHR chose, not the user's own.
        Object.assign(claims, launch);
      } else if (scopes.has('launch/patient') || scopes.has('launch')) {
        claims.patient = account(token.accountId).patient;
      }
      return claims;
    },
    extraParams: ['launch'],
    clientBasedCORS: (ctx, origin) => appOrigins.includes(origin),
    ttl: {
      AccessToken: (ctx, token) => token.resourceServer?.accessTokenTTL || 300,
      ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL || 300,
      AuthorizationCode: 60,
      Grant: 600,
      IdToken: 300,
      Interaction: 600,
      Session: 600,
    },
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<pre id="error">${JSON.stringify(out).replace(/</g, '&lt;')}</pre>`;
    },
  };
}

// startAuthServer starts oidc-provider on 127.0.0.1:port (0 = any free port).
// It returns { issuer, port, key, restart({ key }), close() }. restart()
// replaces the provider (new signing key by default) on the same port.
export async function startAuthServer({ port = 0, fhirBase, redirectUris = [], appOrigins = [], opaque = false }) {
  let handler = (req, res) => { res.statusCode = 503; res.end(); };
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actualPort = server.address().port;
  const issuer = `http://127.0.0.1:${actualPort}`;

  const state = { issuer, port: actualPort, key: null };
  function install(key) {
    const provider = new Provider(issuer, providerConfig({ fhirBase, redirectUris, appOrigins, key, opaque }));
    // SMART: the token response carries the launch context next to the token.
    provider.use(async (ctx, next) => {
      await next();
      // EHR launch: remember which launch an authorization code belongs to.
      const launch = ctx.oidc?.params?.launch;
      const location = ctx.response.get('location');
      if (launch && location && ['authorization', 'resume'].includes(ctx.oidc?.route)) {
        const code = new URL(location, issuer).searchParams.get('code');
        if (code) launchOfCode.set(code, launch);
      }
      if (ctx.oidc?.route === 'token' && ctx.status === 200 && ctx.body?.access_token?.split('.').length === 3) {
        const claims = decodePayload(ctx.body.access_token);
        if (claims.patient) ctx.body.patient = claims.patient;
        if (claims.encounter) ctx.body.encounter = claims.encounter;
      }
    });
    // Quiet: a provider logs "server_error" etc. through events only.
    provider.on('server_error', (ctx, err) => { console.error('oidc-provider server_error', err); });
    handler = provider.callback();
    state.key = key;
    state.provider = provider;
  }
  install(newSigningKey());

  state.restart = async ({ key = newSigningKey() } = {}) => {
    // A real restart: the listener goes away, then comes back on the same
    // port with a new provider (and, by default, a new signing key).
    await new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
    // Let clients in this process notice their kept-alive sockets are gone.
    await new Promise((resolve) => { setTimeout(resolve, 100); });
    install(key);
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(actualPort, '127.0.0.1', resolve);
    });
    return state;
  };
  state.close = () => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return state;
}

// clientCredentialsToken asks the token endpoint for a client_credentials
// token and returns the parsed token response (throws on a non-200).
export async function clientCredentialsToken(issuer, client, { scope, resource } = {}) {
  const body = new URLSearchParams({ grant_type: 'client_credentials' });
  if (scope) body.set('scope', scope);
  if (resource) body.set('resource', resource);
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body,
  });
  const json = await res.json();
  if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

export { decodePayload };
