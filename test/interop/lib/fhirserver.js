// Starts the FHIR resource server under test: the smartguard Go demo
// (default), or the dev-only Node stub. Returns { base, close }.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from './ports.js';
import {
  SERVER_KIND, goServerCommand, INTEROP_DIR, PATIENT_A, PATIENT_B,
} from './config.js';

const STATE_DIR = path.join(INTEROP_DIR, '.state');
const children = new Set();
// Last resort: never leave a server behind, even when the test process dies.
process.on('exit', () => { for (const c of children) { try { process.kill(-c.pid, 'SIGKILL'); } catch { /* gone */ } } });
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => process.exit(130));

// reserveFhirBase picks the port of the FHIR server before the authorization
// server starts (the AS needs the FHIR base URL as resource indicator).
export async function reserveFhirBase() {
  if (SERVER_KIND === 'url') return process.env.INTEROP_FHIR_BASE.replace(/\/$/, '');
  const port = await freePort();
  return `http://127.0.0.1:${port}/fhir`;
}

async function waitReady(url, child, logFile, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) break;
    try {
      const res = await fetch(url);
      if (res.status === 200) return;
    } catch { /* not yet */ }
    await new Promise((r) => { setTimeout(r, 250); });
  }
  const log = logFile && fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-4000) : '';
  throw new Error(`FHIR server not ready at ${url} (${child && child.exitCode !== null ? `exited with ${child.exitCode}` : 'timeout'})\n${log}`);
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) { children.delete(child); return; }
  const exited = new Promise((r) => { child.once('exit', r); });
  try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
  const t = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
  await exited;
  clearTimeout(t);
  children.delete(child);
}

export async function startFhirServer({ base, issuer, corsOrigins = [], extraArgs = [] }) {
  const discovery = `${base}/.well-known/smart-configuration`;
  if (SERVER_KIND === 'url') {
    await waitReady(discovery, null, null, 10000);
    return { base, close: async () => {} };
  }
  const { port } = new URL(base);
  if (SERVER_KIND === 'stub') {
    const { startStubFhirServer } = await import('../dev/stub-fhir-server.js');
    const s = await startStubFhirServer({ port: Number(port), issuer, audience: base, corsOrigins, patients: [PATIENT_A, PATIENT_B] });
    return { base, close: s.close };
  }
  if (SERVER_KIND !== 'go') throw new Error(`INTEROP_SERVER=${SERVER_KIND}: expected go, stub or url`);

  const s = await spawnGoServer({
    ...goServerCommand({ addr: `127.0.0.1:${port}`, issuer, audience: base, corsOrigins, extraArgs }), port, readyUrl: discovery,
  });
  return { base, log: s.log, close: s.close };
}

// spawnGoServer runs the Go demo (a command of config.js) on port and
// waits until readyUrl answers 200. Returns { log, close }.
export async function spawnGoServer({ cmd, args, cwd, port, readyUrl }) {
  if (!process.env.INTEROP_DEMO_BIN && !fs.existsSync(path.join(cwd, 'demo'))) {
    throw new Error(`the Go demo server is missing (${path.join(cwd, 'demo')}); run with INTEROP_SERVER=stub only to develop the harness`);
  }
  fs.mkdirSync(STATE_DIR, { recursive: true });
  const logFile = path.join(STATE_DIR, `fhir-${port}.log`);
  const out = fs.openSync(logFile, 'w');
  fs.writeSync(out, `$ (cd ${cwd} && ${cmd} ${args.join(' ')})\n`);
  // detached: the child leads its own process group, so `go run` and the
  // binary it starts are stopped together.
  const child = spawn(cmd, args, { cwd, detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  child.on('error', (e) => { fs.appendFileSync(logFile, `spawn failed: ${e.message}\n`); });
  children.add(child);
  try {
    await waitReady(readyUrl, child, logFile, Number(process.env.INTEROP_START_TIMEOUT_MS || 300000));
  } catch (e) {
    await stopChild(child);
    throw e;
  }
  return { log: logFile, close: () => stopChild(child) };
}
