// The floor: the returning-user flow's three requests, and the consent POST, done the least way
// the runtime allows, in plain JavaScript, with the same primitives as edge-oidc (bench/README.md,
// "The floor"). No client or user records, no PKCE, no sealing or hashing: only what no
// implementation can skip — parse the request, its Durable Object calls by RPC (one, read only
// or read and write; two in sequence for the consent POST), one RS256 signature at the token
// endpoint, one console line per audit event edge-oidc writes (docs/events.md: a code issued,
// a consent given, a sign-in, a code redeemed), build the response. What edge-oidc costs above
// these figures is its own work; what these cost is the runtime's on this machine.
//
//   GET  /noop                     the empty request (this worker's baseline)
//   GET  /rs256                    one RS256 signature (the primitive, as edge-oidc's probe)
//   GET  /audit                    one audit line (the primitive, as edge-oidc's probe)
//   GET  /do-write-existing        one call to an existing object that reads and writes a value
//   GET  /authorize?state=…        cookie `s=<user>`: the user's account object checks the session
//                                  (read only) → 303 to the redirect URI with a code
//   POST /token                    Basic auth, form with the code: the user's grant home (an
//                                  object per user, as edge-oidc's per user and client) redeems it
//                                  under the grant's key (read, write; the first write of a home
//                                  also sets its alarm) → RS256 ID token (ES256 for the client
//                                  bench-es256, as edge-oidc's)
//   GET  /userinfo                 Bearer token: the grant is read in the home → JSON claims
//   POST /reserve                  (set-up, not measured; as edge-oidc's login) a new grant
//                                  object for the user, reserved → `tx` for the consent form
//   POST /consent                  cookie `s=<user>`, form `tx`, `decision=allow`: two object
//                                  calls in sequence, as edge-oidc's — the user's account
//                                  remembers the consent (read, write), then the grant object
//                                  stores the code (read the reservation, write) → 303 with it
//   POST /passkey                  a passkey sign-in: form with `credential` (WebAuthn's JSON):
//                                  the user's account object reads the passkey's public key, one
//                                  ES256 verification through WebCrypto (key imported, client
//                                  data hashed, DER signature made raw), the account records the
//                                  counter and the session (read, write) → a page, a cookie
//   POST /passkey-setup            (set-up) a user's passkey: {user, id, jwk}
//   POST /setup                    the RS256 and ES256 private keys (JWK), imported once
import { DurableObject } from "cloudflare:workers";

/** Synchronous storage where the object is SQLite-backed, else the asynchronous API. */
class Stored extends DurableObject {
  kv() {
    try {
      const kv = this.ctx.storage.kv;
      kv.get("-");
      return kv;
    } catch {
      return null;
    }
  }
  async load(key) {
    const kv = this.kv();
    const v = kv ? kv.get(key) : await this.ctx.storage.get(key);
    return v === undefined || v === null ? null : JSON.parse(v);
  }
  async save(key, value) {
    const kv = this.kv();
    const text = JSON.stringify(value);
    if (kv) kv.put(key, text);
    else await this.ctx.storage.put(key, text);
  }
}

