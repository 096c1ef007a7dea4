// Headless Chromium: the dashboard in each of its five languages, against the real server
// binary started by scripts/test-browser with the demo district and `--time-zone
// Asia/Dhaka` (CASESYNC_TIME_ZONE).
//
// A coordinator signs in in each language and visits the overview, the case list, a case,
// the review queue and the health workers. On every page: the page's language and
// direction, no message key shown raw, no English text of the dashboard's own messages
// in a non-English page, dates in the deployment's time zone and the language's calendar
// and digits; on Farsi pages the charts mirrored (the bars' x coordinates). A screenshot
// of every page per language goes to SCREENSHOTS.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { apiToken, launchChromium, submitLogin } from './signin.mjs';

const BASE = process.env.CASESYNC_URL;
const SHOTS = process.env.SCREENSHOTS || 'screenshots';
const ZONE = process.env.CASESYNC_TIME_ZONE || 'UTC';
const LOCALES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../server/locales');
const LANGS = ['en', 'bn', 'fa', 'th', 'vi'];
const PAGES = [
  ['overview', '/dashboard'],
  ['cases', '/dashboard/cases'],
  ['case', '/dashboard/cases/demo-0005'],
  ['review', '/dashboard/review'],
  ['chws', '/dashboard/chws'],
];

/** The one-line messages of a locale (key -> text), from its .ftl files. */
function messages(lang) {
  const out = {};
  const dir = path.join(LOCALES, lang);
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.ftl'))) {
    for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) {
      const m = line.match(/^([a-z][a-z0-9_-]*) = (.*)$/);
      if (m) out[m[1]] = m[2].trim();
    }
  }
  return out;
}

const EN = messages('en');
const DIGITS = { bn: /[০-৯]/, fa: /[۰-۹]/ };
const LATIN_DIGIT = /[0-9]/;

let browser;
let token;

before(async () => {
  assert.ok(BASE, 'CASESYNC_URL is not set (run scripts/test-browser)');
  fs.mkdirSync(SHOTS, { recursive: true });
  browser = await launchChromium();
  token = await apiToken('coord', `browser-lang-${process.pid}`);
});

after(async () => {
  await browser?.close();
});

/** The stored update time of a case, through the API (UTC milliseconds). */
async function updatedAt(id) {
  const r = await fetch(`${BASE}/v1/cases/${id}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200);
  return (await r.json()).updated_at;
}

/** Checks shared by every page of `lang`. */
async function checkPage(page, lang, name) {
  assert.equal(await page.getAttribute('html', 'lang'), lang, `${lang} ${name}: lang`);
  assert.equal(
    await page.getAttribute('html', 'dir'),
    lang === 'fa' ? 'rtl' : 'ltr',
    `${lang} ${name}: dir`,
  );
  const text = await page.innerText('body');
  // No key shown raw (keys with a dash: `nav-cases`, `stage-intake`, `summary-visit-recorded`).
  for (const key of Object.keys(EN).filter((k) => k.includes('-'))) {
    assert.ok(!text.includes(key), `${lang} ${name}: raw key ${key}`);
  }
  if (lang !== 'en') {
    const mine = messages(lang);
    // No English text of the dashboard's messages (those without placeables, of two words
    // or more, that this language says otherwise).
    for (const [key, en] of Object.entries(EN)) {
      if (en.includes('{') || !en.includes(' ') || en.length < 6 || mine[key] === en) continue;
      assert.ok(!text.includes(en), `${lang} ${name}: English "${en}" (${key})`);
    }
  }
  await page.screenshot({ path: path.join(SHOTS, `lang-${lang}-${name}.png`), fullPage: true });
  return text;
}

/** The x extent (viewBox units) of every bar of a chart and of its labels. */
async function barGeometry(page, chart) {
  return page.$$eval(`svg[data-chart="${chart}"] g.bar`, (gs) =>
    gs.map((g) => {
      const r = g.querySelector('rect');
      const texts = [...g.querySelectorAll('text')];
      return {
        key: g.dataset.key,
        value: Number(g.dataset.value),
        x: Number(r.getAttribute('x')),
        w: Number(r.getAttribute('width')),
        rect: r.getBoundingClientRect().toJSON(),
        labels: texts.map((t) => t.getBoundingClientRect().toJSON()),
      };
    }),
  );
}

for (const lang of LANGS) {
  test(`the dashboard in ${lang}`, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    try {
      await page.goto(`${BASE}/login?lang=${lang}`);
      await submitLogin(page, 'coord');
      assert.equal(new URL(page.url()).pathname, '/dashboard');
      for (const [name, p] of PAGES) {
        // The choice made at sign-in is remembered (cookie): no ?lang= from here on.
        await page.goto(`${BASE}${p}`);
        const text = await checkPage(page, lang, name);
        if (DIGITS[lang] && name !== 'review') {
          assert.match(text, DIGITS[lang], `${lang} ${name}: native digits`);
        }
        if (name === 'overview') {
          assert.ok(text.includes(ZONE), `${lang}: the overview names the time zone ${ZONE}`);
          const stage = await barGeometry(page, 'stage');
          assert.ok(stage.length >= 3 && stage.some((b) => b.value > 0));
          const grown = stage.filter((b) => b.value > 0);
          if (lang === 'fa') {
            // Bars grow from the right: every bar ends at the same x, wider bars start
            // further left; the label stands right of the bar, the number left of it.
            const ends = new Set(grown.map((b) => b.x + b.w));
            assert.equal(ends.size, 1, `fa: bars end together ${[...ends]}`);
            for (const b of grown) {
              assert.ok(b.labels[0].left >= b.rect.right - 1, `fa ${b.key}: label right of bar`);
              assert.ok(b.labels[1].right <= b.rect.left + 1, `fa ${b.key}: number left of bar`);
            }
            // Months run from right to left.
            const months = await barGeometry(page, 'months');
            const news = months.filter((_, i) => i % 2 === 0);
            for (let i = 1; i < news.length; i++) {
              assert.ok(news[i].x < news[i - 1].x, `fa: month ${news[i].key} left of ${news[i - 1].key}`);
            }
          } else {
            const starts = new Set(grown.map((b) => b.x));
            assert.equal(starts.size, 1, `${lang}: bars start together`);
            for (const b of grown) assert.ok(b.labels[0].right <= b.rect.left + 1);
          }
        }
        if (name === 'cases' && lang === 'en') {
          // The update time of the first row, in the deployment's zone.
          const id = await page.getAttribute('#cases tbody tr:first-child', 'data-case');
          const shown = await page.innerText('#cases tbody tr:first-child td:last-child');
          const want = new Intl.DateTimeFormat('en', {
            timeZone: ZONE,
            dateStyle: 'medium',
            timeStyle: 'short',
          }).format(new Date(await updatedAt(id)));
          assert.equal(shown.replace(/\s+/g, ' '), want.replace(/\s+/g, ' '), `time of ${id}`);
        }
        if (name === 'case') {
          const when = await page.innerText('#timeline li:first-child span.muted');
          if (lang === 'fa') {
            // Solar Hijri year (14xx) in Persian digits.
            assert.match(when, /۱۴۰[۰-۹]/, `fa: Solar Hijri date ${when}`);
            assert.ok(!LATIN_DIGIT.test(when), `fa: no Latin digit in ${when}`);
          }
          if (lang === 'th') assert.match(when, /25[6-9][0-9]/, `th: Buddhist year in ${when}`);
          if (lang === 'bn') assert.match(when, /[০-৯]/, `bn: Bengali digits in ${when}`);
        }
      }
    } finally {
      await context.close();
    }
  });
}
