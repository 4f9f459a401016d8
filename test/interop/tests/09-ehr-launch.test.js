// Scenario 9: EHR launch. The EHR opens the app with launch=ID and iss; the
// app (fhirclient in chromium) authorizes with launch + launch/patient; the
// authorization server maps the launch to the EHR's patient and encounter
// (not the logged-in user's own patient); the app reads that patient (200)
// and is refused another (403).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEnvironment } from '../lib/env.js';
import { launchBrowser } from '../lib/browser.js';
import { APP_CLIENT, LAUNCHES, PATIENT_A, PATIENT_B } from '../lib/config.js';

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

test('EHR launch: the launch decides the patient; its data 200, another patient 403', async () => {
  const launch = 'ehr-launch-a';
  assert.equal(LAUNCHES[launch].patient, PATIENT_A);
  const page = await browser.newPage();
  const q = new URLSearchParams({
    iss: env.fhirBase,
    launch,
    clientId: APP_CLIENT.id,
    scope: 'launch launch/patient openid fhirUser patient/*.rs',
    other: PATIENT_B,
  });
  await page.goto(`${env.app.origin}/launch.html?${q}`);
  const authorize = await page.waitForURL((u) => u.href.startsWith(`${env.as.issuer}/interaction/`), { timeout: 60000 }).then(() => page.url());
  assert.ok(authorize);
  // bob's own patient is B: the EHR's launch must win.
  await page.waitForSelector('input[name="prompt"][value="login"]', { state: 'attached', timeout: 60000 });
  await page.fill('input[name="login"]', 'bob');
  await page.fill('input[name="password"]', 'any');
  await page.click('button[type="submit"]');
  await page.waitForSelector('input[name="prompt"][value="consent"]', { state: 'attached', timeout: 60000 });
  await page.click('button[type="submit"]');
  await page.waitForURL((u) => u.href.startsWith(`${env.app.origin}/app.html`), { timeout: 60000 });
  await page.waitForFunction(() => window.__result, null, { timeout: 60000 });
  const r = await page.evaluate(() => window.__result);
  if (process.env.INTEROP_DEBUG) console.log(JSON.stringify(r, null, 2));
  await page.close();

  assert.equal(r.error, undefined, r.error);
  assert.match(r.scope, /(^| )launch( |$)/);
  assert.equal(r.tokenPatient, PATIENT_A);
  assert.equal(r.tokenEncounter, LAUNCHES[launch].encounter);
  assert.equal(r.patient, PATIENT_A);
  assert.equal(r.selfRead, `Patient/${PATIENT_A}`);
  assert.ok(r.observationSubjects.length > 0);
  assert.ok(r.observationSubjects.every((s) => s === `Patient/${PATIENT_A}`), JSON.stringify(r.observationSubjects));
  assert.equal(r.otherStatus, 403, `other patient's Observations: ${r.otherStatus} ${r.otherError}`);
  assert.equal(r.otherPatientStatus, 403);
});
