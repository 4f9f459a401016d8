// The demo SMART app: completes the launch (code + PKCE verifier for
// tokens), shows the launch context and the granted scopes, calls the
// FHIR API and shows each answer with the reason smartguard gave.
// Everything is built with textContent: nothing from a server becomes HTML.
import {
  loadConfig, takePending, loadSession, saveSession, forgetSession, tokenRequest, jwtPayload, loadDPoPKey, dpopProof,
} from './smart.js';

const $ = (id) => document.getElementById(id);
let session = null;
let dpopKeys = null; // the session's DPoP key pair (non-extractable), when its tokens are DPoP-bound
let busy = false;
const sent = new Map(); // X-Request-Id → "METHOD path" of the app's own calls, to label audit records
let seq = 0;
const early = []; // result cards made before the app is shown

// el makes an element with text or children.
function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function fail(message) {
  const box = $('launch-error');
  box.textContent = message;
  box.hidden = false;
}

async function start() {
  const cfg = await loadConfig();
  const p = new URLSearchParams(location.search);
  if (p.has('code') || p.has('error')) {
    const pending = p.get('state') ? takePending(p.get('state')) : null;
    history.replaceState(null, '', location.pathname); // the code must not stay in the address bar or history
    if (!pending) {
      throw new Error('An authorization response arrived that no launch of this tab is waiting for (unknown state): it is ignored. Launch again.');
    }
    if (p.has('error')) {
      throw new Error(`The authorization server answered ${p.get('error')}: ${p.get('error_description') || 'no description'}.`);
    }
    await exchange(pending, p.get('code'));
  }
  session = loadSession();
  if (!session || session.iss !== cfg.fhirBase) {
    $('not-launched').hidden = false;
    return;
  }
  if (session.dpopKeyId) {
    dpopKeys = await loadDPoPKey(session.dpopKeyId);
    if (!dpopKeys) throw new Error('The DPoP key of this session is gone (site data cleared?): launch again.');
  }
  showApp();
}

// exchange trades the code and the PKCE verifier (and, with DPoP, a
// proof of the launch's key) for tokens.
async function exchange(pending, code) {
  const keys = pending.dpopKeyId ? await loadDPoPKey(pending.dpopKeyId) : null;
  if (pending.dpopKeyId && !keys) throw new Error('The DPoP key of this launch is gone: launch again.');
  const r = await tokenRequest(pending.tokenEndpoint, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: pending.redirectUri,
    client_id: pending.clientId,
    code_verifier: pending.verifier,
  }, keys);
  if (r.status !== 200 || !r.json || !r.json.access_token) {
    const e = r.json || {};
    throw new Error(`The token endpoint answered ${r.status} ${e.error || ''}: ${e.error_description || 'no access token'}.`);
  }
  session = {
    iss: pending.iss,
    mode: pending.mode,
    clientId: pending.clientId,
    tokenEndpoint: pending.tokenEndpoint,
    requested: pending.scope,
    token: r.json,
    expiresAt: Date.now() + (r.json.expires_in || 0) * 1000,
    // The key stays only when the tokens are bound to it.
    dpopKeyId: r.json.token_type === 'DPoP' ? pending.dpopKeyId : null,
  };
  saveSession(session);
  const t = r.json;
  early.push(infoCard('token', 'POST', `auth/token (authorization_code + code_verifier${keys ? ' + DPoP proof' : ''})`, `${r.status} OK`,
    `Tokens issued: ${t.token_type === 'DPoP' ? 'a DPoP-bound' : 'a bearer'} access token for ${t.expires_in} s${t.patient ? `, patient ${t.patient}` : ', no patient'}`
    + `${t.refresh_token ? ', a refresh token' : ''}${t.id_token ? ', an id token' : ''}.`));
}

function granted() { return (session.token.scope || '').split(/\s+/).filter(Boolean); }

function showApp() {
  $('app').hidden = false;
  renderContext();
  renderScopes();
  const patient = session.token.patient;
  $('other-id').value = patient === 'other' ? 'example' : 'other';
  for (const id of ['read-patient', 'search-observations', 'write-observation']) {
    $(id).dataset.needsPatient = 'yes';
  }
  $('read-patient-hint').textContent = patient ? `GET Patient/${patient}` : 'No patient in context: launch/patient was not granted';
  $('read-patient').addEventListener('click', () => call('read-patient', 'GET', `Patient/${encodeURIComponent(patient)}`));
  $('search-observations').addEventListener('click', () => {
    const q = new URLSearchParams({ patient });
    if ($('category').value) q.set('category', $('category').value);
    call('search-observations', 'GET', `Observation?${q}`);
  });
  $('read-other').addEventListener('click', () => {
    const id = $('other-id').value.trim();
    if (id) call('read-other', 'GET', `Patient/${encodeURIComponent(id)}`);
  });
  $('write-observation').addEventListener('click', () => call('write-observation', 'POST', 'Observation', heartRate(patient)));
  $('refresh').addEventListener('click', () => withBusy(() => refresh('You asked for it')));
  $('forget').addEventListener('click', () => { forgetSession(); location.replace(location.pathname); });
  setBusy(false);
  for (const card of early.reverse()) $('results').prepend(card);
  setInterval(renderExpiry, 1000);
  loadAudit();
}

