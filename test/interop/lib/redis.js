// Debian's redis-server on a free loopback port, without persistence, in a
// temporary directory: the store the demo's replicas share (-redis).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';

export const REDIS_SERVER = process.env.INTEROP_REDIS_SERVER || 'redis-server';

// answers resolves true when the server replies +PONG to PING.
function answers(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.setTimeout(500);
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => { s.destroy(); resolve(d.toString().startsWith('+PONG')); });
    s.once('error', () => resolve(false));
    s.once('timeout', () => { s.destroy(); resolve(false); });
  });
}

// startRedis returns { url, port, stop(), close() }: stop() ends the server
// (the store then fails), close() also removes its directory.
export async function startRedis() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'interop-redis-'));
  const port = await freePort();
  // Never Debian's redis.conf: it daemonizes and writes under /var.
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--daemonize', 'no', '--logfile', path.join(dir, 'redis.log')], { stdio: 'ignore' });
  const exited = new Promise((r) => { child.once('exit', r); });
  child.once('error', () => {});
  const deadline = Date.now() + 10000;
  while (!(await answers(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start on port ${port} (is it installed? apt-get install redis-server)`);
    }
    await new Promise((r) => { setTimeout(r, 50); });
  }
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    stop,
    close: async () => { await stop(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}
