// Helpers for the real-browser suite (headless Chromium through playwright-core), run by
// scripts/browser.sh against `wrangler dev`. Every page a test visits goes through check():
// no horizontal overflow, no Content-Security-Policy violation in the console, zero serious
// or critical axe-core violations, and a screenshot in the run directory.
import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the browser suite with scripts/browser.sh (make test)`);
  return v;
}

export const env = {
  issuer: need('BROWSER_ISSUER'),
  rp: need('BROWSER_RP'),
  clientId: need('BROWSER_CLIENT_ID'),
  clientSecret: need('BROWSER_CLIENT_SECRET'),
  clientName: need('BROWSER_CLIENT_NAME'),
  product: need('BROWSER_PRODUCT'),
  password: need('BROWSER_PASSWORD'),
  interactionTtl: Number(need('BROWSER_INTERACTION_TTL')),
  shots: need('BROWSER_SCREENSHOTS'),
  readme: process.env.BROWSER_README_SHOTS || '',
  chromium: process.env.CHROMIUM || '/usr/bin/chromium',
  // The operator tool and what it needs to reach this run's provider and local KV.
  admin: need('BROWSER_ADMIN'),
  state: need('BROWSER_STATE'),
  wrangler: need('BROWSER_WRANGLER'),
  adminToken: /^ADMIN_TOKEN='([^']+)'/m.exec(readFileSync(need('BROWSER_DEV_VARS'), 'utf8'))?.[1],
};
export const callback = `${env.rp}/callback`;
export const signedOut = `${env.rp}/signed-out`;

/// The two layouts every scenario runs in.
export const VIEWPORTS = {
  desktop: { viewport: { width: 1280, height: 800 } },
  phone: {
    viewport: { width: 360, height: 740 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36',
  },
};

const AXE = readFileSync(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');

let browser;
export async function launch() {
  browser ??= await chromium.launch({
    executablePath: env.chromium,
    // As root in a container; and no background traffic to hosts this machine cannot reach.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  return browser;
}

export async function close() {
  await browser?.close();
  browser = undefined;
}

/// A new browser (its own cookies): `vp` is 'desktop' or 'phone'; `options` adds Playwright
/// context options (locale, colorScheme...).
export async function newBrowser(vp, options = {}) {
  const b = await launch();
  const context = await b.newContext({ ...VIEWPORTS[vp], locale: 'en-US', ...options });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.problems = problems;
  return { context, page };
}

/// PKCE (RFC 7636 Appendix B's verifier and its S256 challenge): every client uses it.
export const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

/// The authorization request of the seeded client, as an application would send it.
export function authorizeUrl(params = {}) {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: env.clientId,
    redirect_uri: callback,
    scope: 'openid profile email',
    state: `st-${Math.random().toString(36).slice(2)}`,
    nonce: `n-${Math.random().toString(36).slice(2)}`,
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
    ...params,
  });
  return `${env.issuer}/authorize?${q}`;
}

/// The checks every page passes; `name` names its screenshot.
export async function check(page, name, vp) {
  await page.waitForLoadState('load');
  assert.deepEqual(page.problems, [], `console problems on ${name}: ${page.problems.join('\n')}`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${name} (${vp}): horizontal overflow of ${overflow}px`);
  await page.evaluate(AXE);
  const results = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { resultTypes: ['violations'] }));
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`),
    [],
    `${name} (${vp}): axe-core violations`,
  );
  mkdirSync(env.shots, { recursive: true });
  await page.screenshot({ path: join(env.shots, `${name}-${vp}.png`), fullPage: true });
}

/// Fills and submits the sign-in form.
export async function signIn(page, username, password = env.password) {
  await page.fill('#username', username);
  await page.fill('#password', password);
  await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
}

/// Waits until the browser is at the application's `url` (a prefix); returns its query.
export async function landedAt(page, url) {
  try {
    await page.waitForURL((u) => u.href.startsWith(url), { timeout: 15_000 });
  } catch (e) {
    throw new Error(`the browser did not reach ${url}: it is at ${page.url()}; console: ${page.problems.join(' | ')}`);
  }
  return new URL(page.url()).searchParams;
}

/// The code flow's last step, as the application's server does it.
export async function redeem(code) {
  const r = await fetch(`${env.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${env.clientId}:${env.clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: callback, code_verifier: VERIFIER }),
  });
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  return body;
}

/// The visible text of the element matching `selector`.
export async function text(page, selector) {
  return (await page.textContent(selector))?.replace(/\s+/g, ' ').trim() ?? '';
}

export { assert };