function renderContext() {
  const t = session.token;
  const id = t.id_token ? jwtPayload(t.id_token) : null;
  const rows = [
    ['Launch', session.mode],
    ['FHIR server', session.iss],
    ['Patient', t.patient || 'none (launch/patient not granted)'],
    ['Encounter', t.encounter || 'none'],
    ['User', id ? (id.fhirUser || id.sub) + ' (from the id token)' : 'unknown (no id token: openid not granted)'],
    ['Client', session.clientId],
    ['Token type', t.token_type === 'DPoP'
      ? 'DPoP: bound to this tab\'s key (ES256, not extractable); each request carries a proof'
      : `${t.token_type || 'Bearer'}: whoever holds the token can use it`],
    ['Access token', ''],
    ['Refresh token', t.refresh_token ? 'yes (offline_access)' : 'none (offline_access not granted)'],
  ];
  const dl = $('context');
  dl.replaceChildren();
  for (const [k, v] of rows) {
    dl.append(el('dt', { text: k }), el('dd', { text: v, id: k === 'Access token' ? 'expiry' : '' }));
  }
  renderExpiry();
}

function renderExpiry() {
  const dd = $('expiry');
  if (!dd) return;
  const s = Math.round((session.expiresAt - Date.now()) / 1000);
  const at = new Date(session.expiresAt).toLocaleTimeString();
  if (s > 0) dd.textContent = `expires in ${s} s (${at})`;
  else if (session.token.refresh_token) dd.textContent = `expired at ${at}: the next call refreshes it`;
  else dd.textContent = `expired at ${at}: launch the app again`;
}

function renderScopes() {
  const g = granted();
  const refused = (session.requested || '').split(/\s+/).filter((s) => s && !g.includes(s));
  $('granted').replaceChildren(...g.map((s) => el('li', { text: s })));
  $('refused').replaceChildren(...refused.map((s) => el('li', { text: s })));
  $('refused-box').hidden = refused.length === 0;
}

function setBusy(b) {
  busy = b;
  $('results').setAttribute('aria-busy', String(b));
  for (const btn of document.querySelectorAll('#app button')) {
    btn.disabled = b
      || (btn.dataset.needsPatient === 'yes' && !session.token.patient)
      || (btn.id === 'refresh' && !session.token.refresh_token);
  }
}

async function withBusy(fn) {
  if (busy) return;
  setBusy(true);
  try {
    await fn();
  } catch (e) {
    $('results').prepend(infoCard('error', '', 'The app failed', 'error', String(e && e.message ? e.message : e), true));
  } finally {
    setBusy(false);
    loadAudit();
  }
}

function heartRate(patient) {
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs', display: 'Vital Signs' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }], text: 'Heart rate' },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: new Date().toISOString(),
    valueQuantity: { value: 60 + Math.floor(Math.random() * 30), unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  };
}

// refresh trades the refresh token for new tokens (it rotates).
async function refresh(reason) {
  const r = await tokenRequest(session.tokenEndpoint, {
    grant_type: 'refresh_token',
    refresh_token: session.token.refresh_token,
    client_id: session.clientId,
  }, dpopKeys);
  if (r.status === 200 && r.json && r.json.access_token) {
    session.token = { ...session.token, ...r.json };
    session.expiresAt = Date.now() + (r.json.expires_in || 0) * 1000;
    saveSession(session);
    renderContext();
    renderScopes();
    $('results').prepend(infoCard('refresh', 'POST', 'auth/token (refresh_token)', `${r.status} OK`,
      `${reason}: a new access token for ${r.json.expires_in} s; the refresh token rotated.`));
    return true;
  }
  const e = r.json || {};
  $('results').prepend(infoCard('refresh', 'POST', 'auth/token (refresh_token)', String(r.status),
    `The refresh failed: ${e.error || ''} ${e.error_description || ''}`, true));
  return false;
}

let rsNonce = null; // the FHIR server's last DPoP-Nonce

