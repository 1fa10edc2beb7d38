"""RomM's OIDC login with authlib (Debian's python3-authlib).

RomM registers an authlib OAuth client from the provider's metadata
(OIDC_SERVER_APPLICATION_URL + /.well-known/openid-configuration), scope
"openid profile email", client_secret_basic (authlib's default). On the
callback, authorize_access_token exchanges the code and parse_id_token checks
the ID token against the JWKS: signature, iss, aud, nonce, at_hash, with 120 s
of leeway. RomM then reads the email from the ID token only (no userinfo
call) and matches it to a RomM user. This script makes the same calls with
OAuth2Session and authlib.jose, as the integration does inside.

env: ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI USERNAME PASSWORD
"""

import time

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.jose.errors import InvalidClaimError
from authlib.oidc.core import CodeIDToken

from pages import Browser, env, run


def main():
    issuer = env("ISSUER")
    client_id = env("CLIENT_ID")
    redirect_uri = env("REDIRECT_URI")
    metadata = requests.get(issuer + "/.well-known/openid-configuration", timeout=30).json()

    session = OAuth2Session(
        client_id,
        env("CLIENT_SECRET"),
        scope="openid profile email",
        redirect_uri=redirect_uri,
        token_endpoint_auth_method="client_secret_basic",
    )
    nonce = generate_token(20)
    auth_url, state = session.create_authorization_url(metadata["authorization_endpoint"], nonce=nonce)

    callback = Browser(issuer).authorize(auth_url, env("USERNAME"), env("PASSWORD"))
    if not callback.startswith(redirect_uri + "?"):
        raise RuntimeError(f"redirected to {callback}")
    # fetch_token checks the state of the authorization response.
    token = session.fetch_token(metadata["token_endpoint"], authorization_response=callback)

    jwks = requests.get(metadata["jwks_uri"], timeout=30).json()

    def load_key(header, _payload):
        return JsonWebKey.import_key_set(jwks).find_by_kid(header.get("kid"))

    algs = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]

    def parse_id_token(expected_issuer):
        claims = JsonWebToken(algs).decode(
            token["id_token"],
            key=load_key,
            claims_cls=CodeIDToken,
            claims_options={"iss": {"essential": True, "values": [expected_issuer]}},
            claims_params={"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]},
        )
        claims.validate(leeway=120)
        return claims

    claims = parse_id_token(metadata["issuer"])
    now = int(time.time())

    # An RP that expects another issuer must refuse the same token.
    try:
        parse_id_token(issuer + "/")
        wrong_iss = "accepted"
    except InvalidClaimError as err:
        wrong_iss = f"rejected: {err}"

    return {
        "state_checked": bool(state),
        "email": claims.get("email"),
        "claims": dict(claims),
        "iat_not_in_future": claims["iat"] <= now,
        "wrong_issuer": wrong_iss,
        "auth_method": session.token_endpoint_auth_method,
    }


run(main)
