// Signing in, shared by the browser tests: the demo passwords from the server's output,
// an API token, and the dashboard's login form.
//
// Environment: CASESYNC_URL (http://127.0.0.1:PORT), CASESYNC_DEMO_OUT (the server's
// stdout, with the demo passwords).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { chromium } from 'playwright-core';

const BASE = process.env.CASESYNC_URL;

/** The demo password of `user`, from the server's output. */
export function password(user) {
  const out = fs.readFileSync(process.env.CASESYNC_DEMO_OUT, 'utf8');
  const line = out.split('\n').find((l) => l.trim().startsWith(`${user} `));
  const m = line && line.match(/password: (\S+)/);
  assert.ok(m, `no demo password for ${user} in the server output`);
  return m[1];
}

/** An access token of `user` through `POST /v1/auth/login`, as device `deviceId`. */
export async function apiToken(user, deviceId) {
  const login = await fetch(`${BASE}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: user, password: password(user), device_id: deviceId }),
  });
  assert.equal(login.status, 200);
  return (await login.json()).access_token;
}

/** Fills the dashboard's login form on `page` (already at /login) as `user` with
 * `pass` (the demo password unless given) and submits it. */
export async function submitLogin(page, user, pass = password(user)) {
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', pass);
  await page.click('button[type=submit]');
}

/** A headless Chromium (CHROMIUM, else /usr/bin/chromium) with a throw-away profile. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
}
