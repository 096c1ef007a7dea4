// Headless Chromium: the staff of a registered agency (the demo's legal aid centre, user
// legal1), against the real server binary started by scripts/test-browser with the demo
// district.
//
// The agency user signs in and lands on the referrals addressed to the agency. The page
// must list exactly the referrals the JSON API gives the same user, each with only what
// the referral shares (client name and phone, service, the referral's own reason, who
// referred) — never the case's notes, goals, household, village or other referrals,
// which are read independently through the coordinator's API. Then the user accepts a
// referral and later completes it with an outcome written in Farsi; both answers must be
// in the case itself (what the referring worker's phone pulls at its next sync: the
// Kotlin suite shows the phone side), and a second answer to a completed referral is
// refused. Screenshots (English and Farsi, desktop and phone) go to SCREENSHOTS.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { apiToken, launchChromium, submitLogin } from './signin.mjs';

const BASE = process.env.CASESYNC_URL;
const SHOTS = process.env.SCREENSHOTS || 'screenshots';
const PHONE = { width: 390, height: 844 };
const OUTCOME = 'مشاوره حقوقی داده شد؛ دستور حمایتی ثبت شد';

let browser;
let page;
let coordToken;
let agencyToken;

async function api(pathname, tok, init = {}) {
  const r = await fetch(`${BASE}${pathname}`, {
    ...init,
    headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json', ...(init.headers || {}) },
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

/** The referrals the JSON API gives the agency user. */
async function shared() {
  const r = await api('/v1/agency/referrals', agencyToken);
  assert.equal(r.status, 200, 'GET /v1/agency/referrals');
  return r.body;
}

/** The page's rows: referral id -> the text of each cell. */
async function rows() {
  return page.$$eval('#referrals tbody tr', (trs) =>
    Object.fromEntries(
      trs.map((tr) => [tr.dataset.referral, [...tr.querySelectorAll('td')].map((td) => td.innerText.trim())]),
    ),
  );
}

/** The case as the coordinator's API gives it (what a phone in scope pulls). */
async function caseJson(id) {
  const r = await api(`/v1/cases/${encodeURIComponent(id)}`, coordToken);
  assert.equal(r.status, 200, `GET /v1/cases/${id}`);
  return r.body;
}

function referralOf(c, id) {
  return Object.values(c.referrals || {}).find((r) => r.id === id);
}

async function shot(name, viewport) {
  if (viewport) await page.setViewportSize(viewport);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

before(async () => {
  assert.ok(BASE, 'CASESYNC_URL is not set (run scripts/test-browser)');
  fs.mkdirSync(SHOTS, { recursive: true });
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  coordToken = await apiToken('coord', `browser-agency-coord-${process.pid}`);
  agencyToken = await apiToken('legal1', `browser-agency-${process.pid}`);
});

after(async () => {
  await browser?.close();
});

test('the agency user sees exactly the referrals addressed to the agency, and only what each shares', async () => {
  await page.goto(`${BASE}/login`);
  await submitLogin(page, 'legal1');
  assert.equal(new URL(page.url()).pathname, '/dashboard/agency');

  const list = await shared();
  assert.ok(list.length >= 2, `the demo addresses referrals to the legal aid centre (got ${list.length})`);
  assert.ok(list.some((r) => r.status === 'made'), 'at least one referral still waits for an answer');
  const onPage = await rows();
  assert.deepEqual(Object.keys(onPage).sort(), list.map((r) => r.referral_id).sort());

  const text = await page.innerText('main');
  // What the page may show: the shared fields of every listed referral (a household
  // member of one case may be another listed client, by name).
  const allowed = new Set(
    list.flatMap((r) => [r.client_name, r.client_phone, r.reason, r.outcome, r.decline_reason]).filter(Boolean),
  );
  for (const r of list) {
    const cells = onPage[r.referral_id];
    assert.equal(cells[0], r.client_name);
    assert.equal(cells[1], r.client_phone || '');
    assert.equal(cells[3], r.reason || '');
    assert.equal(cells[4], r.referred_by);

    // What the case holds beyond the referral never reaches the page.
    const c = await caseJson(r.case_id);
    const mine = referralOf(c, r.referral_id);
    assert.equal(mine.agency_id, 'nari-legal');
    const secrets = [
      ...Object.values(c.visits || {}).flatMap((v) => [v.notes, v.progress, v.obstacles, v.actions]),
      ...Object.values(c.plan?.goals || {}).map((g) => g.text),
      ...Object.values(c.client?.household || {}).map((m) => m.name),
      c.client?.village,
      c.assessment?.notes,
      ...Object.values(c.referrals || {})
        .filter((o) => o.id !== r.referral_id)
        .flatMap((o) => [o.reason, o.outcome, o.decline_reason]),
    ].filter((s) => typeof s === 'string' && s.trim().length >= 4 && !allowed.has(s.trim()));
    assert.ok(secrets.length > 0, `case ${r.case_id} holds something beyond the referral`);
    for (const s of secrets) {
      assert.ok(!text.includes(s.trim()), `case ${r.case_id}: the page shows ${JSON.stringify(s)}`);
    }
  }
  await shot('agency-01-en');

  // Nothing else of the dashboard, nor the case API, is the agency user's.
  for (const p of ['/dashboard', '/dashboard/cases', `/dashboard/cases/${list[0].case_id}`, '/dashboard/review']) {
    const r = await page.goto(`${BASE}${p}`);
    assert.equal(r.status(), 403, `GET ${p} as the agency user`);
  }
  const direct = await api(`/v1/cases/${encodeURIComponent(list[0].case_id)}`, agencyToken);
  assert.ok([403, 404].includes(direct.status), `GET /v1/cases/{id} as the agency user: ${direct.status}`);
});

test('accepted, then completed with an outcome: both answers are in the case the phone pulls', async () => {
  await page.goto(`${BASE}/dashboard/agency`);
  const waiting = (await shared()).find((r) => r.status === 'made');
  assert.ok(waiting, 'a referral waiting for an answer');
  const row = `#referrals tr[data-referral="${waiting.referral_id}"]`;

  await Promise.all([page.waitForNavigation(), page.click(`${row} button[name=accept]`)]);
  assert.equal(new URL(page.url()).pathname, '/dashboard/agency');
  let c = await caseJson(waiting.case_id);
  let r = referralOf(c, waiting.referral_id);
  assert.equal(r.status, 'accepted');
  assert.ok(r.accepted_on, 'accepted_on is set');
  assert.equal(r.answered_by, 'legal1');
  assert.equal(r.completed_on ?? null, null);

  await page.fill(`${row} form:has(button[name=complete]) input[name=text]`, OUTCOME);
  await Promise.all([page.waitForNavigation(), page.click(`${row} button[name=complete]`)]);
  c = await caseJson(waiting.case_id);
  r = referralOf(c, waiting.referral_id);
  assert.equal(r.status, 'completed');
  assert.equal(r.outcome, OUTCOME);
  assert.ok(r.completed_on >= r.accepted_on, 'completed on or after the day it was accepted');
  assert.match(await page.innerText(`${row} td.status`), new RegExp(OUTCOME));
  // A completed referral offers no more answers.
  assert.equal(await page.locator(`${row} button`).count(), 0);

  await page.goto(`${BASE}/dashboard/agency?lang=fa`);
  assert.equal(await page.getAttribute('html', 'dir'), 'rtl');
  assert.equal(await page.getAttribute('html', 'lang'), 'fa');
  await shot('agency-02-fa');
  await shot('agency-03-fa-phone', PHONE);
});

test('a second answer to a completed referral is refused and changes nothing', async () => {
  const done = (await shared()).find((r) => r.status === 'completed');
  assert.ok(done, 'a completed referral');
  const before = referralOf(await caseJson(done.case_id), done.referral_id);
  const again = await api(
    `/v1/agency/referrals/${encodeURIComponent(done.case_id)}/${encodeURIComponent(done.referral_id)}`,
    agencyToken,
    { method: 'POST', body: JSON.stringify({ action: 'decline', date: '2026-01-01', reason: 'late' }) },
  );
  assert.equal(again.status, 409, JSON.stringify(again.body));
  assert.deepEqual(referralOf(await caseJson(done.case_id), done.referral_id), before);
});
