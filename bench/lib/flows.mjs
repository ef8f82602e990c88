// The provider's flow, one request at a time, with the bench's client and users.

import crypto from "node:crypto";

import { expect } from "./measure.mjs";

// The provider's flow, one request at a time

export const REDIRECT_URI = "http://127.0.0.1:9/cb";
export const CLIENT_ID = "bench-client";
export const ES_CLIENT_ID = "bench-es256";
// Logins are spread over 16 users: concurrent attempts on one account are limited by design
// (pending attempts count toward LOGIN_MAX_FAILURES), and real concurrent logins are different users.
export const USERS = Array.from({ length: 16 }, (_, i) => ({ username: `bench${i}`, password: `bench password ${i}` }));
export const userFor = (i) => USERS[Math.abs(i) % USERS.length];
export const USER40K = { username: "bench40k", password: "bench password 456" };
// The budget rounds' users: accounts of their own, so that the rounds do not inherit the
// thousands of grants the suite's batches leave on record for the bench users.
export const ROUND_USERS = Array.from({ length: 16 }, (_, i) => ({ username: `round${i}`, password: `round password ${i}` }));
// PKCE (S256): a fixed verifier is fine for a benchmark.
export const VERIFIER = "bench-verifier-0123456789-0123456789-0123456789";
export const CHALLENGE = crypto.createHash("sha256").update(VERIFIER).digest("base64url");
export const form = (o) => new URLSearchParams(o).toString();
export const FORM = { "content-type": "application/x-www-form-urlencoded" };

/** An authorization request's query for `clientId` (operation `i`), PKCE S256, and `extra`. */
export const authorizeQuery = (clientId, i, extra = {}) =>
  form({
    response_type: "code",
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    scope: "openid profile email",
    state: `s${i}`,
    nonce: `n${i}`,
    code_challenge: CHALLENGE,
    code_challenge_method: "S256",
    ...extra,
  });

/** A response's cookies, `name=value` each. */
export const cookies = (res) => [res.headers["set-cookie"] ?? []].flat().map((c) => String(c).split(";")[0]);

export function flowSteps(req, secret, clientId = CLIENT_ID) {
  const basic = "Basic " + Buffer.from(`${clientId}:${secret}`).toString("base64");
  // The first-time flow asks for prompt=consent: a bench user's consent is remembered after
  // its first flow, and the first-time flow must show the consent page every time.
  const authorizePath = (i, extra = { prompt: "consent" }) => "/authorize?" + authorizeQuery(clientId, i, extra);
  const codeOf = (res, what) => {
    if (res.status !== 302 && res.status !== 303) expect(res, 303, what);
    const code = new URL(res.headers.location).searchParams.get("code");
    if (!code) throw new Error(`${what}: no code in ${res.headers.location}`);
    return code;
  };
  const tx = (res, what) => {
    const m = res.body.match(/name="tx" value="([^"]+)"/);
    if (!m) throw new Error(`${what}: no tx in the page`);
    return m[1];
  };
  return {
    async authorize(i) {
      const res = expect(await req("GET", authorizePath(i)), 200, "authorize");
      const cookie = cookies(res).find((c) => c.includes("oidc_csrf="));
      if (!cookie) throw new Error("authorize: no anti-CSRF cookie");
      return { cookie, tx: tx(res, "authorize"), html: res.body };
    },
    async login(s, user) {
      const body = form({ tx: s.tx, username: user.username, password: user.password });
      const res = expect(await req("POST", "/login", { headers: { ...FORM, cookie: s.cookie }, body }), 200, "login");
      const session = cookies(res).find((c) => c.includes("oidc_session="));
      return { cookie: session ? `${s.cookie}; ${session}` : s.cookie, session, tx: tx(res, "login") };
    },
    // A returning user: live session, consent remembered → a code with no page.
    async resume(i, session) {
      return codeOf(await req("GET", authorizePath(i, {}), { headers: { cookie: session } }), "authorize (session)");
    },
    // A signed-in user asked for consent (prompt=consent): the consent page's form.
    async consentPage(i, session) {
      const res = expect(await req("GET", authorizePath(i), { headers: { cookie: session } }), 200, "authorize (session, consent)");
      if (!res.body.includes('name="decision"')) throw new Error("authorize (session, consent): not the consent page (session gone?)");
      const csrf = cookies(res).find((c) => c.includes("oidc_csrf="));
      return { cookie: csrf ? `${session}; ${csrf}` : session, tx: tx(res, "authorize (session, consent)") };
    },
    async consent(s) {
      const body = form({ tx: s.tx, decision: "allow" });
      const res = await req("POST", "/consent", { headers: { ...FORM, cookie: s.cookie }, body });
      return codeOf(res, "consent");
    },
    async token(code) {
      const body = form({ grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI, code_verifier: VERIFIER });
      const res = expect(await req("POST", "/token", { headers: { ...FORM, authorization: basic }, body }), 200, "token");
      const t = JSON.parse(res.body);
      if (!t.id_token || !t.access_token) throw new Error("token: no id_token/access_token");
      return t.access_token;
    },
    async userinfo(at) {
      const res = expect(await req("GET", "/userinfo", { headers: { authorization: `Bearer ${at}` } }), 200, "userinfo");
      if (!JSON.parse(res.body).sub) throw new Error("userinfo: no sub");
    },
  };
}
