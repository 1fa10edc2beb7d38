// A real browser through the provider's pages: Debian's headless chromium,
// driven by playwright-core (which downloads no browser of its own).
//
// 1. An app on openid-client v6 with a loopback redirect URI served by a
//    tiny http server here: the login page (accessibility basics checked,
//    a wrong password first), the consent page, the redirect back, the code
//    exchange.
// 2. Immich's mobile app: the same browser, already signed in, consents
//    and is redirected to app.immich:///oauth-callback; the code is read
//    from that navigation and exchanged with openid-client v5 as Immich's
//    server does.
// 3. An unregistered redirect URI: the error page, and the browser stays.
// Screenshots of each page go to ARTIFACTS_DIR.
//
// env: ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI (http://127.0.0.1:PORT/callback)
//      IMMICH_CLIENT_ID IMMICH_CLIENT_SECRET USERNAME PASSWORD ARTIFACTS_DIR
import { createServer } from 'node:http';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { Issuer, custom, generators } from 'openid-client-v5';
import { launchChromium, watchConsole } from './chromium.mjs';
import { env, main } from './pages.mjs';

const issuer = env('ISSUER');
const artifacts = env('ARTIFACTS_DIR');
const redirectURI = new URL(env('REDIRECT_URI'));

// callbackServer serves the app's redirect URI and remembers what it got.
function callbackServer() {
  const hits = [];
  const server = createServer((req, res) => {
    if (new URL(req.url, redirectURI).pathname === redirectURI.pathname) hits.push(req.url);
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>App</title><p>Signed in to the app.</p>');
  });
  return new Promise((resolve) => server.listen(Number(redirectURI.port), '127.0.0.1', () => resolve({ server, hits })));
}

// accessibility checks the basics of a page with a form: every visible
// input has a label, the page has a language and a title, the buttons have
// names. It returns the problems found.
async function accessibility(page) {
  return page.evaluate(() => {
    const problems = [];
    if (!document.documentElement.lang) problems.push('<html> has no lang');
    if (!document.title.trim()) problems.push('no <title>');
    for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
      const labelled = el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
      if (!labelled) problems.push(`input ${el.name || el.id} has no label`);
    }
    for (const b of document.querySelectorAll('button')) {
      if (!b.textContent.trim() && !b.getAttribute('aria-label')) problems.push('a button has no name');
    }
    if (document.querySelectorAll('h1').length !== 1) problems.push('the page should have one <h1>');
    return problems;
  });
}

async function shot(page, name) {
  const path = join(artifacts, name);
  await page.screenshot({ path, fullPage: true });
  return path;
}

async function activeElement(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    return `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.type ? '[' + el.type + ']' : ''}`;
  });
}

main(async () => {
  const { server, hits } = await callbackServer();
  const browser = await launchChromium();
  const result = { screenshots: [], console_errors: [] };
  try {
    const context = await browser.newContext({ viewport: { width: 1024, height: 768 }, locale: 'en-US' });
    const page = await context.newPage();
    // A 401 after a wrong password and a 400 error page are expected;
    // anything else (a CSP violation, a missing asset) is not.
    watchConsole(page, result.console_errors, /^Failed to load resource: the server responded with a status of (400|401)\b/);

    // 1. The app on openid-client v6.
    const config = await oidc.discovery(new URL(issuer), env('CLIENT_ID'), env('CLIENT_SECRET'), undefined, {
      execute: [oidc.allowInsecureRequests],
    });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const authURL = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectURI.href,
      scope: 'openid profile email groups',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const loginResp = await page.goto(authURL.href);
    result.login_status = loginResp.status();
    result.login_title = await page.title();
    result.screenshots.push(await shot(page, 'login.png'));
    result.login_a11y = await accessibility(page);

    const username = page.getByLabel('Username');
    const password = page.getByLabel('Password');
    const submit = page.getByRole('button', { name: 'Sign in' });
    result.labels = { username: await username.count(), password: await password.count(), submit: await submit.count() };
    result.autofocus = await activeElement(page);
    await username.focus();
    const order = [await activeElement(page)];
    for (let i = 0; i < 3; i++) {
      await page.keyboard.press('Tab');
      order.push(await activeElement(page));
    }
    result.tab_order = order;
    result.login_aria = await page.locator('main, body').first().ariaSnapshot();

    // A wrong password first: the error is announced and tied to the input.
    await username.fill(env('USERNAME'));
    await password.fill('not the password');
    await submit.click();
    await page.getByRole('alert').waitFor();
    result.login_error = {
      alert: (await page.getByRole('alert').textContent()).trim(),
      password_invalid: await page.getByLabel('Password').getAttribute('aria-invalid'),
      username_kept: await page.getByLabel('Username').inputValue(),
      focused: await activeElement(page),
    };
    result.screenshots.push(await shot(page, 'login-error.png'));

    await page.getByLabel('Password').fill(env('PASSWORD'));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    result.consent_title = await page.title();
    result.consent_a11y = await accessibility(page);
    result.screenshots.push(await shot(page, 'consent.png'));
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((u) => u.href.startsWith(redirectURI.href));
    const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    result.claims = tokens.claims();
    result.callback_hits = hits.length;

    // The login page on a phone.
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true });
    const phonePage = await phone.newPage();
    await phonePage.goto(authURL.href);
    result.screenshots.push(await shot(phonePage, 'login-phone.png'));
    result.phone_overflow = await phonePage.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    await phone.close();

    // 2. Immich's mobile app, in the browser that is signed in already.
    const immich = await Issuer.discover(issuer);
    const client = new immich.Client({
      client_id: env('IMMICH_CLIENT_ID'),
      client_secret: env('IMMICH_CLIENT_SECRET'),
      token_endpoint_auth_method: 'client_secret_post',
    });
    client[custom.clock_tolerance] = 0;
    const mobileRedirect = 'app.immich:///oauth-callback';
    const checks = { state: generators.state(), nonce: generators.nonce(), code_verifier: generators.codeVerifier() };
    const mobileURL = client.authorizationUrl({
      scope: 'openid email profile',
      redirect_uri: mobileRedirect,
      state: checks.state,
      nonce: checks.nonce,
      code_challenge: generators.codeChallenge(checks.code_verifier),
      code_challenge_method: 'S256',
    });
    const toApp = new Promise((resolve) => {
      page.on('response', (r) => {
        const loc = r.headers().location;
        if (loc?.startsWith(mobileRedirect)) resolve(loc);
      });
    });
    await page.goto(mobileURL);
    await page.getByRole('button', { name: 'Allow' }).click();
    const appURL = await Promise.race([
      toApp,
      new Promise((_, reject) => setTimeout(() => reject(new Error('no redirect to app.immich:// seen')), 10000)),
    ]);
    const mobileTokens = await client.callback(mobileRedirect, client.callbackParams(appURL), checks);
    result.mobile_claims = mobileTokens.claims();

    // 3. An unregistered redirect URI.
    const bad = new URL(authURL);
    bad.searchParams.set('redirect_uri', 'https://evil.example.net/callback');
    const errResp = await page.goto(bad.href);
    result.error_page = {
      status: errResp.status(),
      stayed: page.url().startsWith(issuer),
      title: await page.title(),
      a11y: await accessibility(page),
    };
    result.screenshots.push(await shot(page, 'error.png'));
    await context.close();
  } finally {
    await browser.close();
    server.close();
  }
  return result;
});
