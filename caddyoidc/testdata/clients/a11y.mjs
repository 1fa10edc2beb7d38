// Accessibility of every page a user can see: Debian's headless chromium,
// driven by playwright-core with a CDP virtual authenticator, walks through
// the provider's pages as users would; on each page axe-core checks the WCAG
// 2.0/2.1 A and AA rules in light and dark mode (prefers-color-scheme) at a
// phone's and a desktop's width, and a full-page screenshot of each goes to
// ARTIFACTS_DIR as <page>-<scheme>-<width>.png. A page that scrolls
// sideways (WCAG 1.4.10, which axe-core leaves out) is reported as a
// violation "reflow".
//
// The walk (alice has no second factor yet, bob has nothing):
//   the self-test page (SELFTEST_URL, broken on purpose), the error page of
//   an unknown client; alice at the two-factor client: login, a wrong
//   password, authenticator enrolment (a wrong code first), her recovery
//   codes; the consent page of the one-factor client; an error with an
//   error code (a native app without PKCE), the code page of a native app
//   (OOB); the device flow (code entry, a wrong code, consent, done, and a
//   second device denied); settings after adding a passkey (authenticator
//   app, passkey, consents, recovery codes); sign-out (confirm, done,
//   nothing to do); a
//   GET of a form-only path; the second-factor page (code or passkey, the
//   recovery code entry opened, a wrong code), a recovery code signs in;
//   bob: settings with nothing, his first passkey shows recovery codes in
//   the settings page; new recovery codes ask for a confirmation, then for
//   the passkey (the step-up page), then show the codes; enrolment of an
//   authenticator app from the settings;
//   the second-factor page with only a passkey.
//
// Each step is one entry of steps below: a name and what brings the browser
// to that page. The Go test (a11y_test.go) lists the names it expects.
//
// Output: { pages: { name: { url, title, heading (the h1), violations: [{ id,
// impact, help, mode, targets }], incomplete (what axe-core could not decide,
// in the same form), screenshots: [path] } }, console_errors: [] }.
//
// env: ISSUER CLIENT_ID (explicit consent) TF_CLIENT_ID (two factors)
//      OOB_CLIENT_ID DEVICE_CLIENT_ID CLIENT_SECRET REDIRECT_URI
//      (http://127.0.0.1:PORT/callback) USERNAME PASSWORD SECOND_USERNAME
//      SELFTEST_URL ARTIFACTS_DIR
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { launchChromium, watchConsole } from './chromium.mjs';
import { env, main } from './pages.mjs';

const issuer = env('ISSUER');
const artifacts = env('ARTIFACTS_DIR');
const redirectURI = new URL(env('REDIRECT_URI'));
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// The rules checked: WCAG 2.0 and 2.1, levels A and AA.
const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const modes = [];
for (const scheme of ['light', 'dark']) {
  for (const width of [390, 1280]) modes.push({ scheme, width });
}

function callbackServer() {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html lang="en"><title>App</title><p>Signed in to the app.</p>');
  });
  return new Promise((resolve) => server.listen(Number(redirectURI.port), '127.0.0.1', () => resolve(server)));
}

function authorizeURL(clientID, redirect = redirectURI.toString(), extra = {}) {
  const u = new URL(issuer + '/api/oidc/authorization');
  u.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientID,
    redirect_uri: redirect,
    scope: 'openid profile',
    state: 'state-' + Math.random().toString(36).slice(2, 12),
    ...extra,
  }).toString();
  return u.toString();
}

// deviceAuthorization starts the device flow as the TV would.
async function deviceAuthorization() {
  const resp = await fetch(issuer + '/api/oidc/device-authorization', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: env('DEVICE_CLIENT_ID'), scope: 'openid profile' }),
  });
  const da = await resp.json();
  if (!da.user_code) throw new Error(`device authorization: ${resp.status} ${JSON.stringify(da)}`);
  return da;
}

function atCallback(url) {
  const u = new URL(url);
  return u.origin === redirectURI.origin && u.pathname === redirectURI.pathname;
}

// totp is RFC 6238's code (SHA-1, 6 digits, 30 s) of a base32 secret.
function totp(secret, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const off = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1e6).padStart(6, '0');
}

