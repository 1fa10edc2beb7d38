// openid-client v6 with the claims request parameter (OpenID Connect Core
// 5.5): scope openid only, essential claims in the ID token and at
// userinfo (which bring their scopes into the request), a voluntary claim
// whose scope is not granted, and a claim restricted to a value the user
// does not have. openid-client validates the ID token and the userinfo
// response (sub match) itself.
//
// env: ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI USERNAME PASSWORD
import * as oidc from 'openid-client';
import { Browser, env, main } from './pages.mjs';

main(async () => {
  const config = await oidc.discovery(
    new URL(env('ISSUER')),
    env('CLIENT_ID'),
    {},
    oidc.ClientSecretBasic(env('CLIENT_SECRET')),
    { execute: [oidc.allowInsecureRequests] },
  );
  const meta = config.serverMetadata();
  const claims = {
    id_token: {
      email: { essential: true },
      given_name: { essential: true },
      phone_number: null,
      locale: { value: 'de-DE' },
      acr: { values: ['1', '2'] },
    },
    userinfo: { address: { essential: true } },
  };
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const authURL = oidc.buildAuthorizationUrl(config, {
    redirect_uri: env('REDIRECT_URI'),
    scope: 'openid',
    claims: JSON.stringify(claims),
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const location = await new Browser(env('ISSUER')).authorize(authURL.href, { username: env('USERNAME'), password: env('PASSWORD') });
  const tokens = await oidc.authorizationCodeGrant(config, new URL(location), {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const idClaims = tokens.claims();
  const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub);
  return {
    claims_parameter_supported: meta.claims_parameter_supported,
    scopes_supported: meta.scopes_supported,
    claims_supported: meta.claims_supported,
    scope: tokens.scope,
    id_token: idClaims,
    userinfo,
  };
});
