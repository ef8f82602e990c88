// The pages in the user's language (ui_locales, then the browser's Accept-Language), right to
// left for Arabic; in dark mode; at 200 % zoom. Also takes the README's screenshots when
// BROWSER_README_SHOTS names a directory.
import { test, after } from 'node:test';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { assert, authorizeUrl, callback, check, close, env, landedAt, newBrowser, signIn, text } from './lib.mjs';

after(close);

for (const vp of ['desktop', 'phone']) {
  test(`${vp}: Arabic, right to left, chosen by ui_locales`, async () => {
    const { context, page } = await newBrowser(vp);
    await page.goto(authorizeUrl({ ui_locales: 'ar-EG en' }));
    await check(page, 'sign-in-ar', vp);
    assert.equal(await page.getAttribute('html', 'lang'), 'ar');
    assert.equal(await page.getAttribute('html', 'dir'), 'rtl');
    assert.equal(await text(page, 'h1'), 'تسجيل الدخول');
    assert.equal(await text(page, 'label[for=password]'), 'كلمة المرور');
    assert.equal(await page.$eval('main', (m) => getComputedStyle(m).direction), 'rtl');
    // The list of what the application asks for is indented from the right.
    await signIn(page, `lang-${vp}`);
    await check(page, 'consent-ar', vp);
    assert.equal(await text(page, 'h1'), 'هل تسمح بالوصول؟');
    const padding = await page.$eval('.scopes', (ul) => [getComputedStyle(ul).paddingRight, getComputedStyle(ul).paddingLeft]);
    assert.deepEqual(padding, ['20px', '0px'], 'logical properties mirror the layout');
    await context.close();
  });

  test(`${vp}: Japanese from the browser's language`, async () => {
    const { context, page } = await newBrowser(vp, { locale: 'ja-JP' });
    await page.goto(authorizeUrl());
    await check(page, 'sign-in-ja', vp);
    assert.equal(await page.getAttribute('html', 'lang'), 'ja');
    assert.equal(await text(page, 'h1'), 'サインイン');
    await page.goto(`${env.issuer}/nowhere`);
    assert.equal(await text(page, 'h1'), '見つかりません');
    await context.close();
  });

  test(`${vp}: dark mode`, async () => {
    const { context, page } = await newBrowser(vp, { colorScheme: 'dark' });
    await page.goto(authorizeUrl({ prompt: 'login' }));
    await check(page, 'sign-in-dark', vp);
    const bg = await page.$eval('main', (m) => getComputedStyle(m).backgroundColor);
    assert.equal(bg, 'rgb(31, 34, 38)', 'the dark card');
    await signIn(page, `lang-${vp}`);
    if ((await text(page, 'h1')) !== 'Allow access?') {
      await landedAt(page, callback);
      await page.goto(authorizeUrl({ prompt: 'consent' }));
    }
    await check(page, 'consent-dark', vp);
    await context.close();
  });
}

test('200 % zoom: the sign-in page reflows and stays usable', async () => {
  // 1280 CSS px at 200 % zoom is a 640 px wide layout (WCAG 1.4.4, 1.4.10).
  const { context, page } = await newBrowser('desktop', { viewport: { width: 640, height: 400 }, deviceScaleFactor: 2 });
  await page.goto(authorizeUrl({ ui_locales: 'de' }));
  await check(page, 'sign-in-zoom-200', 'desktop');
  assert.equal(await text(page, 'button[type=submit]'), 'Anmelden');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('type')), 'submit', 'reachable by keyboard');
  await page.$eval('button[type=submit]', (b) => b.scrollIntoView());
  assert.ok(await page.isVisible('button[type=submit]'));
  await context.close();
});

// Only when asked for (`make screenshots`): not a check, a picture for the README.
if (env.readme) test('screenshots for the README', async () => {
  mkdirSync(env.readme, { recursive: true });
  // The desktop pictures keep the page around the card, not the whole empty 1280 px.
  const shoot = async (page, vp, path) => {
    if (vp === 'phone') return page.screenshot({ path });
    const box = await page.$eval('main', (m) => {
      const r = m.getBoundingClientRect();
      return { x: r.x, bottom: r.bottom, width: r.width };
    });
    return page.screenshot({ path, clip: { x: box.x - 60, y: 0, width: box.width + 120, height: box.bottom + 40 } });
  };
  for (const vp of ['desktop', 'phone']) {
    for (const colorScheme of ['light', 'dark']) {
      const { context, page } = await newBrowser(vp, { colorScheme });
      await page.goto(authorizeUrl({ prompt: 'login' }));
      await shoot(page, vp, join(env.readme, `sign-in-${vp}-${colorScheme}.png`));
      await signIn(page, `lang-${vp}`);
      if ((await text(page, 'h1')) !== 'Allow access?') {
        await landedAt(page, callback);
        await page.goto(authorizeUrl({ prompt: 'consent' }));
      }
      await shoot(page, vp, join(env.readme, `consent-${vp}-${colorScheme}.png`));
      await context.close();
    }
  }
});
