// Passkeys in a real browser: Debian's headless chromium driven by
// playwright-core, with a CDP virtual authenticator (internal transport,
// resident keys, user verification), through the provider's pages and
// internal/ui/static/webauthn.js:
//
// 1. Sign in with the password at a one-factor client (the session the
//    settings page needs).
// 2. Settings: name and add a passkey (#passkey-register); its recovery codes
//    are shown once (#recovery-new), then the page reloads
//    and lists it; the authenticator holds one resident credential.
// 3. A new session: the login page's #passkey-login signs in without a
//    password and the flow continues to the client.
// 4. A new session at a two-factor client: password, then #passkey-2fa.
// 5. Step-up in place: a new password-only session clicks "Add a passkey";
//    the API's login_required makes the script submit #passkey-stepup, the
//    second-factor page says why, the passkey confirms, and the settings
//    come back at ?ready=passkey; a second passkey is added, then removed
//    through its plain form and the confirmation page.
//
// Steps 3 and 4 are reported as skipped when the page shows no passkey
// button. Console errors (CSP violations, script errors) are collected.
// Before step 2 the login page's #passkey-login is tried while the
// authenticator holds no passkey: the message it shows is reported. Steps 3
// and 4 run as an openid-client v6 app (PKCE, state, nonce), which verifies
// the ID token; its amr and acr are reported.
//
// env: ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI (http://127.0.0.1:PORT/callback)
//      TF_CLIENT_ID USERNAME PASSWORD [ARTIFACTS_DIR]
import { createServer } from 'node:http';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { launchChromium, watchConsole } from './chromium.mjs';
import { env, main } from './pages.mjs';

const issuer = env('ISSUER');
const redirectURI = new URL(env('REDIRECT_URI'));
const artifacts = process.env.ARTIFACTS_DIR || '';

function callbackServer() {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>App</title><p>Signed in to the app.</p>');
  });
  return new Promise((resolve) => server.listen(Number(redirectURI.port), '127.0.0.1', () => resolve(server)));
}

function authorizeURL(clientID) {
  const u = new URL(issuer + '/api/oidc/authorization');
  u.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientID,
    redirect_uri: redirectURI.toString(),
    scope: 'openid profile',
    state: 'state-' + Math.random().toString(36).slice(2, 12),
  }).toString();
  return u.toString();
}

// app is a relying party on openid-client v6 for clientID: start() gives the
// authorization URL, finish(url) the verified ID token claims.
async function app(clientID) {
  const config = await oidc.discovery(new URL(issuer), clientID, env('CLIENT_SECRET'), undefined, {
    execute: [oidc.allowInsecureRequests],
  });
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectURI.href,
    scope: 'openid profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  return {
    url: url.href,
    finish: async (callback) => {
      const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: true,
      });
      const c = tokens.claims();
      return { amr: c.amr, acr: c.acr };
    },
  };
}

