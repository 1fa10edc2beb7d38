// The device authorization grant (RFC 8628) as a TV app or a CLI does it,
// with openid-client v6 on the device and Debian's headless chromium
// (playwright-core) as the user's phone:
//
// 1. initiateDeviceAuthorization, then the user follows
//    verification_uri_complete: the code is prefilled, Continue, the login
//    page, the consent page (Allow), "Device connected"; meanwhile
//    pollDeviceAuthorizationGrant polls (authorization_pending) and gets
//    the tokens, the ID token validated by the library; the refresh token
//    is then used.
// 2. A second request: the user opens verification_uri and types the code
//    in lower case without the dash; already signed in, they go straight
//    to consent and Deny; the library's poll fails with access_denied.
//
// env: ISSUER CLIENT_ID USERNAME PASSWORD ARTIFACTS_DIR
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { launchChromium, watchConsole } from './chromium.mjs';
import { env, main } from './pages.mjs';

main(async () => {
  const config = await oidc.discovery(new URL(env('ISSUER')), env('CLIENT_ID'), undefined, oidc.None(), {
    execute: [oidc.allowInsecureRequests],
  });
  const meta = config.serverMetadata();
  const browser = await launchChromium();
  const result = { device_authorization_endpoint: meta.device_authorization_endpoint, console_errors: [] };
  try {
    const context = await browser.newContext({ viewport: { width: 800, height: 700 }, locale: 'en-US' });
    const page = await context.newPage();
    watchConsole(page, result.console_errors);

    // 1. verification_uri_complete, sign-in, allow.
    const started = Date.now();
    const da = await oidc.initiateDeviceAuthorization(config, { scope: 'openid profile offline_access' });
    result.user_code = da.user_code;
    result.verification_uri = da.verification_uri;
    result.expires_in = da.expires_in;
    result.interval = da.interval;
    const polling = oidc.pollDeviceAuthorizationGrant(config, da);

    await page.goto(da.verification_uri_complete);
    result.prefilled = await page.getByLabel('Code').inputValue();
    await page.screenshot({ path: join(env('ARTIFACTS_DIR'), 'device-code.png'), fullPage: true });
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Username').fill(env('USERNAME'));
    await page.getByLabel('Password').fill(env('PASSWORD'));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    result.consent_text = (await page.locator('h1').textContent()).trim();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.locator('#device-done').waitFor();
    result.done_text = (await page.locator('#device-done').textContent()).trim();
    await page.screenshot({ path: join(env('ARTIFACTS_DIR'), 'device-done.png'), fullPage: true });

    const tokens = await polling;
    result.waited_ms = Date.now() - started;
    result.claims = tokens.claims();
    result.scope = tokens.scope;
    result.has_refresh_token = Boolean(tokens.refresh_token);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
    result.refreshed_sub = refreshed.claims()?.sub;
    const info = await oidc.fetchUserInfo(config, refreshed.access_token, result.claims.sub);
    result.userinfo_name = info.name;

    // 2. The code typed by hand, denied.
    const da2 = await oidc.initiateDeviceAuthorization(config, { scope: 'openid' });
    const polling2 = oidc.pollDeviceAuthorizationGrant(config, da2).then(
      () => 'tokens',
      (err) => err.error ?? err.code ?? String(err),
    );
    await page.goto(da2.verification_uri);
    result.empty_field = await page.getByLabel('Code').inputValue();
    await page.getByLabel('Code').fill(da2.user_code.toLowerCase().replace('-', ' '));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.locator('#device-denied').waitFor();
    result.denied_poll = await polling2;
  } finally {
    await browser.close();
  }
  return result;
});
