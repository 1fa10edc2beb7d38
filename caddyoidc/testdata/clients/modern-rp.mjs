// A modern node relying party on openid-client v6: discovery, PKCE S256,
// state and nonce, the code grant with client_secret_basic (v6 form-encodes
// the credentials as RFC 6749 2.3.1 says), fetchUserInfo with the expected
// subject, and a refresh token grant. v6 refuses http issuers unless told:
// the tests run on http loopback, so allowInsecureRequests is on.
//
// env: ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI USERNAME PASSWORD
import * as oidc from 'openid-client';
import { Browser, env, main } from './pages.mjs';

main(async () => {
  const redirectURI = env('REDIRECT_URI');
  const config = await oidc.discovery(
    new URL(env('ISSUER')),
    env('CLIENT_ID'),
    { id_token_signed_response_alg: 'RS256' },
    oidc.ClientSecretBasic(env('CLIENT_SECRET')),
    { execute: [oidc.allowInsecureRequests] },
  );
  const meta = config.serverMetadata();
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const authURL = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectURI,
    scope: 'openid profile email groups offline_access',
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });

  const browser = new Browser(env('ISSUER'));
  const location = await browser.authorize(authURL.href, { username: env('USERNAME'), password: env('PASSWORD') });
  const tokens = await oidc.authorizationCodeGrant(config, new URL(location), {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
  if (!tokens.refresh_token) throw new Error('no refresh token with offline_access');
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
  const refreshedClaims = refreshed.id_token ? refreshed.claims() : undefined;
  // The rotated refresh token is dead now.
  let reuse = '';
  try {
    await oidc.refreshTokenGrant(config, tokens.refresh_token);
  } catch (err) {
    reuse = err.error ?? err.code ?? String(err);
  }
  return {
    iss_supported: meta.authorization_response_iss_parameter_supported === true,
    claims,
    userinfo,
    refreshed: {
      rotated: !!refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token,
      new_access_token: refreshed.access_token !== tokens.access_token,
      sub: refreshedClaims?.sub,
    },
    refresh_reuse_error: reuse,
  };
});
