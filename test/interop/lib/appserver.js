// Serves the browser pages (app/) and fhirclient's browser bundle on two
// loopback origins: `origin` is registered with the FHIR server's CORS list
// and the authorization server; `otherOrigin` is not.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { INTEROP_DIR } from './config.js';

const FILES = {
  '/fhir-client.js': path.join(INTEROP_DIR, 'node_modules', 'fhirclient', 'build', 'fhir-client.js'),
  '/launch.html': path.join(INTEROP_DIR, 'app', 'launch.html'),
  '/app.html': path.join(INTEROP_DIR, 'app', 'app.html'),
  '/blank.html': path.join(INTEROP_DIR, 'app', 'blank.html'),
};

function handler(req, res) {
  const file = FILES[new URL(req.url, 'http://x').pathname];
  if (!file) { res.writeHead(404); res.end(); return; }
  const type = file.endsWith('.js') ? 'text/javascript' : 'text/html';
  res.writeHead(200, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' });
  fs.createReadStream(file).pipe(res);
}

function listen() {
  const server = http.createServer(handler);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

export async function startAppServer() {
  const a = await listen();
  const b = await listen();
  const close = (s) => new Promise((r) => { s.closeAllConnections(); s.close(() => r()); });
  return {
    origin: `http://127.0.0.1:${a.address().port}`,
    otherOrigin: `http://127.0.0.1:${b.address().port}`,
    close: async () => { await close(a); await close(b); },
  };
}
