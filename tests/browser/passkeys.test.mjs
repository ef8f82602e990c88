// Passkeys and one-time codes in a real browser: Chromium's virtual authenticator (DevTools
// Protocol WebAuthn domain) stands in for a phone's or laptop's, so the page's script, the
// browser's WebAuthn checks (secure context, RP ID, origin) and the provider meet as they do
// for a person. Also: the pages without JavaScript, and an invitation made with oidc-admin.
import { test, after } from 'node:test';
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  assert, authorizeUrl, callback, check, close, env, landedAt, newBrowser, redeem, signIn, text,
} from './lib.mjs';

after(close);

/// A platform authenticator with user verification (a fingerprint, a screen lock).
async function withAuthenticator(context, page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

/// Signs `user` in with the password and allows the application.
async function passwordSignIn(page, user) {
  await page.goto(authorizeUrl());
  await signIn(page, user);
  if ((await text(page, 'h1')) === 'Allow access?') await page.click('button[value=allow]');
  return redeem((await landedAt(page, callback)).get('code'));
}

/// The current RFC 6238 code of a base32 secret (what an authenticator app shows).
function totp(b32, offsetSteps = 0) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of b32.replace(/\s/g, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000) + offsetSteps));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = h[19] & 0xf;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

for (const vp of ['desktop', 'phone']) {
  test(`${vp}: a passkey added on the account page signs in on its own`, async () => {
    const { context, page } = await newBrowser(vp);
    const { cdp, authenticatorId } = await withAuthenticator(context, page);
    await passwordSignIn(page, `passkey-${vp}`);
    await page.goto(`${env.issuer}/account`);
    await check(page, 'account', vp);
    assert.equal(await text(page, 'h1'), 'Your account');
    assert.match(await text(page, '#passkeys-h + .hint + p'), /no passkeys yet/);
    // The script shows the button; the authenticator creates the passkey; the page says so.
    await Promise.all([page.waitForURL(/done=added/), page.click('text=Add a passkey')]);
    await check(page, 'account-passkey-added', vp);
    assert.equal(await text(page, '.notice'), 'Passkey added.');
    const name = vp === 'phone' ? 'Passkey on Android' : 'Passkey on Linux';
    assert.equal(await page.inputValue('.passkeys input[name=name]'), name);
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1);
    assert.ok(credentials[0].isResidentCredential, 'a discoverable credential');
    assert.equal(credentials[0].rpId, new URL(env.issuer).hostname);
    // Renamed.
    await page.fill('.passkeys input[name=name]', 'My phone');
    await Promise.all([page.waitForURL(/done=renamed/), page.click('.passkeys button:text("Rename")')]);
    assert.equal(await page.inputValue('.passkeys input[name=name]'), 'My phone');

    // Signed out. On the desktop, the browser offers the passkey in the username field's
    // autofill (conditional mediation; the virtual authenticator picks it at once). On the
    // phone, a browser without autofill for passkeys: the button.
    await context.clearCookies();
    if (vp === 'phone') {
      await page.addInitScript(() => {
        window.PublicKeyCredential.isConditionalMediationAvailable = async () => false;
      });
      await page.goto(authorizeUrl());
      await check(page, 'sign-in-passkey', vp);
      assert.equal(await page.getAttribute('#username', 'autocomplete'), 'username webauthn');
      await page.click('text=Sign in with a passkey');
    } else {
      await page.goto(authorizeUrl());
    }
    const tokens = await redeem((await landedAt(page, callback)).get('code'));
    const c = claims(tokens.id_token);
    assert.deepEqual([c.acr, c.amr], ['phr', ['hwk', 'mfa']]);
    const after = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.ok(after.credentials[0].signCount >= 1, 'the counter moved');
    await context.close();
  });
}

