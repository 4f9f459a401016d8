// Scenario 6: the demo as a newcomer sees it in a browser. Chromium drives
// the demo's own pages (its embedded development authorization server, the
// EHR page, the demo SMART app): a standalone launch with a patient picked
// and a scope unticked, an EHR launch, another patient's data refused, and
// a refresh after the access token expired. The app's tokens are DPoP-bound
// to a non-extractable Web Crypto key: the token alone is refused. Each
// test saves screenshots in .state/screenshots.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { launchBrowser } from '../lib/browser.js';
import { startEmbeddedDemo, screenshot } from '../lib/demo.js';
import { fhirFetch, bearerError } from '../lib/env.js';
import { CLOCK_LEEWAY } from '../lib/config.js';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const TIMEOUT = 60000;

let demo;
let browser;
before(async () => {
  demo = await startEmbeddedDemo();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await demo?.close();
});

// newPage opens a page that fails the test on any script error and
// records the authorization requests it sends.
async function newPage(viewport = DESKTOP) {
  const page = await browser.newPage({ viewport });
  page.errors = [];
  page.authorizeRequests = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('request', (r) => { if (r.url().includes('/auth/authorize?')) page.authorizeRequests.push(new URL(r.url())); });
  return page;
}

// consent waits for the consent page, optionally picks a patient and
// unticks scopes (with the keyboard), saves a screenshot, and allows.
async function consent(page, { patient, untick = [], shot }) {
  await page.waitForURL((u) => u.pathname === '/auth/authorize', { timeout: TIMEOUT });
  await fitsPhone(page, 'the consent page');
  if (patient) await page.check(`input[name="patient"][value="${patient}"]`);
  for (const s of untick) {
    await page.focus(`input[name="scope"][value="${s}"]`);
    await page.keyboard.press('Space');
    assert.equal(await page.isChecked(`input[name="scope"][value="${s}"]`), false, `${s} unticked`);
  }
  if (shot) await screenshot(page, shot, { fullPage: true });
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL((u) => u.pathname === '/app/' && !u.search, { timeout: TIMEOUT });
  await page.waitForSelector('#app:not([hidden])', { timeout: TIMEOUT });
}

// press clicks an app button and returns the newest result card for it.
async function press(page, id, { keyboard = false } = {}) {
  const before = await page.locator(`#results [data-action="${id}"]`).count();
  if (keyboard) {
    await page.focus(`#${id}`);
    await page.keyboard.press('Enter');
  } else {
    await page.click(`#${id}`);
  }
  await page.waitForFunction(([a, n]) => document.querySelectorAll(`#results [data-action="${a}"][data-status]`).length > n,
    [id, before], { timeout: TIMEOUT });
  const card = page.locator(`#results [data-action="${id}"][data-status]`).first();
  return { status: Number(await card.getAttribute('data-status')), text: await card.innerText() };
}

// fitsPhone checks that the page needs no sideways scrolling on a phone,
// then gives the page its desktop size back.
async function fitsPhone(page, what) {
  await page.setViewportSize(PHONE);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.setViewportSize(DESKTOP);
  assert.ok(overflow <= 0, `${what} is ${overflow}px wider than a phone`);
}

// usesDPoP checks that the app's token is DPoP-bound to a key whose
// private half no script can export (its thumbprint is jkt), and that the
// token without a proof of that key is refused.
async function usesDPoP(page, jkt) {
  const session = await page.evaluate(() => JSON.parse(sessionStorage.getItem('smartdemo.session')));
  assert.equal(session.token.token_type, 'DPoP');
  const claims = JSON.parse(Buffer.from(session.token.access_token.split('.')[1], 'base64url').toString());
  assert.equal(claims.cnf?.jkt, jkt);
  assert.match(await contextValue(page, 'Token type'), /^DPoP: bound to this tab's key/);
  const key = await page.evaluate((id) => new Promise((resolve, reject) => {
    const open = indexedDB.open('smartdemo');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const get = open.result.transaction('keys').objectStore('keys').get(id);
      get.onsuccess = async () => {
        const k = get.result.privateKey;
        let exported = true;
        try { await crypto.subtle.exportKey('jwk', k); } catch { exported = false; }
        resolve({ extractable: k.extractable, type: k.type, curve: k.algorithm.namedCurve, exported });
      };
    };
  }), session.dpopKeyId);
  assert.deepEqual(key, { extractable: false, type: 'private', curve: 'P-256', exported: false });
  const rel = `Patient/${session.token.patient}`;
  const asBearer = await fhirFetch(demo.fhirBase, rel, { token: session.token.access_token });
  assert.equal(asBearer.status, 401);
  assert.match(asBearer.headers.get('www-authenticate'), /error="invalid_token", error_description="DPoP-bound token presented as a bearer token"/);
  const noProof = await fhirFetch(demo.fhirBase, rel, { headers: { authorization: `DPoP ${session.token.access_token}` } });
  assert.equal(noProof.status, 401);
  assert.equal(bearerError(noProof.headers.get('www-authenticate')), 'invalid_dpop_proof');
}