// send makes one FHIR request: with a DPoP-bound token, "Authorization:
// DPoP" and a fresh proof (ath, htm, htu, and the server's nonce once it
// gave one), sent again once with the new nonce when the server asks for
// it (use_dpop_nonce, RFC 9449 §9).
async function send(method, rel, body) {
  const url = `${session.iss}/${rel}`;
  for (let attempt = 0; ; attempt++) {
    const id = `demo-app-${Date.now().toString(36)}-${++seq}`;
    sent.set(id, `${method} ${rel}`);
    const tok = session.token.access_token;
    const headers = { authorization: `Bearer ${tok}`, accept: 'application/fhir+json', 'x-request-id': id };
    if (dpopKeys) {
      headers.authorization = `DPoP ${tok}`;
      headers.dpop = await dpopProof(dpopKeys, method, url, { accessToken: tok, nonce: rsNonce });
    }
    if (body) headers['content-type'] = 'application/fhir+json';
    const res = await fetch(url, { method, headers, body: body ? JSON.stringify(body) : undefined });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    const out = { status: res.status, statusText: res.statusText, www: res.headers.get('www-authenticate'), json, text };
    if (res.headers.get('dpop-nonce')) rsNonce = res.headers.get('dpop-nonce');
    if (!(dpopKeys && attempt === 0 && res.status === 401 && challenge(out.www).error === 'use_dpop_nonce')) return out;
  }
}

// call makes one FHIR request, refreshing an expired access token first,
// and once more when the server refuses the token.
function call(action, method, rel, body) {
  return withBusy(async () => {
    if (Date.now() >= session.expiresAt && session.token.refresh_token) {
      await refresh('The access token expired');
    }
    let res = await send(method, rel, body);
    if (res.status === 401 && challenge(res.www).error === 'invalid_token' && session.token.refresh_token) {
      $('results').prepend(resultCard(action, method, rel, res));
      if (!(await refresh('The server refused the access token'))) return;
      res = await send(method, rel, body);
    }
    $('results').prepend(resultCard(action, method, rel, res));
  });
}

// challenge parses the auth-params of a Bearer WWW-Authenticate header.
function challenge(h) {
  const out = {};
  if (!h) return out;
  for (const m of h.matchAll(/([A-Za-z_]+)="([^"]*)"/g)) out[m[1]] = m[2];
  return out;
}

function infoCard(action, method, what, badge, text, bad = false) {
  return el('li', { class: `result ${bad ? 'refused' : 'info'}`, 'data-action': action },
    el('h3', {}, el('span', { class: 'req', text: `${method} ${what}`.trim() }), el('span', { class: 'badge', text: badge })),
    el('p', { text }));
}

function resultCard(action, method, rel, res) {
  const ok = res.status >= 200 && res.status < 300;
  const li = el('li', { class: `result ${ok ? 'allowed' : 'refused'}`, 'data-action': action, 'data-status': String(res.status) });
  const badge = `${res.status} ${res.statusText || ''}`.trim() + (ok ? ' · allowed' : ' · refused');
  li.append(el('h3', {}, el('span', { class: 'req', text: `${method} ${rel}` }), el('span', { class: 'badge', text: badge })));
  const type = rel.split(/[/?]/)[0];
  if (ok) {
    const letter = neededLetter(method, rel);
    const mine = scopesFor(type, letter);
    const why = el('p', { class: 'why' }, el('strong', { text: 'Why: ' }));
    if (mine.length) {
      mine.forEach((s, i) => why.append(i ? ', ' : '', el('code', { text: s })));
      why.append(` ${mine.length > 1 ? 'allow' : 'allows'} ${WORDS[letter]} of ${type}`,
        mine.some((s) => s.startsWith('patient/')) && session.token.patient ? `, within patient ${session.token.patient}'s records.` : '.');
    } else {
      why.append(`allowed (${WORDS[letter]} of ${type}).`);
    }
    li.append(why);
  } else {
    const c = challenge(res.www);
    const why = el('p', { class: 'why' }, el('strong', { text: 'Why: ' }));
    if (c.error) {
      why.append(el('code', { text: c.error }), c.error_description ? ` — ${c.error_description}` : '');
      if (c.scope) why.append('. Scope needed: ', el('code', { text: c.scope }));
    } else if (res.www) {
      why.append('no usable token was sent.');
    } else {
      why.append('the FHIR server answered with an error of its own.');
    }
    li.append(why);
    if (res.www) li.append(el('p', { class: 'small mono', text: `WWW-Authenticate: ${res.www}` }));
  }
  li.append(...describeBody(res.json));
  if (res.text) {
    const body = res.text.length > 20000 ? `${res.text.slice(0, 20000)}\n…` : res.text;
    li.append(el('details', {}, el('summary', { text: 'Response body' }),
      el('pre', { text: res.json ? JSON.stringify(res.json, null, 2).slice(0, 20000) : body })));
  }
  return li;
}

const WORDS = { c: 'create', r: 'read', u: 'update', d: 'delete', s: 'search' };

