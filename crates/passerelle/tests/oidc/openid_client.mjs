// A relying party built with Node's openid-client (v6, OpenID Certified),
// driving Passerelle's OpenID Connect provider. Run by tests/it/oidc_interop.rs:
//
//     node openid_client.mjs ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI POST_LOGOUT_URI JWT_CLIENT_ID JWT_CLIENT_SECRET
//
// JWT_CLIENT_ID is a second service, registered with a signed userinfo (ES256).
// For each scenario it prints one JSON line {"scenario", "authorize_url"} and
// reads back one line: the URL the browser was sent to. It ends with
// {"done": true, ...}. Any failed check throws: exit status 1.
//
// The library keeps its defaults (client_secret_post, PKCE S256, neither state
// nor nonce when the server supports PKCE, ID token algorithm from discovery)
// except one: `allowInsecureRequests`, because the test server listens on
// http://127.0.0.1 (openid-client refuses plain HTTP otherwise).

import * as client from "openid-client";
import { createInterface } from "node:readline";

const [ISSUER, CLIENT_ID, SECRET, REDIRECT_URI, POST_LOGOUT_URI, JWT_CLIENT_ID, JWT_SECRET] = process.argv.slice(2);
const SCOPE = "openid profile birth email";

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

function check(cond, what) {
  if (!cond) throw new Error(what);
}

async function configure(clientId, secret, metadata = {}) {
  return client.discovery(new URL(ISSUER), clientId, { client_secret: secret, ...metadata }, undefined, {
    execute: [client.allowInsecureRequests],
  });
}

/** Prints the authorisation URL; the test's aidant answers with the callback. */
async function authorize(scenario, config, extra = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const params = {
    redirect_uri: REDIRECT_URI,
    scope: SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    ...extra,
  };
  const url = client.buildAuthorizationUrl(config, params);
  console.log(JSON.stringify({ scenario, authorize_url: url.href }));
  const { value } = await lines.next();
  check(value && value.startsWith(REDIRECT_URI + "?"), "back to the registered redirect_uri: " + value);
  return { verifier, callback: new URL(value) };
}

async function refused(fn) {
  try {
    await fn();
  } catch (e) {
    return e.error ?? e.code ?? String(e);
  }
  return null;
}

const out = {};
const config = await configure(CLIENT_ID, SECRET);
const server = config.serverMetadata();
check(server.supportsPKCE(), "PKCE S256 announced");
check(server.issuer === ISSUER, "issuer of the discovery document");

// 1. Defaults: PKCE, no state, no nonce, client_secret_post.
{
  const { verifier, callback } = await authorize("defauts", config);
  check(!callback.searchParams.has("state"), "no state sent, none returned");
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  check(claims.nonce === undefined, "no nonce in the ID token when none was sent");
  check(claims.acr === "eidas1", "acr");
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  out.defaults = { sub: claims.sub, rep_scope: claims.rep_scope, family_name: info.family_name, sid: claims.sid };
  out.replay = await refused(() =>
    client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, idTokenExpected: true }),
  );
  const after = await refused(() => client.fetchUserInfo(config, tokens.access_token, claims.sub));
  out.replay_userinfo = after;
  out.id_token = tokens.id_token;
}

// 2. State, nonce, max_age and the ID token's signature checked against the JWKS.
{
  const strict = await configure(CLIENT_ID, SECRET);
  client.enableNonRepudiationChecks(strict);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const { verifier, callback } = await authorize("etat_nonce_max_age", strict, { state, nonce, max_age: "600" });
  const tokens = await client.authorizationCodeGrant(strict, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    maxAge: 600,
  });
  const claims = tokens.claims();
  check(claims.nonce === nonce, "nonce echoed");
  check(typeof claims.auth_time === "number", "auth_time");
  out.strict = { auth_time: claims.auth_time, iat: claims.iat, at_hash: claims.at_hash };
  // A wrong state is refused by the library before any request.
  out.wrong_state = await refused(() =>
    client.authorizationCodeGrant(strict, callback, { pkceCodeVerifier: verifier, expectedState: "autre" }),
  );
}

// 3. A service that registered a signed userinfo (application/jwt, ES256).
{
  const signed = await configure(JWT_CLIENT_ID, JWT_SECRET, { userinfo_signed_response_alg: "ES256" });
  const { verifier, callback } = await authorize("userinfo_signee", signed);
  const tokens = await client.authorizationCodeGrant(signed, callback, { pkceCodeVerifier: verifier });
  const claims = tokens.claims();
  const info = await client.fetchUserInfo(signed, tokens.access_token, claims.sub);
  out.signed_userinfo = { sub_matches: info.sub === claims.sub, family_name: info.family_name, aud: info.aud };
  out.wrong_subject = await refused(() => client.fetchUserInfo(signed, tokens.access_token, "un-autre-sub"));
}

// 4. RP-initiated logout built by the library.
{
  const url = client.buildEndSessionUrl(config, {
    id_token_hint: out.id_token,
    post_logout_redirect_uri: POST_LOGOUT_URI,
    state: "fin-123",
  });
  const r = await fetch(url, { redirect: "manual" });
  out.logout = { status: r.status, location: r.headers.get("location") };
}

delete out.id_token;
out.done = true;
console.log(JSON.stringify(out));
process.exit(0);
