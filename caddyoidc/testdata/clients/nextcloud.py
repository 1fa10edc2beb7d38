"""Nextcloud's user_oidc app, its HTTP calls reproduced with requests (there
is no PHP here).

user_oidc's LoginController sends client_id, response_type code, scope
"openid email profile groups", redirect_uri /apps/user_oidc/code, state,
nonce, a "claims" request parameter naming the attributes it maps, and PKCE
S256 whenever discovery offers it. The code exchange posts client_id and
client_secret in the body (client_secret_post). The ID token is verified
against the JWKS (firebase/php-jwt there, authlib.jose here) and the user is
provisioned from it: uid from sub, display name, email and the groups claim.

env: ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI USERNAME PASSWORD
"""

import base64
import hashlib
import json
import secrets
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from authlib.jose import JsonWebKey, JsonWebToken

from pages import Browser, env, run

ATTRIBUTES = {"uid": "sub", "display_name": "name", "email": "email", "groups": "groups"}


def main():
    issuer = env("ISSUER")
    client_id = env("CLIENT_ID")
    redirect_uri = env("REDIRECT_URI")
    discovery = requests.get(issuer + "/.well-known/openid-configuration", timeout=30).json()

    state = secrets.token_hex(16)
    nonce = secrets.token_hex(16)
    wanted = {ATTRIBUTES[k]: None for k in ("email", "display_name", "groups")}
    data = {
        "client_id": client_id,
        "response_type": "code",
        "scope": "openid email profile groups",
        "redirect_uri": redirect_uri,
        "claims": json.dumps({"id_token": wanted, "userinfo": wanted}),
        "state": state,
        "nonce": nonce,
    }
    pkce = "S256" in discovery.get("code_challenge_methods_supported", [])
    verifier = secrets.token_urlsafe(48)
    if pkce:
        digest = hashlib.sha256(verifier.encode()).digest()
        data["code_challenge"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        data["code_challenge_method"] = "S256"
    auth_url = discovery["authorization_endpoint"] + "?" + urlencode(data)

    callback = Browser(issuer).authorize(auth_url, env("USERNAME"), env("PASSWORD"))
    u = urlsplit(callback)
    if f"{u.scheme}://{u.netloc}{u.path}" != redirect_uri:
        raise RuntimeError(f"redirected to {callback}")
    query = {k: v[0] for k, v in parse_qs(u.query).items()}
    if query.get("state") != state:
        raise RuntimeError("state mismatch")

    body = {
        "code": query["code"],
        "client_id": client_id,
        "client_secret": env("CLIENT_SECRET"),
        "redirect_uri": redirect_uri,
        "grant_type": "authorization_code",
    }
    if pkce:
        body["code_verifier"] = verifier
    resp = requests.post(discovery["token_endpoint"], data=body, timeout=30)
    if resp.status_code != 200:
        raise RuntimeError(f"token endpoint: {resp.status_code} {resp.text}")
    token = resp.json()

    jwks = JsonWebKey.import_key_set(requests.get(discovery["jwks_uri"], timeout=30).json())
    claims = JsonWebToken(discovery["id_token_signing_alg_values_supported"]).decode(
        token["id_token"],
        key=lambda header, _payload: jwks.find_by_kid(header.get("kid")),
        claims_options={
            "iss": {"essential": True, "value": discovery["issuer"]},
            "aud": {"essential": True, "value": client_id},
            "nonce": {"essential": True, "value": nonce},
        },
    )
    claims.validate(leeway=0)
    if claims["iat"] > time.time():
        raise RuntimeError("iat is in the future")
    return {
        "pkce": data.get("code_challenge_method", ""),
        "user": {k: claims.get(v) for k, v in ATTRIBUTES.items()},
        "claims": dict(claims),
    }


run(main)
