// A public single-page or native app on openid-client v6 with DPoP
// (RFC 9449) and a resource indicator (RFC 8707): PKCE, a resource and
// dpop_jkt at the authorization endpoint, the code grant, userinfo and a refresh, all with
// proofs of one key (the library answers use_dpop_nonce itself when the
// provider requires nonces). Then what must fail: the bound access token
// as a plain bearer token, the bound refresh token with another key. A
// resource server (a confidential client whose client_id is the resource's
// URI) introspects the access token and sees cnf.jkt.
//
// env: ISSUER CLIENT_ID REDIRECT_URI USERNAME PASSWORD RESOURCE RS_SECRET
import { createHash } from 'node:crypto';
import * as oidc from 'openid-client';
import { Browser, env, main } from './pages.mjs';

// thumbprint is the RFC 7638 SHA-256 thumbprint of a public key.
async function thumbprint(publicKey) {
  const jwk = await crypto.subtle.exportKey('jwk', publicKey);
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

function payload(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

async function errorOf(fn) {
  try {
    await fn();
  } catch (err) {
    const www = err.response?.headers?.get?.('www-authenticate') ?? '';
    return err.error ?? err.cause?.error ?? (www.match(/error="([^"]+)"/)?.[1]) ?? err.code ?? String(err);
  }
  return '';
}

main(async () => {
  const redirectURI = env('REDIRECT_URI');
  const resource = env('RESOURCE');
  const config = await oidc.discovery(
    new URL(env('ISSUER')),
    env('CLIENT_ID'),
    { id_token_signed_response_alg: 'RS256' },
    oidc.None(),
    { execute: [oidc.allowInsecureRequests] },
  );
  const meta = config.serverMetadata();
  const keyPair = await oidc.randomDPoPKeyPair('ES256');
  const DPoP = oidc.getDPoPHandle(config, keyPair);
  const otherDPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));

  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const authURL = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectURI,
    scope: 'openid profile email offline_access',
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    resource,
    dpop_jkt: await thumbprint(keyPair.publicKey), // binds the code to the key (RFC 9449 10)
  });
  const browser = new Browser(env('ISSUER'));
  const location = await browser.authorize(authURL.href, { username: env('USERNAME'), password: env('PASSWORD') });
  const tokens = await oidc.authorizationCodeGrant(config, new URL(location), {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    idTokenExpected: true,
  }, undefined, { DPoP });
  const claims = tokens.claims();
  const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub, { DPoP });

  // The bound access token as a bearer token.
  const bearerError = await errorOf(() => oidc.fetchUserInfo(config, tokens.access_token, claims.sub));
  // The bound refresh token with another key, then with the right one.
  const otherKeyError = await errorOf(() => oidc.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP: otherDPoP }));
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });

  // The resource server introspects.
  const rs = new oidc.Configuration(meta, resource, env('RS_SECRET'));
  oidc.allowInsecureRequests(rs);
  const introspection = await oidc.tokenIntrospection(rs, refreshed.access_token);

  return {
    dpop_algs: meta.dpop_signing_alg_values_supported,
    jkt: await thumbprint(keyPair.publicKey),
    token_type: tokens.token_type,
    access_token_claims: payload(tokens.access_token),
    id_token_claims: claims,
    userinfo_sub: userinfo.sub,
    bearer_error: bearerError,
    other_key_error: otherKeyError,
    refreshed_token_type: refreshed.token_type,
    refreshed_claims: payload(refreshed.access_token),
    introspection,
  };
});
