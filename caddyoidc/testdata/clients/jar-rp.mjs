// openid-client v6 with request objects and JARM: an authorization request
// by value (buildAuthorizationUrlWithJAR, the request object signed with
// the client's ES256 key whose public half the provider has in the
// client's jwks), answered with a JARM response (response_mode jwt) that
// openid-client verifies against the provider's JWKS before the code grant.
// Then a JARM error (prompt=none, no session) the library must surface.
//
// env: ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI USERNAME PASSWORD
//      CLIENT_KEY (PKCS #8 PEM file of the client's private ES256 key)
import { readFile } from 'node:fs/promises';
import * as oidc from 'openid-client';
import { Browser, env, main } from './pages.mjs';

async function clientKey() {
  const pem = await readFile(env('CLIENT_KEY'), 'utf8');
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return crypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
}

main(async () => {
  const redirectURI = env('REDIRECT_URI');
  const config = await oidc.discovery(
    new URL(env('ISSUER')),
    env('CLIENT_ID'),
    { authorization_signed_response_alg: 'ES256', id_token_signed_response_alg: 'ES256' },
    oidc.ClientSecretBasic(env('CLIENT_SECRET')),
    { execute: [oidc.allowInsecureRequests] },
  );
  oidc.useJwtResponseMode(config);
  const meta = config.serverMetadata();
  const key = await clientKey();

  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const authURL = await oidc.buildAuthorizationUrlWithJAR(config, {
    redirect_uri: redirectURI,
    scope: 'openid profile email',
    response_type: 'code',
    response_mode: 'jwt',
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    max_age: '3600',
  }, key);
  const urlParams = [...authURL.searchParams.keys()].sort();

  const browser = new Browser(env('ISSUER'));
  const location = await browser.authorize(authURL.href, { username: env('USERNAME'), password: env('PASSWORD') });
  const callbackParams = [...new URL(location).searchParams.keys()].sort();
  const tokens = await oidc.authorizationCodeGrant(config, new URL(location), {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });

  // A JARM error: no session in a new browser, prompt=none.
  const state2 = oidc.randomState();
  const errURL = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectURI, scope: 'openid', response_mode: 'query.jwt', prompt: 'none', state: state2,
  });
  const errLocation = await new Browser(env('ISSUER')).authorize(errURL.href, { username: '', password: '' });
  let jarmError = '';
  try {
    await oidc.authorizationCodeGrant(config, new URL(errLocation), { expectedState: state2 });
  } catch (err) {
    jarmError = err.error ?? err.code ?? String(err);
  }
  return {
    request_parameter_supported: meta.request_parameter_supported,
    url_params: urlParams,
    callback_params: callbackParams,
    claims: tokens.claims(),
    jarm_error: jarmError,
  };
});
