// Signing in as people do: first time with consent, coming back with a live session, coming
// back in a new browser (a sign-in POST that redirects straight to the application: the page's
// CSP form-action must allow it), prompt=login, prompt=consent, and Deny.
import { test, after } from 'node:test';
import {
  assert, authorizeUrl, callback, check, close, env, landedAt, newBrowser, redeem, signIn, text,
} from './lib.mjs';

after(close);

for (const vp of ['desktop', 'phone']) {
  const user = `first-${vp}`;

  test(`${vp}: first sign-in, consent, then the returning user`, async (t) => {
    const { context, page } = await newBrowser(vp);
    const state = 'first-visit';
    await page.goto(authorizeUrl({ state }));
    await check(page, 'sign-in', vp);
    assert.equal(await text(page, 'h1'), 'Sign in');
    assert.match(await text(page, '.lead'), new RegExp(`to continue to ${env.clientName}`));
    assert.equal(await text(page, '.brand .product'), env.product);
    // `webauthn`: the field offers passkeys too (WebAuthn Level 3, conditional mediation).
    assert.equal(await page.getAttribute('#username', 'autocomplete'), 'username webauthn');
    assert.equal(await page.getAttribute('#password', 'autocomplete'), 'current-password');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'username', 'the username field has the focus');

    await signIn(page, user);
    await check(page, 'consent', vp);
    assert.equal(await text(page, 'h1'), 'Allow access?');
    assert.match(await text(page, '.lead'), new RegExp(`${env.clientName} wants to`));
    const items = await page.$$eval('.scopes li', (li) => li.map((x) => x.textContent.trim()));
    assert.deepEqual(items, [
      'Sign you in',
      'See your basic profile: name, username, picture',
      'See your email address and whether it is verified',
    ]);
    assert.equal(await page.$eval('.client img', (img) => img.naturalWidth), 48, "the client's logo loads (CSP img-src)");
    assert.deepEqual(
      await page.$$eval('.about a', (a) => a.map((x) => [x.textContent, x.getAttribute('href')])),
      [['Website', `${env.rp}/`], ['Privacy policy', `${env.rp}/privacy`], ['Terms of service', `${env.rp}/terms`]],
    );
    assert.match(await text(page, 'main'), /After your choice you go back to 127\.0\.0\.1/);
    assert.match(await text(page, 'main'), new RegExp(`Signed in as ${user}`));

    await page.click('button[value=allow]');
    const q = await landedAt(page, callback);
    assert.equal(q.get('state'), state);
    assert.equal(q.get('iss'), env.issuer);
    const tokens = await redeem(q.get('code'));
    assert.ok(tokens.id_token && tokens.access_token, 'the code gives tokens');

    await t.test('a live session answers with no page', async () => {
      await page.goto(authorizeUrl({ state: 'again' }));
      const q2 = await landedAt(page, callback);
      assert.equal(q2.get('state'), 'again');
      await redeem(q2.get('code'));
    });

    await t.test('prompt=login asks for the password again', async () => {
      await page.goto(authorizeUrl({ prompt: 'login' }));
      await check(page, 'sign-in-prompt-login', vp);
      assert.equal(await text(page, 'h1'), 'Sign in');
      await signIn(page, user);
      const q3 = await landedAt(page, callback);
      assert.ok(q3.get('code'));
    });

    await t.test('prompt=consent asks again', async () => {
      await page.goto(authorizeUrl({ prompt: 'consent' }));
      assert.equal(await text(page, 'h1'), 'Allow access?');
      await page.click('button[value=allow]');
      assert.ok((await landedAt(page, callback)).get('code'));
    });
    await context.close();
  });

  test(`${vp}: a returning user in a new browser lands in the application`, async () => {
    // Consent is on record from the first visit (the test above, or this one's first step).
    const first = await newBrowser(vp);
    await first.page.goto(authorizeUrl());
    if ((await text(first.page, 'h1')) === 'Sign in') await signIn(first.page, user);
    if ((await text(first.page, 'h1')) === 'Allow access?') await first.page.click('button[value=allow]');
    await landedAt(first.page, callback);
    await first.context.close();

    const { context, page } = await newBrowser(vp);
    await page.goto(authorizeUrl({ state: 'second-device' }));
    await check(page, 'sign-in-new-browser', vp);
    await signIn(page, user);
    // The sign-in POST answers 303 to the application: Chromium follows it only if the page's
    // form-action allows the application's origin.
    const q = await landedAt(page, callback);
    assert.equal(q.get('state'), 'second-device');
    assert.deepEqual(page.problems, [], 'no CSP violation on the way');
    await redeem(q.get('code'));
    await context.close();
  });

  test(`${vp}: Deny sends the user back with access_denied`, async () => {
    const { context, page } = await newBrowser(vp);
    await page.goto(authorizeUrl({ state: 'deny-me' }));
    await signIn(page, `deny-${vp}`);
    assert.equal(await text(page, 'h1'), 'Allow access?');
    await page.click('button[value=deny]');
    const q = await landedAt(page, callback);
    assert.equal(q.get('error'), 'access_denied');
    assert.equal(q.get('state'), 'deny-me');
    assert.equal(q.get('code'), null);
    await context.close();
  });
}