export class Account extends Stored {
  async command(cmd) {
    if (cmd.write) {
      // The probe (/do-write-existing): one read and one write of an existing object.
      const n = (await this.load("probe")) ?? 0;
      await this.save("probe", n + 1);
      return { result: "active" };
    }
    if (cmd.op === "add-passkey" || cmd.op === "credential" || cmd.op === "use") {
      const keys = (await this.load("passkeys")) ?? {};
      if (cmd.op === "add-passkey") {
        keys[cmd.id] = { jwk: cmd.jwk, count: 0 };
        await this.save("passkeys", keys);
        return { result: "added" };
      }
      const k = keys[cmd.id];
      if (cmd.op === "credential") return k ? { result: "found", jwk: k.jwk } : { result: "unknown" };
      // The counter moves forward and a session starts: one write.
      if (!k || cmd.count <= k.count) return { result: "refused" };
      k.count = cmd.count;
      const sessions = (await this.load("sessions")) ?? [];
      sessions.push({ id: cmd.session, expires_at: Date.now() + 86400_000 });
      if (sessions.length > 32) sessions.shift();
      await this.save("passkeys", keys);
      await this.save("sessions", sessions);
      return { result: "used" };
    }
    if (cmd.op === "allow") {
      // The consent POST: remember the client's consent and the grant made under it, which
      // withdrawing the consent must revoke (read, write; at most 256 grants, as edge-oidc's).
      const acct = (await this.load("consents")) ?? { consents: {} };
      const c = (acct.consents[cmd.client] ??= { items: [], grants: [] });
      c.items = [...new Set([...c.items, ...cmd.items])];
      c.granted_at = Date.now();
      c.grants.push({ id: cmd.grant, expires_at: Date.now() + 3600_000 });
      if (c.grants.length > 256) c.grants.shift();
      await this.save("consents", acct);
      return { result: "allowed" };
    }
    // A returning user's session check reads the account and writes nothing (as edge-oidc's
    // account object does for a client already noted on the session).
    const acct = (await this.load("account")) ?? { sessions: [{ id: cmd.session }] };
    if (!acct.sessions.some((s) => s.id === cmd.session)) return { result: "no_session" };
    return { result: "active", username: cmd.user, auth_time: 1 };
  }
}

export class Grant extends Stored {
  async command(cmd) {
    const key = `grant:${cmd.id}`;
    const st = await this.load(key);
    if (cmd.op === "read") return st ? { result: "grant", grant: st.grant } : { result: "invalid" };
    if (cmd.op === "reserve") {
      if (st) return { result: "conflict" };
      await this.save(key, { reserved_until: Date.now() + 600_000 });
      return { result: "reserved" };
    }
    if (cmd.op === "issue") {
      // The consent POST's second call: the reservation becomes the grant with its code.
      if (!st || !st.reserved_until || st.reserved_until < Date.now()) return { result: "not_reserved" };
      await this.save(key, { grant: cmd.grant, code: cmd.code, access: [] });
      return { result: "issued" };
    }
    const first = st === null;
    const next = st ?? { grant: cmd.grant, access: [] };
    next.redeemed_at = Date.now();
    next.access.push({ hash: cmd.access_hash, expires_at: Date.now() + 3600_000 });
    if (next.access.length > 16) next.access.shift();
    await this.save(key, next);
    if (first && !this.alarmSet) {
      await this.ctx.storage.setAlarm(Date.now() + 3600_000);
      this.alarmSet = true;
    }
    return { result: "granted", grant: next.grant };
  }
  async alarm() {}
}

const enc = new TextEncoder();
const b64u = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const random = (n) => b64u(crypto.getRandomValues(new Uint8Array(n)));
let signingKey = null;
let esKey = null;

/** An object call: JavaScript RPC (cheaper than the object's `fetch`), the command and the reply
 * structured-cloned. */
const call = (ns, name, cmd) => ns.get(ns.idFromName(name)).command(cmd);

/** The signed-in user: cookie `s=<user>`. */
const sessionUser = (req) => (req.headers.get("cookie") ?? "").match(/(?:^|; )s=([^;]+)/)?.[1];

const unb64u = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
/** An ECDSA signature, DER (WebAuthn) → r ‖ s (WebCrypto). */
function rawSignature(der) {
  const int = (at) => {
    const len = der[at + 1];
    let v = der.slice(at + 2, at + 2 + len);
    while (v.length > 32 && v[0] === 0) v = v.slice(1);
    const out = new Uint8Array(32);
    out.set(v, 32 - v.length);
    return [out, at + 2 + len];
  };
  const [r, next] = int(2);
  const [s] = int(next);
  const raw = new Uint8Array(64);
  raw.set(r);
  raw.set(s, 32);
  return raw;
}

/** An audit event's line on the console, one `console.log` per event, with the fields edge-oidc's
 * line has for it (docs/events.md): the product writes these, so the floor does too. */
