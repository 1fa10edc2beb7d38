// Immich's server-side OAuth login with openid-client v5, the library and
// calls of Immich's OAuthRepository: Issuer.discover on the issuer URL the
// admin typed (Authelia's guide gives the .well-known URL), a Client with
// client_secret_post, PKCE S256 because discovery lists it, state and nonce,
// client.callback with those checks, and the profile from the ID token —
// userinfo only when the ID token lacks an email.
//
// Web and mobile differ only in REDIRECT_URI: the mobile app registers
// app.immich:///oauth-callback, and its code is read from the redirect to
// that custom scheme (the app hands that URL to the server).
//
// env: ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI USERNAME PASSWORD
import { Issuer, custom, generators } from 'openid-client-v5';
import { Browser, env, main } from './pages.mjs';

main(async () => {
  const issuerURL = env('ISSUER');
  const redirectURI = env('REDIRECT_URI');
  custom.setHttpOptionsDefaults({ timeout: 30000 });

  const issuer = await Issuer.discover(`${issuerURL}/.well-known/openid-configuration`);
  const client = new issuer.Client({
    client_id: env('CLIENT_ID'),
    client_secret: env('CLIENT_SECRET'),
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
    id_token_signed_response_alg: 'RS256',
  });
  client[custom.clock_tolerance] = 0; // v5's default: no skew at all

  const pkce = (issuer.code_challenge_methods_supported ?? []).includes('S256');
  const state = generators.state();
  const nonce = generators.nonce();
  const codeVerifier = generators.codeVerifier();
  const authURL = client.authorizationUrl({
    scope: 'openid email profile',
    redirect_uri: redirectURI,
    state,
    nonce,
    ...(pkce ? { code_challenge: generators.codeChallenge(codeVerifier), code_challenge_method: 'S256' } : {}),
  });

  const browser = new Browser(issuerURL);
  const location = await browser.authorize(authURL, { username: env('USERNAME'), password: env('PASSWORD') });
  if (!location.startsWith(redirectURI + '?')) {
    throw new Error(`redirected to ${location}, want ${redirectURI}?...`);
  }

  const params = client.callbackParams(location);
  const tokens = await client.callback(redirectURI, params, {
    state,
    nonce,
    ...(pkce ? { code_verifier: codeVerifier } : {}),
  });
  let profile = tokens.claims();
  let userinfoCalled = false;
  if (!profile.email) {
    profile = await client.userinfo(tokens);
    userinfoCalled = true;
  }
  const now = Math.floor(Date.now() / 1000);
  return {
    redirect: location.slice(0, redirectURI.length),
    iss_param: params.iss,
    pkce: pkce ? 'S256' : '',
    userinfo_called: userinfoCalled,
    claims: profile,
    iat_not_in_future: tokens.claims().iat <= now,
    token_type: tokens.token_type,
  };
});