// neededLetter is the SMART v2 permission letter of a request.
function neededLetter(method, rel) {
  if (method === 'POST') return 'c';
  if (method === 'PUT' || method === 'PATCH') return 'u';
  if (method === 'DELETE') return 'd';
  return rel.split('?')[0].includes('/') ? 'r' : 's';
}

// scopesFor lists the granted resource scopes that give letter on type.
function scopesFor(type, letter) {
  const v1 = { read: 'rs', write: 'cud', '*': 'cruds' };
  return granted().filter((s) => {
    const m = /^(patient|user|system)\/([A-Za-z*]+)\.([^?]+)/.exec(s);
    return m && (m[2] === type || m[2] === '*') && (v1[m[3]] || m[3]).includes(letter);
  });
}

function describeBody(json) {
  if (!json || typeof json !== 'object') return [];
  if (json.resourceType === 'OperationOutcome') {
    const issues = (json.issue || []).map((i) => `${i.severity} · ${i.code}: ${i.diagnostics || (i.details && i.details.text) || ''}`);
    if (issues.length === 1) return [el('p', { text: `OperationOutcome: ${issues[0]}` })];
    return [el('p', { text: 'OperationOutcome:' }), el('ul', { class: 'rows' }, ...issues.map((t) => el('li', { text: t })))];
  }
  if (json.resourceType === 'Bundle') {
    const entries = (json.entry || []).map((e) => e.resource).filter(Boolean);
    return [el('p', { text: `Bundle (${json.type}): ${entries.length} ${entries.length === 1 ? 'resource' : 'resources'}` }),
      el('ul', { class: 'rows' }, ...entries.slice(0, 20).map((r) => el('li', { text: summarize(r) })))];
  }
  return [el('ul', { class: 'rows' }, el('li', { text: summarize(json) }))];
}

function summarize(r) {
  const ref = `${r.resourceType}/${r.id}`;
  if (r.resourceType === 'Patient') {
    const n = (r.name || [])[0] || {};
    const name = n.text || [...(n.given || []), n.family].filter(Boolean).join(' ');
    return `${ref}: ${name || 'no name'}${r.gender ? `, ${r.gender}` : ''}${r.birthDate ? `, born ${r.birthDate}` : ''}`;
  }
  if (r.resourceType === 'Observation') {
    const code = (r.code && (r.code.text || ((r.code.coding || [])[0] || {}).display)) || 'no code';
    const q = r.valueQuantity;
    const value = q ? ` ${q.value} ${q.unit || ''}`.trimEnd() : (r.valueCodeableConcept ? ` ${r.valueCodeableConcept.text || ''}` : '');
    const cat = (((r.category || [])[0] || {}).coding || [])[0];
    const when = (r.effectiveDateTime || '').slice(0, 10);
    return `${ref}: ${code}${value}${cat ? ` (${cat.code}${when ? `, ${when}` : ''})` : ''} · ${(r.subject || {}).reference || 'no subject'}`;
  }
  return ref;
}

async function loadAudit() {
  const status = $('audit-status');
  try {
    const res = await fetch('/demo/audit', { cache: 'no-store' });
    const a = await res.json();
    if (!a.wired) {
      status.textContent = 'No audit records: the guard\'s audit hook is not connected. The responses above show what smartguard decided.';
      return;
    }
    const records = a.records || [];
    status.textContent = records.length
      ? `What the guard itself recorded (smartmw.Config.Audit), last ${records.length}, newest first.`
      : 'No decisions recorded yet.';
    $('audit').replaceChildren(...records.map((r) => {
      const label = r.what ? `${r.method} ${r.what}` : (sent.get(r.request_id) || `${r.method} (refused before it was classified)`);
      const facts = [
        new Date(r.time).toLocaleTimeString(),
        r.interaction,
        r.client && `client ${r.client}`,
        r.patient && `patient ${r.patient}`,
        r.context && `${r.context}/ scopes`,
        r.withheld && `${r.withheld} withheld`,
      ].filter(Boolean).join(' · ');
      return el('li', { class: `result ${r.outcome === 'refused' ? 'refused' : 'allowed'}` },
        el('h3', {}, el('span', { class: 'req', text: label }), el('span', { class: 'badge', text: `${r.status} · ${r.outcome}` })),
        el('p', { class: 'small', text: facts }),
        r.kind ? el('p', { class: 'small' }, el('code', { text: r.kind }), r.reason ? ` — ${r.reason}` : '') : null);
    }));
  } catch {
    status.textContent = 'The audit records could not be read.';
  }
}

start().catch((e) => {
  fail(String(e && e.message ? e.message : e));
  if ($('app').hidden) $('not-launched').hidden = false;
});
