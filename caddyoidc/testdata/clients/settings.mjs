// The settings page in a real browser (Debian's headless chromium driven by
// playwright-core, a CDP virtual authenticator for the passkey):
//
// 1. Sign in with the password at CLIENT_ID, then open
//    /settings?client_id=CLIENT_ID: the "Back to <app>" link is reported.
// 2. Add a passkey (#passkey-register); dismiss its recovery codes.
// 3. Rename it with its plain form, found by its accessible name, in a
//    context with JavaScript turned off (the form needs none): the names of
//    the buttons and the <time> elements after it are reported.
//
// env: ISSUER CLIENT_ID REDIRECT_URI USERNAME PASSWORD [ARTIFACTS_DIR]
import { createServer } from 'node:http';
import { join } from 'node:path';
import { launchChromium, watchConsole } from './chromium.mjs';
import { env, main } from './pages.mjs';

const issuer = env('ISSUER');
const artifacts = process.env.ARTIFACTS_DIR || '';

function authorizeURL() {
  const u = new URL(issuer + '/api/oidc/authorization');
  u.search = new URLSearchParams({
    response_type: 'code',
    client_id: env('CLIENT_ID'),
    redirect_uri: env('REDIRECT_URI'),
    scope: 'openid profile',
    state: 'state-' + Math.random().toString(36).slice(2, 12),
  }).toString();
  return u.toString();
}

// callbackServer answers at the client's redirect URI (the application).
function callbackServer() {
  const u = new URL(env('REDIRECT_URI'));
  const server = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>App</title><p>Signed in to the app.</p>');
  });
  return new Promise((resolve) => server.listen(Number(u.port), '127.0.0.1', () => resolve(server)));
}

main(async () => {
  const server = await callbackServer();
  const browser = await launchChromium();
  const result = { console_errors: [], screenshots: [] };
  const shot = async (page, name) => {
    if (!artifacts) return;
    const path = join(artifacts, name);
    await page.screenshot({ path, fullPage: true });
    result.screenshots.push(path);
  };
  const watch = (page) => watchConsole(page, result.console_errors, /^Failed to load resource/);
  const settingsURL = issuer + '/settings?client_id=' + encodeURIComponent(env('CLIENT_ID'));
  try {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-US' });
    const page = await context.newPage();
    watch(page);
    page.on('dialog', (d) => d.accept());
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });

    // 1. A password session, then the settings from the application's link.
    await page.goto(authorizeURL());
    await page.locator('#username').fill(env('USERNAME'));
    await page.locator('#password').fill(env('PASSWORD'));
    await Promise.all([page.waitForURL((u) => u.toString().startsWith(env('REDIRECT_URI')), { timeout: 10000 }), page.locator('button[type=submit]').first().click()]);
    await page.goto(settingsURL);
    const back = page.getByRole('link', { name: /^Back to / });
    result.back_links = await back.count();
    if (result.back_links === 1) {
      result.back_text = (await back.textContent()).trim();
      result.back_href = await back.getAttribute('href');
    }

    // 2. A passkey, so there is something to rename.
    await page.locator('#passkey-name').fill('Chromium passkey');
    await page.locator('#passkey-register').click();
    await page.locator('#recovery-new:not([hidden])').waitFor({ timeout: 15000 });
    await Promise.all([page.waitForEvent('load', { timeout: 15000 }), page.locator('#recovery-new-done').click()]);

    // 3. Rename without JavaScript: the same session in a context that runs no script.
    const noJS = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-US', javaScriptEnabled: false });
    await noJS.addCookies(await context.cookies());
    const plain = await noJS.newPage();
    watch(plain);
    await plain.goto(settingsURL);
    const field = plain.getByLabel('New name for passkey Chromium passkey', { exact: true });
    result.rename_fields = await field.count();
    await field.fill('  Work phone ');
    await Promise.all([plain.waitForLoadState('load'), plain.getByRole('button', { name: 'Rename passkey Chromium passkey', exact: true }).click()]);
    result.notice = ((await plain.locator('[role=status]').textContent()) || '').trim();
    result.rename_button_after = await plain.getByRole('button', { name: 'Rename passkey Work phone', exact: true }).count();
    result.remove_button_after = await plain.getByRole('button', { name: 'Remove passkey Work phone', exact: true }).count();
    result.back_after_rename = await plain.getByRole('link', { name: /^Back to / }).count();
    result.times = await plain.locator('time').evaluateAll((els) => els.map((e) => ({ datetime: e.getAttribute('datetime'), text: e.textContent })));
    await shot(plain, 'settings-renamed-phone.png');
    await noJS.close();
  } finally {
    await browser.close();
    server.close();
  }
  return result;
});
