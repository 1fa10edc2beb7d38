// What every relying party relies on the provider to get right, judged by
// openid-client v5 (Immich's library, zero clock tolerance) with the Immich
// client:
//   - an RP configured with another issuer string refuses the response and
//     the ID token (iss is compared byte for byte);
//   - an unregistered redirect URI gets the provider's error page, not a
//     redirect;
//   - a code works once: the replay gets invalid_grant;
//   - the wrong client authentication method gets invalid_client;
//   - iat, auth_time and nbf are never in the future.
//
// env: ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI USERNAME PASSWORD
import { Issuer, custom, generators } from 'openid-client-v5';
import { Browser, env, main } from './pages.mjs';

function errorOf(err) {
  return { name: err.name, error: err.error, description: err.error_description, message: err.message };
}

async function expectFailure(fn) {
  try {
    await fn();
  } catch (err) {
    return errorOf(err);
  }
  return { accepted: true };
}

main(async () => {
  const issuerURL = env('ISSUER');
  const redirectURI = env('REDIRECT_URI');
  const user = { username: env('USERNAME'), password: env('PASSWORD') };
  const browser = new Browser(issuerURL);
  const issuer = await Issuer.discover(issuerURL);
  const clientFor = (iss, method = 'client_secret_post') => {
    const c = new iss.Client({
      client_id: env('CLIENT_ID'),
      client_secret: env('CLIENT_SECRET'),
      token_endpoint_auth_method: method,
    });
    c[custom.clock_tolerance] = 0;
    return c;
  };
  const client = clientFor(issuer);

  // login starts a flow with fresh checks and returns the callback params.
  const login = async (c) => {
    const checks = { state: generators.state(), nonce: generators.nonce(), code_verifier: generators.codeVerifier() };
    const url = c.authorizationUrl({
      scope: 'openid email profile',
      redirect_uri: redirectURI,
      state: checks.state,
      nonce: checks.nonce,
      code_challenge: generators.codeChallenge(checks.code_verifier),
      code_challenge_method: 'S256',
    });
    const params = c.callbackParams(await browser.authorize(url, user));
    return { params, checks };
  };

  const result = {};
  // The trailing-slash drift: the RP was configured with ISSUER + '/'.
  const slashed = new Issuer({ ...issuer.metadata, issuer: issuerURL + '/' });
  const a = await login(client);
  result.iss_param_mismatch = await expectFailure(() => clientFor(slashed).callback(redirectURI, a.params, a.checks));

  // The wrong method: the client is registered for client_secret_post.
  result.wrong_auth_method = await expectFailure(() =>
    clientFor(issuer, 'client_secret_basic').callback(redirectURI, a.params, a.checks),
  );

  // The code works once (the failures above never reached the grant).
  const tokens = await client.callback(redirectURI, a.params, a.checks);
  const now = Math.floor(Date.now() / 1000);
  const claims = tokens.claims();
  result.clock = {
    iat_not_in_future: claims.iat <= now,
    auth_time_not_in_future: claims.auth_time === undefined || claims.auth_time <= now,
    nbf_not_in_future: claims.nbf === undefined || claims.nbf <= now,
  };
  result.code_replay = await expectFailure(() => client.callback(redirectURI, a.params, a.checks));
  // RFC 6749 4.1.2: tokens issued from a replayed code should be revoked.
  result.access_token_after_replay = await expectFailure(() => client.userinfo(tokens));

  // The ID token's iss checked by an RP that does not see the response's
  // iss parameter (an older provider config without RFC 9207).
  const noRFC9207 = new Issuer({ ...issuer.metadata, issuer: issuerURL + '/', authorization_response_iss_parameter_supported: false });
  const b = await login(client);
  delete b.params.iss;
  result.id_token_iss_mismatch = await expectFailure(() => clientFor(noRFC9207).callback(redirectURI, b.params, b.checks));

  // An unregistered redirect URI: an error page on the provider, no redirect.
  const evil = client.authorizationUrl({
    scope: 'openid',
    redirect_uri: 'https://photos.example.com/auth/login/../evil',
    state: generators.state(),
  });
  const r = await browser.request(evil);
  result.unregistered_redirect = {
    status: r.status,
    location: r.location,
    content_type: r.headers.get('content-type'),
    mentions_redirect: /not registered/i.test(r.body),
  };
  return result;
});
