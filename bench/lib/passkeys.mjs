// Passkey sign-ins for the benchmark: a software authenticator (P-256, ES256, as most
// platform authenticators), a passkey registered per bench user on the account page, and the
// sign-in POST that carries an assertion.

import crypto from "node:crypto";

import { expect } from "./measure.mjs";
import { FORM, cookies, form } from "./flows.mjs";

// Enough CBOR (RFC 8949) for an attestation object and a COSE key.
function cbor(v) {
  const head = (major, n) => {
    if (n < 24) return Buffer.from([(major << 5) | n]);
    if (n < 256) return Buffer.from([(major << 5) | 24, n]);
    const b = Buffer.alloc(3);
    b[0] = (major << 5) | 25;
    b.writeUInt16BE(n, 1);
    return b;
  };
  if (Number.isInteger(v)) return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (Buffer.isBuffer(v)) return Buffer.concat([head(2, v.length), v]);
  if (typeof v === "string") return Buffer.concat([head(3, Buffer.byteLength(v)), Buffer.from(v)]);
  if (v instanceof Map) return Buffer.concat([head(5, v.size), ...[...v].flatMap(([k, x]) => [cbor(k), cbor(x)])]);
  throw new Error(`cbor: ${typeof v}`);
}

const b64u = (b) => Buffer.from(b).toString("base64url");
const sha256 = (b) => crypto.createHash("sha256").update(b).digest();

/// The options in a page's passkey form.
function options(html, mode) {
  const at = html.indexOf(`data-webauthn="${mode}"`);
  const m = at >= 0 && /data-options="([^"]*)"/.exec(html.slice(at));
  if (!m) throw new Error(`no ${mode} passkey form in the page`);
  return JSON.parse(m[1].replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&"));
}

export class Authenticator {
  constructor(origin) {
    this.origin = origin;
    const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
    this.key = privateKey;
    this.jwk = publicKey.export({ format: "jwk" });
    this.id = crypto.randomBytes(16);
    this.counter = 0;
    this.handle = null;
  }
  authData(rpId, attested) {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(this.counter);
    const parts = [sha256(rpId), Buffer.from([0x05 | (attested ? 0x40 : 0)]), count];
    if (attested) {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(this.id.length);
      const cose = new Map([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(this.jwk.x, "base64url")], [-3, Buffer.from(this.jwk.y, "base64url")]]);
      parts.push(Buffer.alloc(16), len, this.id, cbor(cose));
    }
    return Buffer.concat(parts);
  }
  clientData(type, challenge) {
    return Buffer.from(JSON.stringify({ type, challenge, origin: this.origin, crossOrigin: false }));
  }
  register(o) {
    this.handle = Buffer.from(o.user.id, "base64url");
    const cd = this.clientData("webauthn.create", o.challenge);
    const att = cbor(new Map([["fmt", "none"], ["attStmt", new Map()], ["authData", this.authData(o.rp.id, true)]]));
    return JSON.stringify({ id: b64u(this.id), rawId: b64u(this.id), type: "public-key", response: { clientDataJSON: b64u(cd), attestationObject: b64u(att) } });
  }
  assert(o) {
    this.counter += 1;
    const cd = this.clientData("webauthn.get", o.challenge);
    const ad = this.authData(o.rpId, false);
    const signature = crypto.sign("sha256", Buffer.concat([ad, sha256(cd)]), { key: this.key, dsaEncoding: "der" });
    return JSON.stringify({ id: b64u(this.id), rawId: b64u(this.id), type: "public-key",
      response: { clientDataJSON: b64u(cd), authenticatorData: b64u(ad), signature: b64u(signature), userHandle: b64u(this.handle) } });
  }
}

/// Registers a passkey on the account page of the signed-in `session` (a cookie).
export async function registerPasskey(req, session, auth) {
  const page = expect(await req("GET", "/account", { headers: { cookie: session } }), 200, "account page");
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1];
  const csrfCookie = cookies(page).find((c) => c.includes("oidc_csrf="));
  if (!csrf || !csrfCookie) throw new Error("account page: no anti-CSRF token");
  const body = form({ csrf, registration: auth.register(options(page.body, "create")) });
  const res = await req("POST", "/account", { headers: { ...FORM, cookie: `${session}; ${csrfCookie}` }, body });
  if (res.status !== 303 || !String(res.headers.location).includes("done=added")) throw new Error(`adding a passkey: ${res.status} ${res.body.slice(0, 300)}`);
}

/// The sign-in POST with a passkey, on a sign-in page (`s` from steps.authorize, with `html`).
export async function passkeyLogin(req, s, auth) {
  const body = form({ tx: s.tx, credential: auth.assert(options(s.html, "get")) });
  return expect(await req("POST", "/login", { headers: { ...FORM, cookie: s.cookie }, body }), 200, "passkey login");
}
