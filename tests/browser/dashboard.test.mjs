// Headless Chromium tests of the coordinator dashboard, against the real server binary
// started with the demo district by scripts/test-browser.
//
// The numbers on the charts are checked against an independent computation: the case
// ids and stages come from the CSV export, every case's JSON from the API
// (GET /v1/cases/{id}), and the indicators are recomputed here from the rules in
// DESIGN.md (follow-ups, months), not by the server's code.
//
// Environment: CASESYNC_URL (http://127.0.0.1:PORT), CASESYNC_DEMO_OUT (the server's
// stdout, with the demo passwords), CHROMIUM (executable), SCREENSHOTS (directory).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { apiToken, submitLogin } from './signin.mjs';

const BASE = process.env.CASESYNC_URL;
const SHOTS = process.env.SCREENSHOTS || 'screenshots';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

/** Parses CSV (RFC 4180: quotes, doubled quotes, commas and newlines in quotes). */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  text = text.replace(/^\uFEFF/, '');
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else if (c !== '\r') {
      cell += c;
    }
  }
  if (cell !== '' || row.length) {
    row.push(cell);
    rows.push(row);
  }
  const [header, ...body] = rows;
  return body.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

const todayUtc = () => new Date().toISOString().slice(0, 10);

/** Open follow-up dates of a case (DESIGN: next visit of the latest visit, active goals'
 * evaluation, open referrals' follow-up, plan review; none when closed). */
function followUps(c) {
  if (c.stage === 'closed') return [];
  const out = [];
  const visits = Object.values(c.visits || {});
  if (visits.length) {
    visits.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : a.id < b.id ? -1 : 1));
    const latest = visits[visits.length - 1];
    if (latest.next_visit_date) out.push(latest.next_visit_date);
  }
  for (const g of Object.values(c.plan?.goals || {})) {
    if (g.status === 'active' && g.evaluate_by) out.push(g.evaluate_by);
  }
  for (const r of Object.values(c.referrals || {})) {
    if ((r.status === 'made' || r.status === 'accepted') && r.follow_up_date) out.push(r.follow_up_date);
  }
  if (c.plan?.review_date) out.push(c.plan.review_date);
  return out;
}

/** The last six months, `YYYY-MM`, oldest first. */
function lastMonths(n = 6) {
  const now = new Date();
  const out = [];
  for (let back = n - 1; back >= 0; back--) {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - back, 1));
    out.push(d.toISOString().slice(0, 7));
  }
  return out;
}

/** Indicators recomputed from the cases' JSON. */
function expected(cases) {
  const today = todayUtc();
  const byStage = {};
  const referrals = { made: 0, accepted: 0, completed: 0, declined: 0 };
  const overdue = {};
  const months = Object.fromEntries(lastMonths().map((m) => [m, { new: 0, closed: 0 }]));
  for (const c of cases) {
    byStage[c.stage] = (byStage[c.stage] || 0) + 1;
    for (const r of Object.values(c.referrals || {})) referrals[r.status] += 1;
    const late = followUps(c).filter((d) => d < today).length;
    if (late) overdue[c.assigned_to] = (overdue[c.assigned_to] || 0) + late;
    const start = c.intake?.date || new Date(c.created_at).toISOString().slice(0, 10);
    if (months[start.slice(0, 7)]) months[start.slice(0, 7)].new += 1;
    if (c.stage === 'closed' && c.closure && months[c.closure.date.slice(0, 7)]) {
      months[c.closure.date.slice(0, 7)].closed += 1;
    }
  }
  return { byStage, referrals, overdue, months };
}

let context;
let page;
let token;

