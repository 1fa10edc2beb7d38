// Signing out once signs the user out of the app too: Back-Channel and
// Front-Channel Logout 1.0 through a real browser (Debian's headless
// chromium driven by playwright-core).
//
// The app is openid-client v6 with a loopback server here that serves its
// redirect URI (/callback), its front-channel logout page (/frontchannel),
// its back-channel logout endpoint (/backchannel) and its post-logout page
// (/bye). The logout tokens it receives are verified as Back-Channel Logout
// 1.0 section 2.6 says, with jose (openid-client v6's own JOSE library; the
// client has no logout-token helper) against the JWKS from openid-client's
// discovery: signature, iss, aud, typ, iat/exp, events, no nonce, sid.
//
// 1. Sign in, then RP-initiated logout from the app (buildEndSessionUrl with
//    id_token_hint), confirmed on the provider's page: the signed-out page
//    loads /frontchannel (iss and sid) and continues to /bye; /backchannel
//    gets a logout token.
// 2. The user is signed out: the authorization URL shows the login page.
// 3. Sign in again, then "Sign out everywhere" on the settings page.
// 4. Sign in again, then "Sign out" on the settings page.
//
// env: ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI (http://127.0.0.1:PORT/callback)
//      USERNAME PASSWORD ARTIFACTS_DIR
import { createServer } from 'node:http';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import * as jose from 'jose';
import { launchChromium, watchConsole } from './chromium.mjs';
import { env, main } from './pages.mjs';

const issuer = env('ISSUER');
const clientID = env('CLIENT_ID');
const redirectURI = new URL(env('REDIRECT_URI'));
const base = redirectURI.origin;

