// What people see when something goes wrong: a wrong password, a locked account, sign-ins
// racing each other, an unknown application, an unregistered redirect address, an expired form.
import { test, after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { assert, authorizeUrl, callback, check, close, env, newBrowser, signIn, text } from './lib.mjs';

after(close);

/// A sign-in form fetched as a script would (its own anti-CSRF cookie), to post later.
async function loginForm() {
  const r = await fetch(authorizeUrl(), { redirect: 'manual' });
  const html = await r.text();
  const tx = /name="tx" value="([^"]+)"/.exec(html)?.[1];
  const cookie = (r.headers.get('set-cookie') || '').split(';')[0];
  assert.ok(tx && cookie, 'a sign-in form');
  return {
    async submit(username, password) {
      const res = await fetch(`${env.issuer}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
        body: new URLSearchParams({ tx, username, password }),
      });
      const body = await res.text();
      const alert = /role="alert">([^<]*)</.exec(body)?.[1] ?? '';
      return { status: res.status, alert };
    },
  };
}

for (const vp of ['desktop', 'phone']) {
  test(`${vp}: a wrong password is announced, the password cleared and focused`, async () => {
    const { context, page } = await newBrowser(vp);
    await page.goto(authorizeUrl());
    await signIn(page, `wrong-${vp}`, 'not the password');
    await check(page, 'sign-in-wrong-password', vp);
    assert.equal(await text(page, '[role=alert]'), 'Incorrect username or password.');
    assert.equal(await page.inputValue('#username'), `wrong-${vp}`, 'the username is kept');
    assert.equal(await page.inputValue('#password'), '', 'the password is cleared');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'password', 'focus is in the password field');
    assert.equal(await page.getAttribute('#password', 'aria-describedby'), 'login-error');
    // The focus ring is visible (WCAG 2.4.7).
    const outline = await page.$eval('#password', (e) => getComputedStyle(e).outlineStyle);
    assert.notEqual(outline, 'none');
    await context.close();
  });

  test(`${vp}: failed attempts lock the account, and the page says so`, async () => {
    const { context, page } = await newBrowser(vp);
    const user = `locked-${vp}`;
    await page.goto(authorizeUrl());
    // Five failures (LOGIN_MAX_FAILURES), waiting out the growing delays between them.
    for (let i = 0; i < 5; i++) {
      for (;;) {
        const r = page.waitForResponse((res) => res.url().endsWith('/login'));
        await signIn(page, user, `wrong-${i}`);
        const res = await r;
        if (res.status() !== 429) break;
        await sleep(Number(res.headers()['retry-after'] || 1) * 1000);
      }
    }
    const r = page.waitForResponse((res) => res.url().endsWith('/login'));
    await signIn(page, user, env.password);
    const res = await r;
    assert.equal(res.status(), 429);
    await check(page, 'sign-in-locked', vp);
    const message = await text(page, '[role=alert]');
    assert.match(message, /Too many failed sign-in attempts for this account\. Sign-in is locked for 15 minutes\./);
    assert.ok(Number(res.headers()['retry-after']) > 800);
    await context.close();
  });

  test(`${vp}: sign-ins racing each other are never told that attempts failed`, async () => {
    // The browser's sign-in races 12 others of the same account (another device, a script),
    // sent at once from here, each with its own form: more than the account lets through at
    // once (LOGIN_MAX_FAILURES), fewer than the address does (the other scenarios sign in from
    // it meanwhile). Every refusal must say what happened (sign-ins in progress), never that
    // attempts failed: none did.
    const user = `race-${vp}`;
    const { context, page } = await newBrowser(vp);
    const texts = [];
    let busy = 0;
    for (let round = 0; round < 5 && busy === 0; round++) {
      await page.goto(authorizeUrl());
      await page.fill('#username', user);
      await page.fill('#password', env.password);
      const forms = await Promise.all(Array.from({ length: 12 }, () => loginForm()));
      const [, ...others] = await Promise.all([
        Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]),
        ...forms.map((f) => f.submit(user, env.password)),
      ]);
      if ((await text(page, 'h1')) === 'Sign in') texts.push(await text(page, '[role=alert]'));
      for (const r of others) if (r.status === 429) texts.push(r.alert);
      busy = texts.filter((t) => /in progress/.test(t)).length;
    }
    assert.ok(busy > 0, 'the race happened: some sign-ins were asked to wait');
    for (const t of texts) {
      assert.doesNotMatch(t, /fail/i, `no attempt failed, but a page says: ${t}`);
      assert.match(t, /in progress|from your network/, t);
    }
    await context.close();
  });

  test(`${vp}: error pages for an unknown application and an unregistered address`, async () => {
    const { context, page } = await newBrowser(vp);
    await page.goto(authorizeUrl({ client_id: 'no-such-app' }));
    await check(page, 'error-unknown-client', vp);
    assert.equal(await text(page, 'h1'), 'Unknown application');
    assert.match(await text(page, '.detail'), /invalid_client/);
    assert.ok(page.url().startsWith(env.issuer), 'the browser stays here');

    await page.goto(authorizeUrl({ redirect_uri: 'https://evil.example/cb' }));
    await check(page, 'error-redirect-uri', vp);
    assert.equal(await text(page, 'h1'), 'Invalid redirect address');
    assert.ok(page.url().startsWith(env.issuer), 'never sent to an unregistered address');

    await page.goto(`${env.issuer}/no/such/page`);
    await check(page, 'error-not-found', vp);
    assert.equal(await text(page, 'h1'), 'Not found');
    await context.close();
  });
}

test('an expired sign-in form says so', async () => {
  const { context, page } = await newBrowser('desktop');
  await page.goto(authorizeUrl());
  await sleep((env.interactionTtl + 1) * 1000);
  await signIn(page, 'first-desktop');
  await check(page, 'error-expired', 'desktop');
  assert.equal(await text(page, 'h1'), 'This page has expired');
  assert.match(await text(page, '.lead'), /Return to the application and sign in again/);
  await context.close();
});
