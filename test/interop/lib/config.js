// Everything the harness needs to know about the world, in one place.
// Values the Go demo server decides (patient ids, flags) can be overridden
// from the environment so the harness follows the demo without code changes.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const INTEROP_DIR = path.resolve(here, '..');
export const REPO_ROOT = path.resolve(INTEROP_DIR, '..', '..');

const env = process.env;

// Patients in the demo server's in-memory store. A is the launch patient of
// the test account; B is "someone else" whose data must be refused.
export const PATIENT_A = env.INTEROP_PATIENT_A || 'example';
export const PATIENT_B = env.INTEROP_PATIENT_B || 'other';

// Test accounts of the authorization server (oidc-provider has no patient
// picker): the login name chooses the patient in context.
export const ACCOUNTS = {
  alice: { patient: PATIENT_A },
  bob: { patient: PATIENT_B },
};

// EHR launch contexts the authorization server knows: the EHR opens the app
// with launch=ID, and the token gets that launch's patient and encounter,
// whoever logs in.
export const LAUNCHES = {
  'ehr-launch-a': { patient: PATIENT_A, encounter: 'enc-interop-a' },
};

// Clients registered in oidc-provider.
export const BACKEND_CLIENT = { id: 'interop-backend', secret: 'interop-backend-secret' };
// Same as BACKEND_CLIENT but its access tokens live SHORT_TTL seconds.
export const SHORT_CLIENT = { id: 'interop-short', secret: 'interop-short-secret' };
export const SHORT_TTL = 5; // long enough to be used once before it expires, even on a loaded machine
export const APP_CLIENT = { id: 'interop-app' }; // public client, PKCE S256
// The FHIR server's own client, to introspect opaque tokens.
export const RS_CLIENT = { id: 'interop-rs', secret: 'interop-rs-secret' };

// A second resource server known to the authorization server, so it can mint
// a token that is valid in every way except its audience.
export const OTHER_AUDIENCE = 'http://127.0.0.1:9/other-fhir';

// SMART scopes the authorization server grants for a FHIR resource.
export const RESOURCE_SCOPES = [
  'launch', 'launch/patient', 'launch/encounter',
  'patient/*.rs', 'patient/*.read', 'patient/Observation.rs', 'patient/Patient.rs', 'patient/Condition.rs',
  'user/*.rs', 'system/*.rs', 'system/Observation.rs', 'system/Observation.cruds', 'system/Patient.rs',
];

// Clock leeway the resource server allows on exp (seconds), passed to the Go
// server as -leeway (smartguard's default is 30 s, which would make the expiry
// test wait that long). The expiry test waits SHORT_TTL + CLOCK_LEEWAY + 1 s.
export const CLOCK_LEEWAY = Number(env.INTEROP_CLOCK_LEEWAY || 1);

// Which FHIR server the scenarios run against:
//   go   (default) the smartguard demo server, started by the harness;
//   url  an already running server at INTEROP_FHIR_BASE (you start it with
//        this harness's issuer; mostly useless since the issuer is ephemeral);
//   stub a dev-only Node stand-in (dev/stub-fhir-server.js) that proves nothing.
export const SERVER_KIND = env.INTEROP_SERVER || 'go';

// THE Go server command line. Adjust here when the demo's flags change.
// addr is "127.0.0.1:PORT"; audience is "http://127.0.0.1:PORT/fhir".
// extraArgs are further demo flags (introspection, claim paths, ...).
export function goServerCommand({ addr, issuer, audience, corsOrigins, extraArgs = [] }) {
  const args = [
    '-addr', addr,
    '-issuer', issuer,
    '-audience', audience,
    // middleware.Config.UnknownKIDInterval: JWKS fetches caused by tokens
    // with an unknown kid are rate-limited (default 15 s); the key
    // rotation tests want it short. A later -unknown-kid-interval in
    // extraArgs wins.
    '-unknown-kid-interval', '1s',
    // middleware.Config.Leeway on exp/nbf/iat (default 30 s).
    '-leeway', `${CLOCK_LEEWAY}s`,
  ];
  for (const o of corsOrigins) args.push('-cors-origin', o);
  args.push(...extraArgs);
  const cwd = path.join(REPO_ROOT, 'examples');
  // INTEROP_DEMO_BIN: a prebuilt demo binary (skips `go run`).
  if (env.INTEROP_DEMO_BIN) return { cmd: env.INTEROP_DEMO_BIN, args, cwd: REPO_ROOT };
  return { cmd: env.INTEROP_GO || 'go', args: ['run', './demo', ...args], cwd };
}

// The Go demo with its embedded development authorization server (no
// -issuer): the browser pages and the demo SMART app, all on one origin.
// tokenTTL is the lifetime of its access tokens ("5s"; default 1h);
// extraArgs are further demo flags.
export function embeddedDemoCommand({ addr, tokenTTL, extraArgs = [] }) {
  const args = ['-addr', addr, '-leeway', `${CLOCK_LEEWAY}s`];
  if (tokenTTL) args.push('-token-ttl', tokenTTL);
  args.push(...extraArgs);
  const cwd = path.join(REPO_ROOT, 'examples');
  if (env.INTEROP_DEMO_BIN) return { cmd: env.INTEROP_DEMO_BIN, args, cwd: REPO_ROOT };
  return { cmd: env.INTEROP_GO || 'go', args: ['run', './demo', ...args], cwd };
}

// Chromium, as Debian installs it.
export const CHROMIUM = env.INTEROP_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
