// A peer for the benchmark: @cloudflare/workers-oauth-provider 1.x, the library a Workers user
// would pick, as its README's single-Worker `OAuthProvider` with its own storage (KV `OAUTH_KV`).
// bench/lib/peers.mjs bundles it with esbuild into .bench/out/workers-oauth/index.js and starts
// it in miniflare. It is OAuth 2.1, not OpenID Connect: no ID token, no signature anywhere.
//
// Bindings: KV OAUTH_KV; SESSION_SECRET (HMAC key of the session cookie), CONSENT_SECRET (the
// library's remembered-consent cookie). Routes (the library's, then ours in defaultHandler):
//   GET  /.well-known/oauth-authorization-server   RFC 8414 metadata (built per request)
//   POST /register          dynamic client registration (set-up: the bench's confidential client)
//   GET  /login?user=benchN set-up, not measured: signs the user in with no password, cookie
//                           `s=<user>.<HMAC-SHA256 of user>` (a real app would check a password)
//   GET  /authorize         with the session: consent remembered (the library's signed
//                           `__Host-oauth-approvals` cookie) → completeAuthorization → 302 with
//                           the code; else the consent page (beginConsent)
//   POST /authorize         consent allowed (approveConsent, remembered) → 302 with the code
//   POST /token             the library's token endpoint (client_secret_basic, PKCE S256)
//   GET  /api/userinfo      the protected call: the grant's props {sub, name, email} as JSON
//
// The OAuthProvider is built on the first request: its resource (`<origin>/api/`, the audience
// its tokens are checked against) must name the origin, whose port miniflare picks at start.
//
// Per request (read from the library's dist/oauth-provider.js; KV is miniflare's simulator in
// the same workerd process, its default storage as edge-oidc's namespaces: SQLite and blob files
// in a temporary directory; SHA-256 hex ids for every secret; "wrap" = an HMAC-SHA256 of the
// token → an AES-KW key → wrap or unwrap the grant's AES-256-GCM key):
//   discovery        nothing
//   GET /authorize   session cookie: one HMAC-SHA256 verify; KV get client (parseAuthRequest);
//                    remembered consent: one HMAC-SHA256 verify (its key imported each time) and
//                    one SHA-256; completeAuthorization: KV get client again, KV list
//                    `grant:<user>:` (to revoke the user's earlier grants for the client, the
//                    default), AES-GCM key generation and encryption of the props, SHA-256 of the
//                    code, one wrap, KV put grant; then revoking the previous flow's grant: KV list
//                    of its tokens, KV delete per token (one), KV delete grant → 302
//   POST /token      KV get client, SHA-256 of the secret; KV get grant, SHA-256 of the code and
//                    of the PKCE verifier, one unwrap; a refresh token (issued by default):
//                    SHA-256 + wrap; KV put grant; the access token: SHA-256 + wrap, KV put token
//                    → JSON (access_token, refresh_token; no id_token)
//   GET /api/userinfo  SHA-256 of the token, KV get token, one unwrap, AES-GCM decryption of
//                    the props → JSON
import { AuthorizationError, OAuthProvider } from "@cloudflare/workers-oauth-provider";

const SCOPES = ["openid", "profile", "email"];
// The bench users: bench0, bench1, … (a set-up sign-in names one; any number of them).
const USERS = { has: (u) => /^bench\d{1,4}$/.test(u ?? "") };
const enc = new TextEncoder();
const b64u = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const unb64u = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

let sessionKey; // imported once per isolate
const hmacKey = (env) =>
  (sessionKey ??= crypto.subtle.importKey("raw", enc.encode(env.SESSION_SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]));

/** The signed-in user of the `s` cookie, or null. */
async function sessionUser(request, env) {
  const m = /(?:^|;\s*)s=([^.;]+)\.([^;\s]+)/.exec(request.headers.get("cookie") ?? "");
  if (!m) return null;
  const ok = await crypto.subtle.verify("HMAC", await hmacKey(env), unb64u(m[2]), enc.encode(m[1]));
  return ok ? m[1] : null;
}

const props = (userId) => ({ sub: userId, name: "Bench User", email: `${userId}@example.com` });
const html = (text, status = 200, headers = new Headers()) => {
  headers.set("content-type", "text/html; charset=utf-8");
  return new Response(text, { status, headers });
};

async function authorize(request, env) {
  const userId = await sessionUser(request, env);
  if (!userId) return html("sign in first", 401);
  const oauth = env.OAUTH_PROVIDER;
  const remember = { secret: env.CONSENT_SECRET, subject: userId };
  let authRequest, headers;
  if (request.method === "POST") {
    const form = await request.formData();
    if (form.get("decision") !== "allow") return html("declined", 400);
    ({ request: authRequest, headers } = await oauth.approveConsent(request, String(form.get("handle")), { remember }));
  } else {
    authRequest = await oauth.parseAuthRequest(request);
    if (!(await oauth.isConsentRemembered(request, authRequest, remember))) {
      const consent = await oauth.beginConsent(authRequest);
      return html(`<form method="post"><input type="hidden" name="handle" value="${consent.handle}"><button name="decision" value="allow">Allow</button></form>`, 200, consent.headers);
    }
    headers = new Headers();
  }
  const { redirectTo } = await oauth.completeAuthorization({ request: authRequest, userId, metadata: {}, scope: authRequest.scope, props: props(userId) });
  headers.set("location", redirectTo);
  return new Response(null, { status: 302, headers });
}

const defaultHandler = {
  async fetch(request, env) {
    const url = new URL(request.url);
    try {
      if (url.pathname === "/authorize") return await authorize(request, env);
    } catch (e) {
      if (e instanceof AuthorizationError) return e.redirectTo ? Response.redirect(e.redirectTo, 302) : html(e.description, 400);
      throw e;
    }
    if (url.pathname === "/login") {
      const user = url.searchParams.get("user");
      if (!USERS.has(user)) return html("unknown user", 400);
      const sig = b64u(await crypto.subtle.sign("HMAC", await hmacKey(env), enc.encode(user)));
      return new Response(null, { status: 204, headers: { "set-cookie": `s=${user}.${sig}; Path=/; HttpOnly; Secure; SameSite=Lax` } });
    }
    return html("not found", 404);
  },
};

const apiHandler = {
  async fetch(request, env, ctx) {
    if (new URL(request.url).pathname !== "/api/userinfo") return new Response("not found", { status: 404 });
    return Response.json(ctx.props);
  },
};

let provider;
export default {
  fetch(request, env, ctx) {
    // The empty request (this worker's baseline for net figures), before the provider.
    if (new URL(request.url).pathname === "/noop") return new Response("ok");
    provider ??= new OAuthProvider({
      apiRoute: "/api/",
      apiHandler,
      defaultHandler,
      authorizeEndpoint: "/authorize",
      tokenEndpoint: "/token",
      clientRegistrationEndpoint: "/register",
      scopesSupported: SCOPES,
      resourceMetadata: { resource: new URL("/api/", request.url).href },
    });
    return provider.fetch(request, env, ctx);
  },
};