test('desktop: one-time codes turned on, then asked for after the password', async () => {
  const vp = 'desktop';
  const { context, page } = await newBrowser(vp);
  await passwordSignIn(page, `codes-${vp}`);
  await page.goto(`${env.issuer}/account`);
  await page.click('text=Turn on one-time codes');
  await check(page, 'account-codes-setup', vp);
  const key = await text(page, '.setup .key code');
  const recovery = await page.$$eval('.setup .codes code', (els) => els.map((e) => e.textContent));
  assert.equal(recovery.length, 10);
  assert.match(await page.getAttribute('.setup a[href^="otpauth:"]', 'href'), /^otpauth:\/\/totp\//);
  await page.fill('#setup-code', totp(key));
  await Promise.all([page.waitForURL(/done=codes_on/), page.click('.setup button[type=submit]')]);
  assert.equal(await text(page, '.notice'), 'One-time codes are on.');

  // Next sign-in: the password, then a code (here a recovery code: the app's current one was
  // just used).
  await context.clearCookies();
  await page.goto(authorizeUrl());
  await signIn(page, `codes-${vp}`);
  await check(page, 'sign-in-second-factor', vp);
  assert.equal(await text(page, 'h1'), 'One more step');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'code', 'the code field has the focus');
  await page.fill('#code', '000000');
  await page.click('form[action="/login/second"] button[type=submit]');
  assert.match(await text(page, '.error'), /not valid/);
  await page.fill('#code', recovery[0]);
  await page.click('form[action="/login/second"] button[type=submit]');
  const c = claims((await redeem((await landedAt(page, callback)).get('code'))).id_token);
  assert.deepEqual([c.acr, c.amr], ['mfa', ['pwd', 'otp', 'mfa']]);
  await context.close();
});

test('phone: with JavaScript off, no passkey button and the password still works', async () => {
  const vp = 'phone';
  const { context, page } = await newBrowser(vp, { javaScriptEnabled: false });
  await page.goto(authorizeUrl());
  assert.equal(await page.isVisible('button[data-webauthn-start]'), false);
  await signIn(page, `nojs-${vp}`);
  assert.equal(await text(page, 'h1'), 'Allow access?');
  await page.click('button[value=allow]');
  await landedAt(page, callback);
  await context.close();
});

test('phone: an invited user creates a passkey from the link and signs in with it', async () => {
  const vp = 'phone';
  const username = `invitee-${vp}`;
  const out = execFileSync(env.admin, ['--persist-to', env.state, '--wrangler', env.wrangler, '--json', 'users', 'invite',
    username, '--url', env.issuer, '--name', 'Invited Person'], { env: { ...process.env, OIDC_ADMIN_TOKEN: env.adminToken } });
  const invite = JSON.parse(out.toString());
  assert.equal(invite.created, true);
  const { context, page } = await newBrowser(vp);
  await withAuthenticator(context, page);
  await page.goto(invite.url);
  await check(page, 'enroll', vp);
  assert.equal(await text(page, 'h1'), 'Create your passkey');
  await page.click('form.passkey button');
  await page.waitForSelector('text=Your passkey is ready', { timeout: 10_000 }).catch(async (e) => {
    throw new Error(`${e.message}; the page says: ${await text(page, 'main')}`);
  });
  await check(page, 'enroll-done', vp);
  // The link works once.
  await page.goto(invite.url);
  assert.equal(await text(page, 'h1'), 'This link does not work');
  // The passkey signs in (no password exists for this user), offered in the autofill.
  await page.goto(authorizeUrl());
  await page.waitForSelector('button[value=allow]');
  await page.click('button[value=allow]');
  const c = claims((await redeem((await landedAt(page, callback)).get('code'))).id_token);
  assert.equal(c.acr, 'phr');
  // The operator sees it.
  const listed = JSON.parse(execFileSync(env.admin, ['--json', 'users', 'passkeys', username, '--url', env.issuer],
    { env: { ...process.env, OIDC_ADMIN_TOKEN: env.adminToken } }).toString());
  assert.equal(listed.passkeys.length, 1);
  assert.equal(listed.passkeys[0].name, 'Passkey on Android');
  await context.close();
});