function audit(req, event, client_id, subject, amr) {
  const ip = req.headers.get("cf-connecting-ip")?.replace(/\.\d+$/, ".0");
  console.log(JSON.stringify({ time: new Date().toISOString().slice(0, 19) + "Z", event, outcome: "success", client_id, subject, ip, amr }));
}

const json = (status, value, extra = {}) =>
  new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json", "cache-control": "no-store", ...extra } });

export default {
  async fetch(req, env) {
    const url = new URL(req.url);
    switch (url.pathname) {
      case "/noop":
        return new Response("ok");
      case "/setup":
        const { rsa, ec } = await req.json();
        signingKey = await crypto.subtle.importKey("jwk", rsa, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
        esKey = await crypto.subtle.importKey("jwk", ec, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
        return new Response("ok");
      case "/rs256": {
        await crypto.subtle.sign("RSASSA-PKCS1-v1_5", signingKey, enc.encode("header.payload"));
        return new Response("ok");
      }
      case "/audit":
        audit(req, "consent.granted", "bench-client", "user-0001");
        return new Response("ok");
      case "/do-write-existing": {
        const r = await call(env.ACCOUNT, "probe", { write: true });
        return new Response(r.result);
      }
      case "/authorize": {
        const user = sessionUser(req);
        if (!user) return new Response("no session", { status: 400 });
        const grant = random(16);
        const r = await call(env.ACCOUNT, user, { session: user, user });
        if (r.result !== "active") return new Response("no session", { status: 400 });
        const to = new URL(url.searchParams.get("redirect_uri") ?? "http://127.0.0.1:9/cb");
        to.searchParams.set("code", `${grant}~${user}`);
        to.searchParams.set("state", url.searchParams.get("state") ?? "");
        to.searchParams.set("iss", url.origin);
        audit(req, "code.issued", "bench-client", user);
        return new Response(null, { status: 303, headers: { location: to.href, "cache-control": "no-store" } });
      }
      case "/passkey-setup": {
        const { user, id, jwk } = await req.json();
        const r = await call(env.ACCOUNT, user, { op: "add-passkey", id, jwk });
        return new Response(r.result);
      }
      case "/passkey": {
        const form = new URLSearchParams(await req.text());
        const cred = JSON.parse(form.get("credential") ?? "null");
        const r = cred?.response;
        if (!r?.userHandle || !r.clientDataJSON || !r.authenticatorData || !r.signature) return new Response("invalid request", { status: 400 });
        const user = new TextDecoder().decode(unb64u(r.userHandle));
        const [cd, ad] = [unb64u(r.clientDataJSON), unb64u(r.authenticatorData)];
        if (JSON.parse(new TextDecoder().decode(cd)).type !== "webauthn.get") return new Response("invalid request", { status: 400 });
        const k = await call(env.ACCOUNT, user, { op: "credential", id: cred.id });
        if (k.result !== "found") return new Response("unknown passkey", { status: 400 });
        const key = await crypto.subtle.importKey("jwk", k.jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
        const signed = new Uint8Array(ad.length + 32);
        signed.set(ad);
        signed.set(new Uint8Array(await crypto.subtle.digest("SHA-256", cd)), ad.length);
        const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, rawSignature(unb64u(r.signature)), signed);
        if (!ok) return new Response("bad signature", { status: 400 });
        const used = await call(env.ACCOUNT, user, { op: "use", id: cred.id, count: new DataView(ad.buffer).getUint32(33), session: random(32) });
        if (used.result !== "used") return new Response("refused", { status: 400 });
        audit(req, "sign_in.succeeded", "bench-client", user, ["hwk"]);
        const page = `<!doctype html><html lang="en"><title>Allow access?</title><form method="post" action="/consent"><input type="hidden" name="tx" value="${random(16)}~${user}"><button name="decision" value="allow">Allow</button></form></html>`;
        return new Response(page, { headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "set-cookie": `s=${user}; Path=/; HttpOnly; Secure; SameSite=Lax` } });
      }
      case "/reserve": {
        const user = await req.text();
        const grant = random(16);
        const r = await call(env.GRANT, grant, { op: "reserve", id: grant });
        if (r.result !== "reserved") return new Response("conflict", { status: 409 });
        return new Response(`${grant}~${user}`);
      }
      case "/consent": {
        const user = sessionUser(req);
        const form = new URLSearchParams(await req.text());
        const [grant, txUser] = (form.get("tx") ?? "").split("~");
        if (!user || user !== txUser || form.get("decision") !== "allow") return new Response("invalid request", { status: 400 });
        const a = await call(env.ACCOUNT, user, { op: "allow", client: "bench-client", items: ["openid", "profile", "email"], grant });
        if (a.result !== "allowed") return new Response("unavailable", { status: 503 });
        audit(req, "consent.granted", "bench-client", user);
        const code = random(32);
        const claims = { sub: user, aud: "bench-client", scope: "openid profile email", nonce: "n" };
        const r = await call(env.GRANT, grant, { op: "issue", id: grant, grant: claims, code });
        if (r.result !== "issued") return new Response("expired", { status: 400 });
        const to = new URL(form.get("redirect_uri") ?? "http://127.0.0.1:9/cb");
        to.searchParams.set("code", `${grant}.${code}`);
        to.searchParams.set("state", "s");
        to.searchParams.set("iss", url.origin);
        audit(req, "code.issued", "bench-client", user);
        return new Response(null, { status: 303, headers: { location: to.href, "cache-control": "no-store" } });
      }
      case "/token": {
        const basic = (req.headers.get("authorization") ?? "").match(/^Basic (.+)$/)?.[1];
        if (!basic) return json(401, { error: "invalid_client" });
        // The client registered for ES256 ID tokens gets one (edge-oidc's bench-es256).
        const es = atob(basic).startsWith("bench-es256:");
        const form = new URLSearchParams(await req.text());
        const [grantId, user] = (form.get("code") ?? "").split("~");
        if (!grantId || !user) return json(400, { error: "invalid_grant" });
        const access = random(32);
        const claims = { sub: user, aud: "bench-client", scope: "openid profile email", nonce: "n", email: `${user}@example.com`, email_verified: true, name: "Bench User" };
        const r = await call(env.GRANT, `home:${user}`, { op: "redeem", id: grantId, grant: claims, access_hash: access.slice(0, 43) });
        if (r.result !== "granted") return json(400, { error: "invalid_grant" });
        audit(req, "code.redeemed", es ? "bench-es256" : "bench-client", user);
        const now = Math.floor(Date.now() / 1000);
        const head = b64u(enc.encode(JSON.stringify({ alg: es ? "ES256" : "RS256", typ: "JWT", kid: "k" })));
        const body = b64u(enc.encode(JSON.stringify({ iss: url.origin, iat: now, exp: now + 3600, auth_time: 1, at_hash: access.slice(0, 22), ...r.grant })));
        const signed = enc.encode(`${head}.${body}`);
        const sig = new Uint8Array(await (es ? crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, esKey, signed) : crypto.subtle.sign("RSASSA-PKCS1-v1_5", signingKey, signed)));
        return json(200, { access_token: `${user}~${grantId}.${access}`, token_type: "Bearer", expires_in: 3600, id_token: `${head}.${body}.${b64u(sig)}`, scope: r.grant.scope }, { pragma: "no-cache" });
      }
      case "/userinfo": {
        const token = (req.headers.get("authorization") ?? "").match(/^Bearer (.+)$/)?.[1];
        const [user, grantId] = token?.split(".")[0].split("~") ?? [];
        if (!user || !grantId) return json(401, { error: "invalid_token" });
        const r = await call(env.GRANT, `home:${user}`, { op: "read", id: grantId });
        if (r.result !== "grant") return json(401, { error: "invalid_token" });
        const { sub, email, email_verified, name } = r.grant;
        return json(200, { sub, email, email_verified, name });
      }
      default:
        return new Response("not found", { status: 404 });
    }
  },
};
