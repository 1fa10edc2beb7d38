"""Glitchtip's login: django-allauth's openid_connect provider, its HTTP calls
reproduced with requests (Debian's python3-requests).

allauth reads the metadata from the social app's server_url, redirects with
scope "openid profile email", a state and no PKCE (OAUTH_PKCE_ENABLED is off
for this provider), to the callback /accounts/oidc/<provider id>/login/callback/
(trailing slash). The code exchange authenticates with HTTP Basic when the
provider lists client_secret_basic, built by requests.auth.HTTPBasicAuth
(client ID and secret not form-encoded). The user comes from userinfo,
read with response.json(): it must be plain JSON.

env: ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI USERNAME PASSWORD
"""

import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from pages import Browser, env, run


def main():
    issuer = env("ISSUER")
    client_id = env("CLIENT_ID")
    callback_url = env("REDIRECT_URI")
    openid_config = requests.get(issuer + "/.well-known/openid-configuration", timeout=30).json()

    state = secrets.token_urlsafe(12)
    params = {
        "client_id": client_id,
        "redirect_uri": callback_url,
        "scope": "openid profile email",
        "response_type": "code",
        "state": state,
    }
    auth_url = openid_config["authorization_endpoint"] + "?" + urlencode(params)
    callback = Browser(issuer).authorize(auth_url, env("USERNAME"), env("PASSWORD"))
    u = urlsplit(callback)
    if f"{u.scheme}://{u.netloc}{u.path}" != callback_url:
        raise RuntimeError(f"redirected to {callback}")
    query = {k: v[0] for k, v in parse_qs(u.query).items()}
    if query.get("state") != state:
        raise RuntimeError("state mismatch")

    basic_auth = "client_secret_basic" in openid_config.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
    data = {"redirect_uri": callback_url, "grant_type": "authorization_code", "code": query["code"]}
    auth = None
    if basic_auth:
        auth = requests.auth.HTTPBasicAuth(client_id, env("CLIENT_SECRET"))
    else:
        data.update(client_id=client_id, client_secret=env("CLIENT_SECRET"))
    resp = requests.post(openid_config["token_endpoint"], data=data, auth=auth, timeout=30)
    if resp.status_code != 200:
        raise RuntimeError(f"token endpoint: {resp.status_code} {resp.text}")
    token = resp.json()

    resp = requests.get(
        openid_config["userinfo_endpoint"],
        headers={"Authorization": "Bearer " + str(token["access_token"])},
        timeout=30,
    )
    resp.raise_for_status()
    return {
        "basic_auth": basic_auth,
        "iss_param": query.get("iss"),
        "userinfo_content_type": resp.headers.get("Content-Type"),
        "userinfo": resp.json(),
    }


run(main)
