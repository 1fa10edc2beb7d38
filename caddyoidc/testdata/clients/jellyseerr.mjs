// Jellyseerr's preview-OIDC login, which is hand-written fetch calls, not a
// library: discovery from the issuer URL, an authorization URL with scopes
// openid email profile groups, a state and no nonce or PKCE, a redirect URI
// that carries the provider in its query string, the token request with
// client_secret_post, the ID token decoded without checking its signature
// (only iss, aud, exp, iat compared with zero clock skew), then userinfo.
// Jellyseerr gives the whole round trip 60 seconds.
//
// env: ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI USERNAME PASSWORD
import { randomBytes } from 'node:crypto';
import { Browser, decodeJWT, env, main } from './pages.mjs';

main(async () => {
  const started = Date.now();
  const issuer = env('ISSUER');
  const clientID = env('CLIENT_ID');
  const redirectURI = env('REDIRECT_URI'); // https://requests.example.com/login?provider=caddy&callback=true

  const wellKnown = await fetch(new URL(issuer.replace(/\/$/, '') + '/.well-known/openid-configuration'), {
    headers: { 'Content-Type': 'application/json' },
  }).then((r) => r.json());

  const state = randomBytes(32).toString('hex');
  const url = new URL(wellKnown.authorization_endpoint);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', clientID);
  url.searchParams.set('redirect_uri', redirectURI);
  url.searchParams.set('scope', 'openid email profile groups');
  url.searchParams.set('state', state);

  const browser = new Browser(issuer);
  const location = new URL(await browser.authorize(url.href, { username: env('USERNAME'), password: env('PASSWORD') }));

  // Jellyseerr's /login page sees provider and callback again, plus the
  // response parameters.
  const q = location.searchParams;
  const registered = new URL(redirectURI);
  if (location.origin + location.pathname !== registered.origin + registered.pathname) {
    throw new Error(`redirected to ${location}`);
  }
  for (const [k, v] of registered.searchParams) {
    if (q.get(k) !== v) throw new Error(`the redirect lost ${k}=${v}: ${location}`);
  }
  if (q.get('state') !== state) throw new Error('state mismatch');
  if (q.get('error')) throw new Error(`authorization error ${q.get('error')}: ${q.get('error_description')}`);

  const body = new URLSearchParams();
  body.append('client_secret', env('CLIENT_SECRET'));
  body.append('grant_type', 'authorization_code');
  body.append('redirect_uri', redirectURI);
  body.append('client_id', clientID);
  body.append('code', q.get('code'));
  const tokenResp = await fetch(wellKnown.token_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body,
  });
  const token = await tokenResp.json();
  if (!tokenResp.ok || !token.id_token) throw new Error(`token endpoint: ${tokenResp.status} ${JSON.stringify(token)}`);

  const idToken = decodeJWT(token.id_token);
  const now = Math.floor(Date.now() / 1000);
  const aud = [].concat(idToken.aud);
  if (idToken.iss !== issuer) throw new Error(`iss ${idToken.iss} != ${issuer}`);
  if (!aud.includes(clientID)) throw new Error(`aud ${aud} lacks ${clientID}`);
  if (!(idToken.exp > now)) throw new Error('ID token expired');
  if (!(idToken.iat <= now)) throw new Error(`ID token iat ${idToken.iat} is in the future (now ${now})`);

  const userinfoResp = await fetch(wellKnown.userinfo_endpoint, {
    headers: { Authorization: `Bearer ${token.access_token}`, Accept: 'application/json' },
  });
  const userinfo = await userinfoResp.json();
  if (!userinfoResp.ok) throw new Error(`userinfo: ${userinfoResp.status} ${JSON.stringify(userinfo)}`);
  if (userinfo.sub !== idToken.sub) throw new Error('userinfo sub differs from the ID token');

  return {
    redirect_query: Object.fromEntries([...q].filter(([k]) => k === 'provider' || k === 'callback')),
    id_token: idToken,
    userinfo,
    elapsed_ms: Date.now() - started,
  };
});
