// The smartguard demo as a newcomer runs it: the embedded development
// authorization server, the EHR page and the demo SMART app, on one
// loopback origin. Plus where the browser tests put their screenshots.
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from './ports.js';
import { spawnGoServer } from './fhirserver.js';
import { embeddedDemoCommand, INTEROP_DIR } from './config.js';

// SCREENSHOT_DIR holds the screenshots the browser tests save (ignored by git).
export const SCREENSHOT_DIR = path.join(INTEROP_DIR, '.state', 'screenshots');

// startEmbeddedDemo starts the demo without -issuer, with extraArgs (more
// flags). Returns
// { root, fhirBase, issuer, close }.
export async function startEmbeddedDemo({ tokenTTL, extraArgs } = {}) {
  const port = await freePort();
  const root = `http://127.0.0.1:${port}`;
  const fhirBase = `${root}/fhir`;
  const s = await spawnGoServer({
    ...embeddedDemoCommand({ addr: `127.0.0.1:${port}`, tokenTTL, extraArgs }),
    port,
    readyUrl: `${fhirBase}/.well-known/smart-configuration`,
  });
  return { root, fhirBase, issuer: `${root}/auth`, log: s.log, close: s.close };
}

// screenshot saves the page, scrolled to its top, as SCREENSHOT_DIR/name.png.
export async function screenshot(page, name, { fullPage = false } = {}) {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.evaluate(() => window.scrollTo(0, 0));
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}