// app serves the app's four endpoints and remembers what it got.
function app() {
  const seen = { frontchannel: [], backchannel: [], bye: [] };
  const server = createServer((req, res) => {
    const u = new URL(req.url, base);
    if (u.pathname === '/backchannel' && req.method === 'POST') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.backchannel.push({ type: req.headers['content-type'], token: new URLSearchParams(body).get('logout_token') });
        res.writeHead(200, { 'Cache-Control': 'no-store' });
        res.end();
      });
      return;
    }
    if (u.pathname === '/frontchannel') seen.frontchannel.push(Object.fromEntries(u.searchParams));
    if (u.pathname === '/bye') seen.bye.push(Object.fromEntries(u.searchParams));
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>App</title><p>App page ${u.pathname}</p>`);
  });
  return new Promise((resolve) => server.listen(Number(redirectURI.port), '127.0.0.1', () => resolve({ server, seen })));
}

async function until(cond, what, ms = 15000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

main(async () => {
  const { server, seen } = await app();
  const browser = await launchChromium();
  const result = { console_errors: [], rounds: [] };
  try {
    const config = await oidc.discovery(new URL(issuer), clientID, env('CLIENT_SECRET'), undefined, {
      execute: [oidc.allowInsecureRequests],
    });
    const meta = config.serverMetadata();
    result.metadata = {
      backchannel_logout_supported: meta.backchannel_logout_supported,
      backchannel_logout_session_supported: meta.backchannel_logout_session_supported,
      frontchannel_logout_supported: meta.frontchannel_logout_supported,
      frontchannel_logout_session_supported: meta.frontchannel_logout_session_supported,
    };
    const jwks = jose.createRemoteJWKSet(new URL(meta.jwks_uri));
    const context = await browser.newContext({ viewport: { width: 1024, height: 768 }, locale: 'en-US' });
    const page = await context.newPage();
    watchConsole(page, result.console_errors);

    // signIn runs the code flow in the browser and returns the tokens.
    async function signIn() {
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const authURL = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectURI.href, scope: 'openid profile',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, nonce,
      });
      await page.goto(authURL.href);
      if (!page.url().startsWith(redirectURI.href)) {
        await page.getByLabel('Username').fill(env('USERNAME'));
        await page.getByLabel('Password').fill(env('PASSWORD'));
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.waitForURL((u) => u.href.startsWith(redirectURI.href));
      }
      const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), {
        pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
      });
      return { tokens, claims: tokens.claims(), authURL };
    }

    // verify checks a logout token as a client must, and a forged and a
    // misaddressed copy of it as well (both must fail).
    async function verify(token, claims) {
      const out = { sid_matches: false };
      try {
        const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
          issuer, audience: clientID, typ: 'logout+jwt', requiredClaims: ['iat', 'exp', 'jti', 'events', 'sid', 'sub'], clockTolerance: 0,
        });
        out.valid = true;
        out.typ = protectedHeader.typ;
        out.events = payload.events;
        out.has_nonce = 'nonce' in payload;
        out.sid_matches = payload.sid === claims.sid;
        out.sub_matches = payload.sub === claims.sub;
      } catch (e) {
        out.valid = false;
        out.error = String(e);
      }
      const [h, p, s] = token.split('.');
      const forged = `${h}.${p}.${s.slice(0, -4)}${s.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
      out.forged_rejected = await jose.jwtVerify(forged, jwks, { issuer, audience: clientID }).then(() => false, () => true);
      out.other_audience_rejected = await jose.jwtVerify(token, jwks, { issuer, audience: 'another-app' }).then(() => false, () => true);
      out.other_issuer_rejected = await jose.jwtVerify(token, jwks, { issuer: 'https://evil.example', audience: clientID }).then(() => false, () => true);
      return out;
    }

    // round signs in, signs out with how(), and reports what the app saw.
    async function round(name, how) {
      const before = { fc: seen.frontchannel.length, bc: seen.backchannel.length };
      const { tokens, claims, authURL } = await signIn();
      const r = { name, sid: claims.sid, id_token_has_sid: typeof claims.sid === 'string' && claims.sid.length > 0 };
      await how(tokens, r);
      await until(() => seen.frontchannel.length > before.fc, 'the front-channel logout page');
      await until(() => seen.backchannel.length > before.bc, 'the back-channel logout token');
      r.frontchannel = seen.frontchannel.slice(before.fc);
      r.backchannel_content_type = seen.backchannel[before.bc].type;
      r.backchannel_count = seen.backchannel.length - before.bc;
      r.logout_token = seen.backchannel[before.bc].token;
      r.verified = await verify(r.logout_token, claims);
      r.signed_out_title = await page.title();
      await page.screenshot({ path: join(env('ARTIFACTS_DIR'), `logout-${name}.png`), fullPage: true });
      // Signed out at the provider: the authorization URL asks to sign in.
      await page.goto(authURL.href);
      r.login_asked = (await page.getByLabel('Username').count()) === 1;
      result.rounds.push(r);
    }

    await round('end_session', async (tokens, r) => {
      const state = oidc.randomState();
      const endURL = oidc.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token, post_logout_redirect_uri: `${base}/bye`, state,
      });
      await page.goto(endURL.href);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL((u) => u.href.startsWith(`${base}/bye`), { timeout: 15000 });
      r.bye_state_ok = seen.bye.at(-1)?.state === state;
      r.signed_out_title = await page.title();
    });
    await round('settings_everywhere', async (_, r) => {
      await page.goto(`${issuer}/settings`);
      await page.getByRole('button', { name: 'Sign out everywhere' }).click();
      // A confirmation page first (it ends every session of the user).
      const confirm = page.getByRole('heading', { name: 'Sign out everywhere?' });
      await confirm.waitFor();
      r.confirmed = (await confirm.count()) === 1;
      await page.getByRole('button', { name: 'Sign out everywhere' }).click();
      await page.getByRole('heading', { name: 'Signed out' }).waitFor();
    });
    await round('settings', async () => {
      await page.goto(`${issuer}/settings`);
      await page.getByRole('button', { name: 'Sign out', exact: true }).click();
      await page.getByRole('heading', { name: 'Signed out' }).waitFor();
    });
  } finally {
    await browser.close();
    server.close();
  }
  return result;
});
