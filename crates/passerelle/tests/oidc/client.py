"""A relying party built with authlib, driving Passerelle's OpenID Connect
provider (Aidants Connect). Run by tests/it/oidc_authlib.rs:

    client.py ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI POST_LOGOUT_URI KEY_CLIENT_ID KEY_PEM

KEY_CLIENT_ID is a second service, registered with a public key: it
authenticates with private_key_jwt (ES256), signing with the private key in
the file KEY_PEM.

For each scenario it prints one JSON line {"scenario", "authorize_url"} and
reads back one line: the URL the browser was sent to (redirect_uri?code&state).
It ends with {"done": true, ...}. Any failed check raises: exit status 1.
"""

import base64
import json
import sys
import time
import warnings

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import ECKey

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt
    from authlib.jose.errors import BadSignatureError
    from authlib.oidc.core import CodeIDToken

ISSUER, CLIENT_ID, SECRET, REDIRECT_URI, POST_LOGOUT_URI, KEY_CLIENT_ID, KEY_PEM = sys.argv[1:8]
SCOPE = "openid profile birth email"


def check(cond, what):
    if not cond:
        raise AssertionError(what)


disc = requests.get(ISSUER + "/.well-known/openid-configuration", timeout=10).json()
check(disc["issuer"] == ISSUER, "issuer of the discovery document")
check("S256" in disc["code_challenge_methods_supported"], "PKCE S256 announced")
check(disc["end_session_endpoint"] == ISSUER + "/oidc/logout", "end_session_endpoint")
check("private_key_jwt" in disc["token_endpoint_auth_methods_supported"], "private_key_jwt announced")
check(disc["token_endpoint_auth_signing_alg_values_supported"] == ["ES256"], "ES256 for client assertions")
JWKS = JsonWebKey.import_key_set(requests.get(disc["jwks_uri"], timeout=10).json())


def session(redirect_uri=REDIRECT_URI):
    return OAuth2Session(
        CLIENT_ID,
        SECRET,
        scope=SCOPE,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )


def key_session(claims=None):
    """The service with a key: private_key_jwt, ES256. authlib's assertions
    live an hour unless `claims` sets exp; the provider wants 5 minutes at most."""
    with open(KEY_PEM) as f:
        key = ECKey.import_key(f.read())
    return OAuth2Session(
        KEY_CLIENT_ID,
        key,
        scope=SCOPE,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method=PrivateKeyJWT(disc["token_endpoint"], claims=claims, alg="ES256"),
    )


def authorize(scenario, make=session):
    """Builds the request (PKCE S256, state, nonce); the test's aidant answers."""
    sess = make()
    verifier = generate_token(48)
    nonce = generate_token(24)
    url, state = sess.create_authorization_url(
        disc["authorization_endpoint"], code_verifier=verifier, nonce=nonce, acr_values="eidas1"
    )
    print(json.dumps({"scenario": scenario, "authorize_url": url}), flush=True)
    callback = sys.stdin.readline().strip()
    check(callback.startswith(REDIRECT_URI + "?"), "back to the registered redirect_uri: " + callback)
    return sess, verifier, nonce, state, callback


def refused(fn):
    """The token endpoint's error code, or None if it answered."""
    try:
        fn()
    except (OAuthError, OAuth2Error) as e:
        return getattr(e, "error", str(e))
    return None


def id_token_claims(token, nonce, client_id=CLIENT_ID):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        check(header["alg"] == "ES256", "ID token signed ES256")
        claims = jwt.decode(
            token,
            JWKS,
            claims_cls=CodeIDToken,
            claims_options={
                "iss": {"essential": True, "value": ISSUER},
                "aud": {"essential": True, "value": client_id},
                "nonce": {"essential": True, "value": nonce},
            },
            claims_params={"nonce": nonce, "client_id": client_id},
        )
        claims.validate()
        # A tampered signature is refused by the same verification.
        head, body, sig = token.split(".")
        forged = head + "." + body + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
        try:
            jwt.decode(forged, JWKS)
            raise AssertionError("a tampered ID token verified")
        except BadSignatureError:
            pass
    return claims


out = {}