/** GET a case as JSON through the API (as the coordinator, with a bearer token). */
async function apiCase(id) {
  const r = await fetch(`${BASE}/v1/cases/${id}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200, `GET /v1/cases/${id}`);
  return r.json();
}

/** The bars of one chart: key (series:key for column charts) -> value. */
async function chart(name) {
  return page.$$eval(`svg[data-chart="${name}"] g.bar`, (gs) =>
    Object.fromEntries(
      gs.map((g) => [
        (g.dataset.series ? `${g.dataset.series}:` : '') + g.dataset.key,
        Number(g.dataset.value),
      ]),
    ),
  );
}

async function shot(name, viewport = DESKTOP) {
  await page.setViewportSize(viewport);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  await page.setViewportSize(DESKTOP);
}

async function pageBytes(url) {
  const r = await context.request.get(url);
  return (await r.body()).length;
}

before(async () => {
  assert.ok(BASE, 'CASESYNC_URL is not set (run scripts/test-browser)');
  fs.mkdirSync(SHOTS, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'casesync-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: DESKTOP,
    acceptDownloads: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = context.pages()[0] || (await context.newPage());
  token = await apiToken('coord', `browser-test-${process.pid}`);
});

after(async () => {
  await context?.close();
});

test('a signed-out visitor lands on the login page; a wrong password is refused', async () => {
  await page.goto(`${BASE}/`);
  assert.equal(new URL(page.url()).pathname, '/login');
  await shot('01-login-phone', PHONE);
  await submitLogin(page, 'coord', 'not the password');
  assert.match(await page.textContent('#login-error'), /Wrong username or password/);
});

test('the coordinator signs in with an HttpOnly, SameSite=Strict session cookie', async () => {
  await submitLogin(page, 'coord');
  assert.equal(new URL(page.url()).pathname, '/dashboard');
  const cookie = (await context.cookies()).find((c) => c.name === 'casesync_session');
  assert.ok(cookie, 'session cookie');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  assert.equal(await page.evaluate(() => document.cookie.includes('casesync_session')), false);
});

test('the charts show the numbers of the seeded district', async () => {
  // Independent data: ids and stages from the CSV export, the rest from the JSON API.
  const csv = await context.request.get(`${BASE}/dashboard/export/cases.csv`);
  assert.equal(csv.status(), 200);
  const rows = parseCsv(await csv.text());
  assert.equal(rows.length, 200);
  const cases = [];
  for (const r of rows) {
    const c = await apiCase(r.id);
    assert.equal(c.stage, r.stage, r.id);
    assert.equal(c.client.name, r.name, r.id);
    cases.push(c);
  }
  const want = expected(cases);

  await page.goto(`${BASE}/dashboard`);
  const stages = await chart('stage');
  for (const s of ['intake', 'assessment', 'planning', 'implementation', 'monitoring', 'closed']) {
    assert.equal(stages[s], want.byStage[s] || 0, `stage ${s}`);
  }
  assert.deepEqual(await chart('referrals'), want.referrals);
  const overdue = await chart('overdue');
  assert.deepEqual(Object.keys(overdue).sort(), ['chw1', 'chw2', 'chw3']);
  for (const w of Object.keys(overdue)) assert.equal(overdue[w], want.overdue[w] || 0, `overdue ${w}`);
  assert.ok(Object.values(overdue).some((v) => v > 0), 'the demo has overdue follow-ups');
  const months = await chart('months');
  for (const [m, v] of Object.entries(want.months)) {
    assert.equal(months[`new:${m}`], v.new, `new ${m}`);
    assert.equal(months[`closed:${m}`], v.closed, `closed ${m}`);
  }
  // Every bar's number is also a text label and a <title>.
  const label = await page.$eval('svg[data-chart="stage"] g.bar[data-key="closed"]', (g) => ({
    text: g.querySelector('text.v').textContent,
    title: g.querySelector('title').textContent,
  }));
  assert.equal(label.text, String(want.byStage.closed));
  assert.match(label.title, new RegExp(`: ${want.byStage.closed}$`));
  assert.equal(await page.textContent('[data-kpi="total"] b'), '200');
  assert.equal(await page.textContent('[data-kpi="conflicts"] b'), '1');
  assert.equal(await page.textContent('[data-kpi="after-closure"] b'), '1');
  // The JSON endpoint agrees.
  const j = await (await context.request.get(`${BASE}/dashboard/indicators.json`)).json();
  assert.equal(j.indicators.total_cases, 200);
  assert.equal(j.indicators.cases_by_stage.closed, want.byStage.closed);
  await shot('02-overview-desktop');
  await shot('03-overview-phone', PHONE);
});

test('search and filters', async () => {
  await page.goto(`${BASE}/dashboard`);
  await page.click('nav a[href="/dashboard/cases"]');
  const rows = parseCsv(await (await context.request.get(`${BASE}/dashboard/export/cases.csv`)).text());
  // Stage and health worker.
  await page.selectOption('select[name=stage]', 'closed');
  await page.selectOption('select[name=chw]', 'chw3');
  await page.click('form.filters button[type=submit]');
  const want = rows.filter((r) => r.stage === 'closed' && r.chw === 'chw3').length;
  assert.ok(want > 0);
  assert.equal(Number(await page.getAttribute('#found', 'data-count')), want);
  const shown = await page.$$eval('td[data-col="stage"]', (tds) => tds.map((t) => t.dataset.value));
  assert.ok(shown.every((s) => s === 'closed'));
  // A Bengali substring, a Vietnamese name in capitals.
  await page.goto(`${BASE}/dashboard/cases`);
  await page.fill('input[name=q]', 'নাসরিন');
  await page.click('form.filters button[type=submit]');
  const names = await page.$$eval('bdi.name', (b) => b.map((x) => x.textContent));
  assert.ok(names.length > 0 && names.every((n) => n.includes('নাসরিন')));
  assert.equal(names.length, rows.filter((r) => r.name.includes('নাসরিন')).length);
  await page.fill('input[name=q]', 'NGUYỄN');
  await page.click('form.filters button[type=submit]');
  const vi = await page.$$eval('bdi.name', (b) => b.map((x) => x.textContent));
  assert.ok(vi.length > 0 && vi.every((n) => n.startsWith('Nguyễn')));
  // Overdue only.
  await page.goto(`${BASE}/dashboard/cases`);
  await page.check('input[name=overdue]');
  await page.click('form.filters button[type=submit]');
  const today = todayUtc();
  const late = rows.filter((r) => r.next_due && r.next_due < today).length;
  assert.equal(Number(await page.getAttribute('#found', 'data-count')), late);
  await shot('04-cases-overdue-phone', PHONE);
});

test('Farsi names are right-to-left; Thai and Vietnamese render with their language', async () => {
  await page.goto(`${BASE}/dashboard/cases/demo-0005`);
  const name = await page.$eval('#client-name', (e) => ({
    text: e.textContent,
    dir: getComputedStyle(e).direction,
    lang: e.lang,
  }));
  assert.equal(name.text, 'مریم احمدی');
  assert.equal(name.dir, 'rtl');
  assert.equal(name.lang, 'fa');
  await page.goto(`${BASE}/dashboard/cases?q=${encodeURIComponent('ใจดี')}`);
  const thai = await page.$eval('bdi.name', (e) => ({ lang: e.lang, dir: getComputedStyle(e).direction }));
  assert.deepEqual(thai, { lang: 'th', dir: 'ltr' });
  const charset = await page.evaluate(() => document.characterSet);
  assert.equal(charset, 'UTF-8');
});

test('resolving a conflict and acknowledging activity after closure', async () => {
  await page.goto(`${BASE}/dashboard`);
  await page.click('nav a[href="/dashboard/review"]');
  const card = page.locator('.conflict[data-case="demo-0007"][data-path="assessment.safety_risk"]');
  assert.equal(await card.count(), 1);
  const values = await card.locator('tbody tr td:first-child bdi').allTextContents();
  assert.deepEqual([...values].sort(), ['high', 'medium']);
  await shot('05-review-desktop');
  // Keep the health worker's value.
  await card.locator('tbody tr', { hasText: 'medium' }).locator('button').click();
  assert.equal(new URL(page.url()).pathname, '/dashboard/review');
  assert.equal(await page.locator('.conflict[data-case="demo-0007"]').count(), 0);
  const c = await apiCase('demo-0007');
  assert.equal(c.assessment.safety_risk, 'medium');
  // Activity after closure.
  await page.locator('#after-closure li[data-case="demo-0005"] button').click();
  assert.equal(await page.locator('#after-closure li[data-case="demo-0005"]').count(), 0);
  assert.equal((await apiCase('demo-0005')).activity_after_closure, false);
  // The timeline shows who did it.
  await page.goto(`${BASE}/dashboard/cases/demo-0007`);
  const first = await page.textContent('#timeline li:first-child');
  assert.match(first, /coord/);
  assert.match(first, /resolved conflicting edits of assessment\.safety_risk/);
});

test('reassigning and closing a case', async () => {
  const before = await apiCase('demo-0001');
  const to = before.assigned_to === 'chw1' ? 'chw3' : 'chw1';
  await page.goto(`${BASE}/dashboard/cases/demo-0001`);
  await page.selectOption('#reassign select[name=to]', to);
  await page.click('#reassign button[type=submit]');
  assert.equal(await page.getAttribute('#chw', 'data-value'), to);
  assert.equal((await apiCase('demo-0001')).assigned_to, to);
  assert.match(await page.textContent('#timeline li:first-child'), /reassigned the case/);

  const open = await apiCase('demo-0004');
  assert.notEqual(open.stage, 'closed');
  await page.goto(`${BASE}/dashboard/cases/demo-0004`);
  await page.selectOption('#close select[name=reason]', 'goals_achieved');
  await page.check('#close input[name=agreed]');
  await page.fill('#close textarea[name=summary]', 'লক্ষ্য অর্জিত; ক্লায়েন্ট সম্মত।');
  await page.click('#close button[type=submit]');
  assert.equal(await page.getAttribute('#stage', 'data-value'), 'closed');
  const closed = await apiCase('demo-0004');
  assert.equal(closed.stage, 'closed');
  assert.equal(closed.closure.client_agreed, true);
  assert.equal(closed.closure.summary, 'লক্ষ্য অর্জিত; ক্লায়েন্ট সম্মত।');
  await shot('06-case-closed-phone', PHONE);
});

test('a POST without the session CSRF token is refused and changes nothing', async () => {
  const before = await apiCase('demo-0002');
  const r = await context.request.post(`${BASE}/dashboard/cases/demo-0002/reassign`, {
    form: { csrf: 'forged', to: before.assigned_to === 'chw1' ? 'chw2' : 'chw1' },
    maxRedirects: 0,
  });
  assert.equal(r.status(), 403);
  assert.equal((await apiCase('demo-0002')).assigned_to, before.assigned_to);
});

test('exports download as CSV', async () => {
  await page.goto(`${BASE}/dashboard`);
  const [cases] = await Promise.all([
    page.waitForEvent('download'),
    page.click('a[href="/dashboard/export/cases.csv"]'),
  ]);
  assert.equal(cases.suggestedFilename(), 'cases.csv');
  const rows = parseCsv(fs.readFileSync(await cases.path(), 'utf8'));
  assert.equal(rows.length, 200);
  assert.deepEqual(Object.keys(rows[0]), ['id', 'name', 'stage', 'chw', 'village', 'next_due', 'updated']);
  assert.ok(rows.some((r) => r.name === 'مریم احمدی'));
  const [ind] = await Promise.all([
    page.waitForEvent('download'),
    page.click('a[href="/dashboard/export/indicators.csv"]'),
  ]);
  const indicators = parseCsv(fs.readFileSync(await ind.path(), 'utf8'));
  const total = indicators.find((r) => r.indicator === 'total_cases');
  assert.equal(total.value, '200');
  const closed = indicators.find((r) => r.indicator === 'cases_by_stage' && r.key === 'closed');
  assert.equal(Number(closed.value), rows.filter((r) => r.stage === 'closed').length);
});

test('the interface switches to Bengali', async () => {
  await page.goto(`${BASE}/dashboard`);
  await page.click('a[hreflang="bn"]');
  assert.equal(await page.getAttribute('html', 'lang'), 'bn');
  assert.equal(await page.textContent('nav a[href="/dashboard/cases"]'), 'কেস');
  assert.equal(await page.textContent('h1'), 'জেলার সারসংক্ষেপ');
  // The choice is kept by a cookie on the next page.
  await page.goto(`${BASE}/dashboard/chws`);
  assert.equal(await page.getAttribute('html', 'lang'), 'bn');
  await page.goto(`${BASE}/dashboard`);
  await shot('07-overview-bengali-phone', PHONE);
  await page.goto(`${BASE}/dashboard/cases?lang=en`);
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
});

test('every page is under 100 KB', async () => {
  const sizes = {};
  for (const p of [
    '/dashboard',
    '/dashboard/chws',
    '/dashboard/review',
    '/dashboard/cases',
    '/dashboard/cases?page=4',
    '/dashboard/cases/demo-0005',
    '/dashboard/cases/demo-0199',
  ]) {
    sizes[p] = await pageBytes(`${BASE}${p}`);
    assert.ok(sizes[p] < 100 * 1024, `${p}: ${sizes[p]} bytes`);
  }
  console.log('page sizes (bytes):', JSON.stringify(sizes));
});

test('signing out ends the session', async () => {
  await page.goto(`${BASE}/dashboard`);
  await page.click('form[action="/logout"] button');
  assert.equal(new URL(page.url()).pathname, '/login');
  await page.goto(`${BASE}/dashboard/cases`);
  assert.equal(new URL(page.url()).pathname, '/login');
});