function atCallback(url) {
  const u = new URL(url); // playwright passes a URL
  return u.origin === redirectURI.origin && u.pathname === redirectURI.pathname && u.searchParams.has('code');
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
  try {
    const context = await browser.newContext({ viewport: { width: 1024, height: 768 }, locale: 'en-US' });
    const page = await context.newPage();
    // A refused ceremony answers 4xx on purpose; anything else is a bug.
    watchConsole(page, result.console_errors, /^Failed to load resource: the server responded with a status of 4\d\d\b/);
    page.on('dialog', (d) => d.accept());

    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });

    const passwordLogin = async () => {
      await page.locator('#username').fill(env('USERNAME'));
      await page.locator('#password').fill(env('PASSWORD'));
      await Promise.all([page.waitForLoadState('load'), page.locator('button[type=submit]').first().click()]);
    };

    // No passkey on this device yet: what the login page says.
    await page.goto(authorizeURL(env('CLIENT_ID')));
    if ((await page.locator('#passkey-login').count()) === 1) {
      await page.locator('#passkey-login').click();
      await page.locator('#passkey-error').waitFor({ state: 'visible', timeout: 15000 });
      result.no_passkey_message = (await page.locator('#passkey-error').textContent()).trim();
      result.no_passkey_role = await page.locator('#passkey-error').getAttribute('role');
      await shot(page, 'passkeys-none-on-device.png');
    }

    // 1. A password session.
    await page.goto(authorizeURL(env('CLIENT_ID')));
    await passwordLogin();
    await page.waitForURL(atCallback, { timeout: 10000 });

    // 2. Add a passkey on the settings page.
    await page.goto(issuer + '/settings');
    await shot(page, 'passkeys-settings.png');
    if ((await page.locator('#passkey-register').count()) !== 1) {
      throw new Error('the settings page has no #passkey-register button: ' + (await page.content()).slice(0, 600));
    }
    await page.locator('#passkey-name').fill('Chromium passkey');
    // A first second factor comes with recovery codes: the script shows
    // them once (no reload) until the user says they saved them.
    await page.locator('#passkey-register').click();
    await page.locator('#recovery-new:not([hidden])').waitFor({ timeout: 15000 });
    result.recovery_codes_shown = await page.locator('#recovery-new-list code').count();
    result.recovery_heading_focused = await page.evaluate(() => document.activeElement?.id === 'recovery-new-heading');
    await shot(page, 'passkeys-recovery-codes.png');
    await Promise.all([page.waitForEvent('load', { timeout: 15000 }), page.locator('#recovery-new-done').click()]);
    result.recovery_codes_gone = (await page.locator('#recovery-new-list code').count()) === 0;
    result.settings_lists_passkey = (await page.content()).includes('Chromium passkey');
    result.api_credentials = await page.evaluate(async () => {
      const base = document.querySelector('meta[name="webauthn-base"]')?.content ?? '/api/webauthn';
      const resp = await fetch(base + '/credentials', { credentials: 'same-origin' });
      return resp.ok ? resp.json() : { status: resp.status };
    });
    // The per-passkey button's accessible name says which passkey it removes.
    result.remove_button_named = await page.getByRole('button', { name: 'Remove passkey Chromium passkey', exact: true }).count();
    await shot(page, 'passkeys-registered.png');
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    result.authenticator_credentials = credentials.length;
    result.resident = credentials.length > 0 && credentials.every((c) => c.isResidentCredential);
    result.rp_id = credentials[0]?.rpId;

    // 3. Passwordless sign-in in a new session.
    await context.clearCookies();
    const one = await app(env('CLIENT_ID'));
    await page.goto(one.url);
    await shot(page, 'passkeys-login.png');
    if ((await page.locator('#passkey-login').count()) === 1) {
      await page.locator('#passkey-login').click();
      await page.waitForURL(atCallback, { timeout: 15000 });
      result.passwordless = true;
      result.passwordless_claims = await one.finish(page.url());
    } else {
      result.passwordless_skipped = 'the login page shows no #passkey-login button';
    }

    // 4. Password, then the passkey as second factor.
    await context.clearCookies();
    const two = await app(env('TF_CLIENT_ID'));
    await page.goto(two.url);
    await passwordLogin();
    await shot(page, 'passkeys-second-factor.png');
    if ((await page.locator('#passkey-2fa').count()) === 1) {
      await page.locator('#passkey-2fa').click();
      await page.waitForURL(atCallback, { timeout: 15000 });
      result.second_factor = true;
      result.second_factor_claims = await two.finish(page.url());
    } else {
      result.second_factor_skipped = 'the second-factor page shows no #passkey-2fa button';
    }

    const after = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    result.sign_count = after.credentials[0]?.signCount ?? 0;

    // 5. Step-up in place: a password-only session adds a second passkey.
    // "Add a passkey" gets login_required from the API; the script starts
    // the step-up, the second-factor page says why, the passkey confirms,
    // and the settings come back ready to add it.
    await context.clearCookies();
    await page.goto(issuer + '/settings');
    await passwordLogin();
    await page.locator('#passkey-register').click();
    await page.locator('#passkey-2fa').waitFor({ timeout: 15000 });
    result.stepup_reason = (await page.locator('#stepup-reason').textContent()).trim();
    result.stepup_cancel = await page.getByRole('link', { name: 'Cancel', exact: true }).count();
    await shot(page, 'passkeys-step-up.png');
    await page.locator('#passkey-2fa').click();
    await page.waitForURL((u) => new URL(u).searchParams.get('ready') === 'passkey', { timeout: 15000 });
    result.stepup_ready = (await page.locator('#passkey-ready').textContent()).trim();
    result.stepup_focused = await page.evaluate(() => document.activeElement?.id === 'passkey-register');
    await shot(page, 'passkeys-step-up-ready.png');
    // The new passkey is made on "another device": this authenticator
    // forgets the first one (the server still excludes it).
    for (const c of (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials) {
      await cdp.send('WebAuthn.removeCredential', { authenticatorId, credentialId: c.credentialId });
    }
    await page.locator('#passkey-name').fill('Second passkey');
    await Promise.all([page.waitForEvent('load', { timeout: 15000 }), page.locator('#passkey-register').click()]);
    const names = async () => page.evaluate(async () => {
      const base = document.querySelector('meta[name="webauthn-base"]')?.content ?? '/api/webauthn';
      const resp = await fetch(base + '/credentials', { credentials: 'same-origin' });
      return resp.ok ? (await resp.json()).map((c) => c.name) : [];
    });
    result.stepup_added = await names();

    // Removing it: a plain form, then a confirmation page naming it.
    await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Remove passkey Second passkey', exact: true }).click()]);
    result.confirm_question = (await page.locator('h1').textContent()).trim();
    result.confirm_danger = await page.locator('button.primary.danger').count();
    await shot(page, 'passkeys-confirm-remove.png');
    await Promise.all([page.waitForEvent('load'), page.locator('button.primary.danger').click()]);
    result.removed_url = new URL(page.url()).search;
    result.removed_message = (await page.locator('[role=status]').first().textContent()).trim();
    result.after_remove = await names();
  } finally {
    await browser.close();
    server.close();
  }
  return result;
});