# 1. The nominal flow, then the replay of its code.
sess, verifier, nonce, state, callback = authorize("nominal")
token = sess.fetch_token(
    disc["token_endpoint"], authorization_response=callback, state=state, code_verifier=verifier
)
claims = id_token_claims(token["id_token"], nonce)
check(claims["nonce"] == nonce and claims["acr"] == "eidas1", "nonce and acr of the ID token")
info = sess.get(disc["userinfo_endpoint"], timeout=10)
check(info.status_code == 200, "userinfo answered: %s" % info.text)
info = info.json()
check(info["sub"] == claims["sub"], "same sub in the ID token and userinfo")
out["sub"] = claims["sub"]
out["userinfo"] = info
out["rep_scope"] = claims.get("rep_scope")
code = dict(x.split("=", 1) for x in callback.split("?", 1)[1].split("&"))["code"]
replay = refused(
    lambda: session().fetch_token(disc["token_endpoint"], code=code, code_verifier=verifier)
)
check(replay == "invalid_grant", "replayed code refused, got %r" % replay)
after = requests.get(
    disc["userinfo_endpoint"], headers={"Authorization": "Bearer " + token["access_token"]}, timeout=10
)
check(after.status_code == 401, "token of a replayed code refused by userinfo")
check('error="invalid_token"' in after.headers.get("WWW-Authenticate", ""), "WWW-Authenticate")
out["replay"] = replay

# 2. Another redirect_uri at the token endpoint.
sess, verifier, nonce, state, callback = authorize("mauvaise_redirect_uri")
out["wrong_redirect_uri"] = refused(
    lambda: session(REDIRECT_URI + "-ailleurs").fetch_token(
        disc["token_endpoint"], authorization_response=callback, state=state, code_verifier=verifier
    )
)

# 3. No PKCE verifier.
sess, verifier, nonce, state, callback = authorize("sans_verifier")
out["missing_verifier"] = refused(
    lambda: sess.fetch_token(disc["token_endpoint"], authorization_response=callback, state=state)
)

# 4. A code that expired (the test moves its expiry to the past before answering).
sess, verifier, nonce, state, callback = authorize("expire")
out["expired"] = refused(
    lambda: sess.fetch_token(
        disc["token_endpoint"], authorization_response=callback, state=state, code_verifier=verifier
    )
)

# 5. The service with a key: an assertion of one hour (authlib's default) is
# refused, one of two minutes gets the tokens, and its jti cannot be replayed.
sess, verifier, nonce, state, callback = authorize("cle_privee", key_session)
code = dict(x.split("=", 1) for x in callback.split("?", 1)[1].split("&"))["code"]
try:
    key_session().fetch_token(disc["token_endpoint"], code=code, code_verifier=verifier)
    out["key_one_hour"] = None
except (OAuthError, OAuth2Error) as e:
    out["key_one_hour"] = [e.error, e.description]
short = {"exp": int(time.time()) + 120, "jti": generate_token(36)}
key_token = key_session(dict(short)).fetch_token(
    disc["token_endpoint"], authorization_response=callback, state=state, code_verifier=verifier
)
key_claims = id_token_claims(key_token["id_token"], nonce, KEY_CLIENT_ID)
check(key_claims["sub"] != claims["sub"], "pairwise: another sub for another service")
out["key_aud"] = key_claims["aud"]
out["key_replay"] = refused(
    lambda: key_session(dict(short)).fetch_token(disc["token_endpoint"], code=code, code_verifier=verifier)
)

# 6. Logout: a registered post-logout URI gets the state back; another one is refused.
hint = token["id_token"]
r = requests.get(
    disc["end_session_endpoint"],
    params={"id_token_hint": hint, "post_logout_redirect_uri": POST_LOGOUT_URI, "state": "fin-123"},
    allow_redirects=False,
    timeout=10,
)
check(r.status_code in (302, 303), "logout redirects: %s" % r.status_code)
check(r.headers["Location"].startswith(POST_LOGOUT_URI) and "state=fin-123" in r.headers["Location"], "logout state")
r = requests.get(
    disc["end_session_endpoint"],
    params={"id_token_hint": hint, "post_logout_redirect_uri": "https://ailleurs.example/fin"},
    allow_redirects=False,
    timeout=10,
)
check(r.status_code == 400, "unregistered post-logout URI refused")
out["logout"] = "ok"

out["done"] = True
print(json.dumps(out), flush=True)