// audit runs axe-core on the page as it is, in every mode, and takes the
// screenshots. The page is not reloaded: a page that answers a POST is
// checked as the user sees it.
async function audit(page, name) {
  const heading = await page.locator('h1').first().textContent({ timeout: 1000 }).catch(() => '');
  const report = { url: page.url(), title: await page.title(), heading: heading.trim(), violations: [], incomplete: [], screenshots: [] };
  for (const { scheme, width } of modes) {
    await page.setViewportSize({ width, height: 800 });
    await page.emulateMedia({ colorScheme: scheme });
    if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
    const found = await page.evaluate(
      async (values) => {
        const r = await window.axe.run(document, { runOnly: { type: 'tag', values }, resultTypes: ['violations', 'incomplete'] });
        const brief = (v) => ({
          id: v.id,
          impact: v.impact,
          help: v.help,
          targets: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.failureSummary?.split('\n').slice(1).join(' ').trim()}`),
        });
        return { violations: r.violations.map(brief), incomplete: r.incomplete.map(brief) };
      },
      tags,
    );
    const mode = `${scheme} ${width}px`;
    for (const v of found.violations) report.violations.push({ ...v, mode });
    for (const v of found.incomplete) report.incomplete.push({ ...v, mode });
    // WCAG 2.1's reflow (1.4.10), which axe-core does not check: no
    // sideways scrolling at a phone's width.
    const wide = await page.evaluate(() =>
      document.documentElement.scrollWidth > window.innerWidth
        ? [...document.querySelectorAll('body *')].filter((el) => el.getBoundingClientRect().right > window.innerWidth).slice(0, 5).map((el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : el.className ? '.' + String(el.className).split(' ')[0] : ''))
        : null,
    );
    if (wide) report.violations.push({ id: 'reflow', impact: 'serious', help: 'The page scrolls sideways (WCAG 1.4.10 Reflow)', targets: wide, mode });
    const path = join(artifacts, `${name}-${scheme}-${width}.png`);
    await page.screenshot({ path, fullPage: true });
    report.screenshots.push(path);
  }
  return report;
}

main(async () => {
  const server = await callbackServer();
  const browser = await launchChromium();
  const result = { pages: {}, console_errors: [] };
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    const page = await context.newPage();
    // Wrong passwords and codes answer 4xx on purpose; anything else
    // (a CSP violation, a script error) is a bug.
    watchConsole(page, result.console_errors, /^Failed to load resource: the server responded with a status of 4\d\d\b/);
    page.on('dialog', (d) => d.accept());
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });

    // submit clicks a button that sends a form (click waits for the
    // navigation it starts) and waits for the new page.
    const submit = async (locator) => {
      await locator.click();
      await page.waitForLoadState('load');
    };
    const signIn = async (username, password) => {
      await page.getByLabel('Username').fill(username);
      await page.getByLabel('Password').fill(password);
      await submit(page.locator('form button[type=submit]').first());
    };
    const toCallback = (action) => Promise.all([page.waitForURL(atCallback, { timeout: 15000 }), action]);
    // addPasskey adds a passkey on the settings page; a first second factor
    // shows its recovery codes in the page instead of reloading.
    const addPasskey = async (name, { firstFactor = false } = {}) => {
      await page.goto(issuer + '/settings');
      await page.locator('#passkey-name').fill(name);
      if (firstFactor) {
        await page.locator('#passkey-register').click();
        await page.locator('#recovery-new:not([hidden])').waitFor({ timeout: 15000 });
      } else {
        await Promise.all([page.waitForEvent('load', { timeout: 15000 }), page.locator('#passkey-register').click()]);
      }
    };
    let secret = '';
    let recoveryCodes = [];
    let device;

    const user = env('USERNAME');
    const password = env('PASSWORD');
    const second = env('SECOND_USERNAME');
    const steps = [
      ['selftest', () => page.goto(env('SELFTEST_URL'))],
      ['error-unknown-client', () => page.goto(authorizeURL('no-such-client'))],
      ['login', () => page.goto(authorizeURL(env('TF_CLIENT_ID')))],
      ['login-error', () => signIn(user, 'not the password')],
      [
        'totp-enroll',
        async () => {
          await signIn(user, password);
          secret = (await page.locator('code.secret').textContent()).trim();
        },
      ],
      [
        'totp-enroll-error',
        async () => {
          await page.locator('#code').fill('000000');
          await submit(page.getByRole('button', { name: 'Confirm' }));
        },
      ],
      [
        'recovery-codes',
        async () => {
          await page.locator('#code').fill(totp(secret));
          await submit(page.getByRole('button', { name: 'Confirm' }));
          recoveryCodes = (await page.locator('#recovery-codes code').allTextContents()).map((c) => c.trim());
        },
      ],
      [
        'consent',
        async () => {
          await toCallback(page.locator('form button[type=submit]').click());
          await page.goto(authorizeURL(env('CLIENT_ID')));
        },
      ],
      [
        'error-with-code',
        async () => {
          await page.locator('#remember').check();
          await toCallback(page.getByRole('button', { name: 'Allow' }).click());
          // A public client without PKCE: an error the app must fix.
          await page.goto(authorizeURL(env('OOB_CLIENT_ID'), 'urn:ietf:wg:oauth:2.0:oob'));
        },
      ],
      [
        'code-page',
        () =>
          page.goto(
            authorizeURL(env('OOB_CLIENT_ID'), 'urn:ietf:wg:oauth:2.0:oob', {
              code_challenge: createHash('sha256').update('a11y-verifier-'.repeat(4)).digest('base64url'),
              code_challenge_method: 'S256',
            }),
          ),
      ],
      [
        'device-entry',
        async () => {
          device = await deviceAuthorization();
          await page.goto(device.verification_uri);
        },
      ],
      [
        'device-entry-error',
        async () => {
          await page.getByLabel('Code').fill('BCDF-GHJK');
          await submit(page.getByRole('button', { name: 'Continue' }));
        },
      ],
      [
        'device-consent',
        async () => {
          await page.getByLabel('Code').fill(device.user_code);
          await submit(page.getByRole('button', { name: 'Continue' }));
        },
      ],
      ['device-done', () => submit(page.getByRole('button', { name: 'Allow' }))],
      [
        'device-denied',
        async () => {
          await page.goto((await deviceAuthorization()).verification_uri_complete);
          await submit(page.getByRole('button', { name: 'Continue' }));
          await submit(page.getByRole('button', { name: 'Deny' }));
        },
      ],
      ['settings', () => addPasskey('Laptop')],
      ['logout-confirm', () => page.goto(issuer + '/logout')],
      ['logout-done', () => submit(page.getByRole('button', { name: 'Sign out' }))],
      ['logout-signed-out', () => page.goto(issuer + '/logout')],
      ['form-only-get', () => page.goto(issuer + '/login/2fa')],
      [
        'second-factor',
        async () => {
          await page.goto(authorizeURL(env('TF_CLIENT_ID')));
          await signIn(user, password);
        },
      ],
      [
        'second-factor-error',
        async () => {
          await page.locator('#code').fill('000000');
          await submit(page.getByRole('button', { name: 'Verify' }));
        },
      ],
      [
        'second-factor-recovery',
        async () => {
          await page.locator('#lost-device summary').click();
          await page.locator('#recovery_code').waitFor({ state: 'visible' });
        },
      ],
      [
        'settings-nothing',
        async () => {
          await page.locator('#recovery_code').fill(recoveryCodes[0]);
          await toCallback(page.locator('#lost-device button[type=submit]').click());
          await context.clearCookies();
          await page.goto(issuer + '/settings');
          await signIn(second, password);
          if (!page.url().startsWith(issuer + '/settings')) await page.goto(issuer + '/settings');
        },
      ],
      ['settings-recovery-new', () => addPasskey('Phone', { firstFactor: true })],
      [
        'settings-confirm',
        async () => {
          await Promise.all([page.waitForEvent('load', { timeout: 15000 }), page.locator('#recovery-new-done').click()]);
          await submit(page.getByRole('button', { name: 'Create new recovery codes' }));
        },
      ],
      ['settings-step-up', () => submit(page.locator('form button[type=submit]').first())],
      [
        'recovery-codes-settings',
        async () => {
          await Promise.all([page.waitForEvent('load', { timeout: 15000 }), page.locator('#passkey-2fa').click()]);
          await page.waitForLoadState('load');
        },
      ],
      [
        'totp-enroll-settings',
        async () => {
          await page.goto(issuer + '/settings');
          await submit(page.getByRole('button', { name: /set up an authenticator app/i }));
        },
      ],
      [
        'second-factor-passkey',
        async () => {
          await context.clearCookies();
          await page.goto(authorizeURL(env('TF_CLIENT_ID')));
          await signIn(second, password);
        },
      ],
    ];
    for (const [name, go] of steps) {
      try {
        await go();
        await page.waitForLoadState('load');
        result.pages[name] = await audit(page, name);
      } catch (err) {
        throw new Error(`step ${name} (at ${page.url()}): ${err.message}`);
      }
    }
  } finally {
    await browser.close();
    server.close();
  }
  return result;
});