async function contextValue(page, label) {
  return page.locator(`#context dt:text-is("${label}") + dd`).innerText();
}

test('standalone launch: patient picked, one scope unticked; its button gets 403', async () => {
  const page = await newPage();
  await page.goto(`${demo.root}/`);
  await fitsPhone(page, 'the home page');
  await screenshot(page, '06-home');
  await page.getByRole('link', { name: 'Launch the demo app' }).click();
  await consent(page, { patient: 'example', untick: ['patient/Observation.rs'], shot: '06-standalone-consent' });

  const [authz] = page.authorizeRequests;
  assert.equal(authz.searchParams.get('code_challenge_method'), 'S256');
  assert.match(authz.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  assert.equal(authz.searchParams.get('aud'), demo.fhirBase);
  assert.equal(authz.searchParams.get('launch'), null);
  assert.match(authz.searchParams.get('dpop_jkt'), /^[A-Za-z0-9_-]{43}$/, 'the code is bound to the app\'s DPoP key');

  assert.equal(await contextValue(page, 'Launch'), 'standalone launch');
  assert.equal(await contextValue(page, 'Patient'), 'example');
  assert.match(await contextValue(page, 'User'), /^Practitioner\/dr-jones/);
  assert.match(await page.locator('#refused').innerText(), /patient\/Observation\.rs/);
  assert.doesNotMatch(await page.locator('#granted').innerText(), /patient\/Observation\.rs/);

  const read = await press(page, 'read-patient');
  assert.equal(read.status, 200, read.text);
  assert.match(read.text, /Patient\/example: Amy Shaw/);
  await usesDPoP(page, authz.searchParams.get('dpop_jkt'));

  await page.selectOption('#category', 'laboratory');
  const search = await press(page, 'search-observations');
  assert.equal(search.status, 403, search.text);
  assert.match(search.text, /insufficient_scope/);
  assert.match(search.text, /Scope needed: patient\/Observation\.s/);
  assert.match(search.text, /OperationOutcome: error/);
  await screenshot(page, '06-standalone-app');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('EHR launch from the EHR page: the EHR\'s patient is in context', async () => {
  const page = await newPage();
  await page.goto(`${demo.root}/ehr/`);
  await fitsPhone(page, 'the EHR page');
  await screenshot(page, '06-ehr');
  await page.getByRole('button', { name: 'Launch the demo app for Peter Chalmers' }).click();
  await page.waitForURL((u) => u.pathname === '/auth/authorize', { timeout: TIMEOUT });
  const [authz] = page.authorizeRequests;
  assert.ok(authz.searchParams.get('launch'), 'the app sent the launch parameter');
  assert.match(authz.searchParams.get('scope'), /(^| )launch( |$)/);
  assert.match(await page.locator('fieldset').first().innerText(), /Context from the EHR launch[\s\S]*Peter Chalmers/);
  assert.equal(await page.locator('input[name="patient"]').count(), 0, 'no patient picker in an EHR launch');
  await consent(page, { shot: '06-ehr-consent' });

  assert.equal(await contextValue(page, 'Launch'), 'EHR launch');
  assert.equal(await contextValue(page, 'Patient'), 'other');
  const read = await press(page, 'read-patient');
  assert.equal(read.status, 200, read.text);
  assert.match(read.text, /Patient\/other: Peter Chalmers/);
  await screenshot(page, '06-ehr-app');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('another patient\'s record is refused (403) and audited; own read and write allowed; keyboard and phone', async () => {
  const page = await newPage();
  await page.goto(`${demo.root}/app/launch.html`);
  await consent(page, { patient: 'example' });
  const read = await press(page, 'read-patient', { keyboard: true });
  assert.equal(read.status, 200, read.text);
  assert.equal(await page.inputValue('#other-id'), 'other');
  const other = await press(page, 'read-other', { keyboard: true });
  assert.equal(other.status, 403, other.text);
  assert.match(other.text, /insufficient_scope/);
  assert.match(other.text, /patient in context/);
  // The audit panel lists what the guard itself recorded (Config.Audit).
  await page.waitForFunction(() => /GET Patient\/other[\s\S]*403 · refused[\s\S]*insufficient_scope/.test(
    document.getElementById('audit').innerText), null, { timeout: TIMEOUT });
  const write = await press(page, 'write-observation', { keyboard: true });
  assert.equal(write.status, 201, write.text);
  assert.match(write.text, /Heart rate .* Patient\/example/);
  await screenshot(page, '06-another-patient-app');

  await page.setViewportSize(PHONE);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone`);
  await screenshot(page, '06-another-patient-phone', { fullPage: true });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('refresh: after the access token expires the app refreshes it and the call succeeds', async () => {
  const ttl = 4;
  const short = await startEmbeddedDemo({ tokenTTL: `${ttl}s` });
  try {
    const page = await newPage();
    await page.goto(`${short.root}/app/launch.html`);
    await consent(page, { patient: 'third' });
    assert.match(await contextValue(page, 'Refresh token'), /^yes/);
    const first = await page.evaluate(() => JSON.parse(sessionStorage.getItem('smartdemo.session')));
    // Wait until the resource server refuses the token: exp plus its leeway.
    const wait = first.expiresAt + (CLOCK_LEEWAY + 1.5) * 1000 - Date.now();
    await new Promise((r) => { setTimeout(r, Math.max(0, wait)); });
    const stale = await fhirFetch(short.fhirBase, 'Patient/third', { headers: { authorization: `DPoP ${first.token.access_token}` } });
    assert.equal(stale.status, 401);
    assert.match(stale.headers.get('www-authenticate'), /expired/);
    assert.equal(bearerError(stale.headers.get('www-authenticate')), 'invalid_token');
    assert.match(await contextValue(page, 'Access token'), /expired/);

    const read = await press(page, 'read-patient');
    assert.equal(read.status, 200, read.text);
    const refresh = page.locator('#results [data-action="refresh"]').first();
    assert.match(await refresh.innerText(), /200 OK[\s\S]*The access token expired: a new access token/);
    const second = await page.evaluate(() => JSON.parse(sessionStorage.getItem('smartdemo.session')));
    assert.notEqual(second.token.access_token, first.token.access_token);
    assert.notEqual(second.token.refresh_token, first.token.refresh_token, 'the refresh token rotated');
    assert.equal(second.token.patient, 'third');
    assert.equal(second.token.token_type, 'DPoP', 'the refreshed token is bound too');
    await screenshot(page, '06-refresh-app');

    // The old refresh token was rotated away: reusing it fails, and revokes the grant.
    const reuse = await fetch(`${short.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: first.token.refresh_token, client_id: first.clientId }),
    });
    assert.equal(reuse.status, 400);
    assert.equal((await reuse.json()).error, 'invalid_grant');
    assert.deepEqual(page.errors, []);
    await page.close();
  } finally {
    await short.close();
  }
});

test('DPoP nonces: the app answers use_dpop_nonce with a proof carrying the server\'s nonce', async () => {
  const nonces = await startEmbeddedDemo({ extraArgs: ['-dpop-nonce-key', crypto.randomBytes(32).toString('base64url')] });
  try {
    const page = await newPage();
    const answers = [];
    page.on('response', (r) => { if (r.url().includes('/fhir/Patient/')) answers.push({ status: r.status(), www: r.headers()['www-authenticate'] || '' }); });
    await page.goto(`${nonces.root}/app/launch.html`);
    await consent(page, { patient: 'example' });
    const read = await press(page, 'read-patient');
    assert.equal(read.status, 200, read.text);
    assert.equal(answers.length, 2, 'one refusal, one retry');
    assert.equal(answers[0].status, 401);
    assert.match(answers[0].www, /error="use_dpop_nonce"/);
    const again = await press(page, 'read-patient');
    assert.equal(again.status, 200, 'the nonce is kept: no second refusal');
    assert.equal(answers.length, 3);
    assert.deepEqual(page.errors, []);
    await page.close();
  } finally {
    await nonces.close();
  }
});
