// Scenario 5: SMART standalone launch with fhirclient in chromium, PKCE S256,
// oidc-provider's login and consent pages, then FHIR calls with the token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEnvironment } from '../lib/env.js';
import { launchBrowser } from '../lib/browser.js';
import { APP_CLIENT, PATIENT_A, PATIENT_B } from '../lib/config.js';

let env;
let browser;
before(async () => {
  env = await startEnvironment();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await env?.close();
});

test('standalone launch: patient in context, own data 200, other patient 403, id_token refused', async () => {
  const page = await browser.newPage();
  const q = new URLSearchParams({
    iss: env.fhirBase,
    clientId: APP_CLIENT.id,
    scope: 'launch/patient openid fhirUser patient/*.rs',
    other: PATIENT_B,
  });
  await page.goto(`${env.app.origin}/launch.html?${q}`);

  // oidc-provider's development interaction: login (account alice), then consent.
  await page.waitForURL((u) => u.href.startsWith(`${env.as.issuer}/interaction/`), { timeout: 60000 });
  await page.waitForSelector('input[name="prompt"][value="login"]', { state: 'attached', timeout: 60000 });
  await page.fill('input[name="login"]', 'alice');
  await page.fill('input[name="password"]', 'any');
  await page.click('button[type="submit"]');
  await page.waitForSelector('input[name="prompt"][value="consent"]', { state: 'attached', timeout: 60000 });
  await page.click('button[type="submit"]'); // "Continue": grant the requested scopes
  await page.waitForURL((u) => u.href.startsWith(`${env.app.origin}/app.html`), { timeout: 60000 });
  await page.waitForFunction(() => window.__result, null, { timeout: 60000 });
  const r = await page.evaluate(() => window.__result);
  if (process.env.INTEROP_DEBUG) console.log(JSON.stringify(r, null, 2));
  await page.close();

  assert.equal(r.error, undefined, r.error);
  assert.equal(r.codeVerifierUsed, true, 'fhirclient used PKCE');
  assert.equal(r.patient, PATIENT_A);
  assert.equal(r.tokenPatient, PATIENT_A);
  assert.match(r.scope, /patient\/\*\.rs/);
  assert.equal(r.hasIdToken, true);
  assert.equal(r.fhirUser, `Patient/${PATIENT_A}`);
  assert.equal(r.selfRead, `Patient/${PATIENT_A}`);
  assert.ok(r.observationSubjects.length > 0, 'the context patient has Observations');
  assert.ok(r.observationSubjects.every((s) => s === `Patient/${PATIENT_A}`), JSON.stringify(r.observationSubjects));
  assert.equal(r.otherStatus, 403, `other patient's Observations: ${r.otherStatus} ${r.otherError}`);
  assert.equal(r.otherPatientStatus, 403);
  assert.equal(r.idTokenAsBearerStatus, 401, 'an id_token is not an access token');
  assert.match(r.idTokenAsBearerChallenge || '', /error="invalid_token"/);
});
