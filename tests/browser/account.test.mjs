// The user's own pages: signing out (the confirmation page, and the way back to the
// application) and "Applications you allowed" with Revoke.
import { test, after } from 'node:test';
import {
  assert, authorizeUrl, callback, check, close, env, landedAt, newBrowser, redeem, signIn, signedOut, text,
} from './lib.mjs';

after(close);

/// Signs `user` in and allows the application (unless the consent is on record already);
/// returns the tokens.
async function signedInWithConsent(page, user) {
  await page.goto(authorizeUrl());
  await signIn(page, user);
  if ((await text(page, 'h1')) === 'Allow access?') await page.click('button[value=allow]');
  return redeem((await landedAt(page, callback)).get('code'));
}

for (const vp of ['desktop', 'phone']) {
  test(`${vp}: sign out after confirming, back to the application`, async () => {
    const { context, page } = await newBrowser(vp);
    const tokens = await signedInWithConsent(page, `logout-${vp}`);
    // Without an ID token the request could come from anywhere: the user confirms.
    const q = new URLSearchParams({ client_id: env.clientId, post_logout_redirect_uri: signedOut, state: 'bye' });
    await page.goto(`${env.issuer}/logout?${q}`);
    await check(page, 'sign-out-confirm', vp);
    assert.equal(await text(page, 'h1'), 'Sign out?');
    assert.equal(await text(page, '.lead'), `${env.clientName} asks to sign you out of ${env.product}.`);
    await page.click('button[value=logout]');
    const back = await landedAt(page, signedOut);
    assert.equal(back.get('state'), 'bye');
    // Signed out: the application's next request asks for the password.
    await page.goto(authorizeUrl());
    assert.equal(await text(page, 'h1'), 'Sign in');

    // With the ID token of the session, the application signs the user out at once.
    await signIn(page, `logout-${vp}`);
    const fresh = await redeem((await landedAt(page, callback)).get('code'));
    const hinted = new URLSearchParams({ id_token_hint: fresh.id_token, post_logout_redirect_uri: signedOut, state: 's2' });
    await page.goto(`${env.issuer}/logout?${hinted}`);
    assert.equal((await landedAt(page, signedOut)).get('state'), 's2');
    assert.ok(tokens.id_token);
    await context.close();
  });

  test(`${vp}: "Stay signed in" keeps the session`, async () => {
    const { context, page } = await newBrowser(vp);
    await signedInWithConsent(page, `logout-${vp}`);
    await page.goto(`${env.issuer}/logout`);
    assert.equal(await text(page, '.lead'), `Do you want to sign out of ${env.product}?`);
    await page.click('button[value=stay]');
    await check(page, 'sign-out-stay', vp);
    assert.equal(await text(page, 'h1'), 'Still signed in');
    await page.goto(authorizeUrl());
    await landedAt(page, callback);
    await context.close();
  });

  test(`${vp}: revoking an application on "Applications you allowed"`, async () => {
    const { context, page } = await newBrowser(vp);
    const tokens = await signedInWithConsent(page, `apps-${vp}`);
    await page.goto(`${env.issuer}/consents`);
    await check(page, 'applications', vp);
    assert.equal(await text(page, 'h1'), 'Applications you allowed');
    assert.match(await text(page, '.apps li'), new RegExp(env.clientName));
    assert.equal(await page.getAttribute('.apps button', 'aria-label'), `Revoke access for ${env.clientName}`);
    await page.click('.apps button');
    await check(page, 'applications-revoked', vp);
    assert.equal(await text(page, '[role=status]'), `Access for ${env.clientName} was revoked.`);
    assert.equal(await text(page, '.lead'), 'You have not allowed any application yet.');
    // Its tokens stopped working at once, and the next sign-in asks for consent again.
    const info = await fetch(`${env.issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(info.status, 401);
    await page.goto(authorizeUrl());
    assert.equal(await text(page, 'h1'), 'Allow access?');
    await context.close();
  });
}

test('"Applications you allowed" without a session explains itself', async () => {
  const { context, page } = await newBrowser('phone');
  await page.goto(`${env.issuer}/consents`);
  await check(page, 'applications-not-signed-in', 'phone');
  assert.equal(await text(page, 'h1'), 'Not signed in');
  await context.close();
});
