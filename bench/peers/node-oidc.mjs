// A peer for the benchmark: node-oidc-provider 9.x (npm `oidc-provider`, panva) as a Node
// process, its own in-memory adapter, configured as edge-oidc's bench (bench/lib/peers.mjs
// starts it; bench/peers/selftest.mjs checks it).
//
//   env NODE_OIDC_JWKS    the run's JWKS (JSON, private parts); its RSA key signs the ID tokens
//   env NODE_OIDC_SECRET  bench-client's client_secret
//   stdout                `ready <port>` once listening on 127.0.0.1 (a random port)
//
// Client `bench-client`: client_secret_basic, redirect_uri http://127.0.0.1:9/cb, PKCE S256
// required (the default requires it only for public clients), scopes openid profile email,
// RS256 ID tokens. Accounts bench0..bench15 (sub, name, email). No devInteractions: the first
// sign-in goes through `GET /interaction/<uid>?user=benchN`, which trusts the named user (no
// password; set-up only, never measured), saves a Grant with the scopes and finishes the
// interaction; `GET /auth/<uid>` then sets the session cookie and redirects with a code. After
// that the default loadExistingGrant (the session's grant for the client) lets `GET /auth` with
// the session cookie answer 303 with a code, no page. Numeric TTLs (the default functions print
// notices), codes 600 s as edge-oidc's bench; cookies signed (cookies.keys). Opaque tokens.
//
// Per request (the adapter is an LRU Map in this process: "read"/"write" are its find/upsert;
// a signed cookie is checked with keygrip's HMAC-SHA1 and tsscmp's compare, two HMAC-SHA256):
//   GET  /.well-known/openid-configuration  no storage, no crypto (built per request)
//   GET  /auth (session)  check the `_session` cookie; read the session, the grant; write the
//                         code; write the session again and re-set its cookie (one HMAC-SHA1):
//                         every request with a session does → 303 with the code
//   POST /token           constant-time compare of the secret (padded to 1,000 bytes); read the
//                         code, the session (by uid: the code expires with it), the grant;
//                         SHA-256 for PKCE; consume the code (write), write the access token;
//                         one RS256 signature (jose, WebCrypto) for the ID token → JSON
//   GET  /me              read the access token, the session (by uid), the grant → JSON claims
import http from "node:http";
import crypto from "node:crypto";
import Provider from "oidc-provider";

const REDIRECT_URI = "http://127.0.0.1:9/cb";
const accounts = new Map(
  Array.from({ length: 16 }, (_, i) => `bench${i}`).map((sub) => [sub, { sub, name: "Bench User", email: `${sub}@example.com` }])
);
const rsa = JSON.parse(process.env.NODE_OIDC_JWKS).keys.find((k) => k.kty === "RSA");
if (!rsa || !process.env.NODE_OIDC_SECRET) throw new Error("NODE_OIDC_JWKS (with an RSA key) and NODE_OIDC_SECRET are required");

const server = http.createServer();
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const { port } = server.address();

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: "bench-client",
    client_secret: process.env.NODE_OIDC_SECRET,
    redirect_uris: [REDIRECT_URI],
    token_endpoint_auth_method: "client_secret_basic",
    id_token_signed_response_alg: "RS256",
    grant_types: ["authorization_code"],
    response_types: ["code"],
    scope: "openid profile email",
  }],
  jwks: { keys: [{ ...rsa, alg: "RS256", use: "sig" }] },
  findAccount: (ctx, sub) => {
    const claims = accounts.get(sub);
    return claims && { accountId: sub, claims: () => claims };
  },
  claims: { openid: ["sub"], profile: ["name"], email: ["email"] },
  cookies: { keys: [crypto.randomBytes(32).toString("base64url")] },
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => true },
  ttl: { AccessToken: 3600, AuthorizationCode: 600, IdToken: 3600, Interaction: 3600, Session: 14 * 86400, Grant: 14 * 86400 },
});

/** The first sign-in: the named user signs in and consents to what the client asked for. */
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const accountId = new URL(req.url, "http://x").searchParams.get("user");
  if (!accounts.has(accountId)) {
    res.writeHead(400).end("unknown user");
    return;
  }
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
server.on("request", (req, res) => {
  // The empty request (this server's baseline for net figures), before the provider.
  if (req.url === "/noop") return res.end("ok");
  if (!req.url.startsWith("/interaction/")) return callback(req, res);
  interaction(req, res).catch((e) => {
    console.error(e);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
});
// The parent holds our stdin: when it goes away (even killed), so do we.
process.stdin.on("end", () => process.exit(0)).resume();
console.log(`ready ${port}`);
