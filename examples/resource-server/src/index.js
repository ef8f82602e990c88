// An example resource server in front of an MCP server, protected by edge-oidc: a Worker
// that serves its protected resource metadata (RFC 9728), answers requests without a valid
// access token with the challenge MCP clients follow (401, `WWW-Authenticate: Bearer
// resource_metadata=...`), validates access tokens — RFC 9068 JWTs on its own with the
// provider's JWKS, or opaque tokens by introspection (RFC 7662) — and then serves a minimal
// MCP server over Streamable HTTP (JSON responses): one tool, `whoami`.
//
// Settings (wrangler.toml [vars], secrets for the introspection credentials):
//   ISSUER          edge-oidc's issuer, e.g. https://login.example.com
//   RESOURCE        this server's canonical URI, as registered with
//                   `oidc-admin resources add <RESOURCE> --scope "mcp:tools=use your tools"`
//   SCOPE           the scope a call needs (default mcp:tools)
//   TOKENS          jwt (default: check JWT access tokens locally) or introspection
//   INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET
//                   with TOKENS=introspection: this server's own client, named in the
//                   resource's record (`--introspection-client`)
//   UPSTREAM        optional: an MCP server to forward authorized requests to, instead of
//                   the built-in one (the caller's identity goes along as X-User-Sub and
//                   X-Client-Id headers)

const PRM_PATH = "/.well-known/oauth-protected-resource";
const PROTOCOL_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26"];

const b64url = {
  decode(s) {
    const b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
    return Uint8Array.from(b, (c) => c.charCodeAt(0));
  },
  json(s) {
    return JSON.parse(new TextDecoder().decode(this.decode(s)));
  },
};

function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
  });
}

/** The protected resource metadata (RFC 9728 §2) of this server. */
function metadata(env) {
  return {
    resource: env.RESOURCE,
    authorization_servers: [env.ISSUER],
    scopes_supported: [env.SCOPE || "mcp:tools"],
    bearer_methods_supported: ["header"],
    resource_name: "edge-oidc example MCP server",
  };
}

/** 401 or 403 with the challenge (RFC 6750 §3, RFC 9728 §5.1). */
function challenge(env, url, status, error, description) {
  const prm = `${url.origin}${PRM_PATH}${new URL(env.RESOURCE).pathname.replace(/\/$/, "")}`;
  let value = `Bearer resource_metadata="${prm}", scope="${env.SCOPE || "mcp:tools"}"`;
  if (error) value += `, error="${error}", error_description="${description}"`;
  return json(status, { error: error || "unauthorized", error_description: description || "an access token is required" }, {
    "www-authenticate": value,
  });
}

// The provider's keys, per isolate, refetched when a token names a kid we do not know.
let jwks = { keys: [], at: 0 };
async function key(env, kid) {
  const find = () => jwks.keys.find((k) => k.kid === kid);
  if (!find() && Date.now() - jwks.at > 10_000) {
    const r = await fetch(`${env.ISSUER}/jwks.json`);
    if (r.ok) jwks = { keys: (await r.json()).keys, at: Date.now() };
  }
  const jwk = find();
  if (!jwk || jwk.kty !== "RSA") return null;
  return crypto.subtle.importKey("jwk", { kty: "RSA", n: jwk.n, e: jwk.e, alg: "RS256" }, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["verify"]);
}

/** RFC 9068 §4: a JWT access token for this resource, or why not. */
async function checkJwt(env, token) {
  const parts = token.split(".");
  if (parts.length !== 3) return { error: "not a JWT access token" };
  let header, claims;
  try {
    header = b64url.json(parts[0]);
    claims = b64url.json(parts[1]);
  } catch {
    return { error: "malformed token" };
  }
  if (!/^(application\/)?at\+jwt$/i.test(header.typ || "")) return { error: "not an access token (typ)" };
  if (header.alg !== "RS256") return { error: "unexpected alg" };
  const k = await key(env, header.kid);
  if (!k) return { error: "unknown signing key" };
  const ok = await crypto.subtle.verify("RSASSA-PKCS1-v1_5", k, b64url.decode(parts[2]), new TextEncoder().encode(`${parts[0]}.${parts[1]}`));
  if (!ok) return { error: "bad signature" };
  if (claims.iss !== env.ISSUER) return { error: "another issuer" };
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.includes(env.RESOURCE)) return { error: "the token is for another resource" };
  if (!(claims.exp > Date.now() / 1000)) return { error: "the token has expired" };
  return { claims };
}

/** RFC 7662: an opaque token, through the provider's introspection endpoint. */
async function introspect(env, token) {
  const basic = btoa(`${encodeURIComponent(env.INTROSPECTION_CLIENT_ID)}:${encodeURIComponent(env.INTROSPECTION_CLIENT_SECRET)}`);
  const r = await fetch(`${env.ISSUER}/introspect`, {
    method: "POST",
    headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token }),
  });
  if (!r.ok) return { error: `introspection failed (${r.status})` };
  const claims = await r.json();
  if (!claims.active) return { error: "the token is not active" };
  if (claims.aud !== env.RESOURCE) return { error: "the token is for another resource" };
  return { claims };
}

/** The built-in MCP server: JSON-RPC over Streamable HTTP, answered with plain JSON. */
async function mcp(request, who) {
  if (request.method !== "POST") return new Response(null, { status: 405, headers: { allow: "POST" } });
  let msg;
  try {
    msg = await request.json();
  } catch {
    return json(400, { jsonrpc: "2.0", id: null, error: { code: -32700, message: "parse error" } });
  }
  const answer = (m) => {
    if (m.id === undefined) return null; // a notification
    const ok = (result) => ({ jsonrpc: "2.0", id: m.id, result });
    switch (m.method) {
      case "initialize": {
        const asked = m.params?.protocolVersion;
        const protocolVersion = PROTOCOL_VERSIONS.includes(asked) ? asked : PROTOCOL_VERSIONS[0];
        return ok({ protocolVersion, capabilities: { tools: {} }, serverInfo: { name: "edge-oidc-example", version: "1.0.0" } });
      }
      case "ping":
        return ok({});
      case "tools/list":
        return ok({ tools: [{ name: "whoami", description: "Who the access token says is calling", inputSchema: { type: "object", properties: {} } }] });
      case "tools/call":
        if (m.params?.name !== "whoami") return { jsonrpc: "2.0", id: m.id, error: { code: -32602, message: "unknown tool" } };
        return ok({ content: [{ type: "text", text: JSON.stringify(who) }], isError: false });
      default:
        return { jsonrpc: "2.0", id: m.id, error: { code: -32601, message: "method not found" } };
    }
  };
  const batch = Array.isArray(msg);
  const replies = (batch ? msg : [msg]).map(answer).filter(Boolean);
  if (replies.length === 0) return new Response(null, { status: 202 });
  return json(200, batch ? replies : replies[0]);
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const resourcePath = new URL(env.RESOURCE).pathname;
    if (url.pathname === PRM_PATH || url.pathname === `${PRM_PATH}${resourcePath}`) {
      return json(200, metadata(env), { "access-control-allow-origin": "*", "cache-control": "public, max-age=300" });
    }
    if (url.pathname !== resourcePath) return json(404, { error: "not_found" });
    const auth = request.headers.get("authorization") || "";
    const [scheme, token] = auth.split(" ");
    if (!/^bearer$/i.test(scheme || "") || !token) return challenge(env, url, 401);
    const checked = env.TOKENS === "introspection" ? await introspect(env, token) : await checkJwt(env, token);
    if (checked.error) return challenge(env, url, 401, "invalid_token", checked.error);
    const scopes = String(checked.claims.scope || "").split(" ");
    const needed = env.SCOPE || "mcp:tools";
    if (!scopes.includes(needed)) return challenge(env, url, 403, "insufficient_scope", `the token lacks ${needed}`);
    const who = { sub: checked.claims.sub, client_id: checked.claims.client_id, scope: checked.claims.scope };
    if (env.UPSTREAM) {
      const forwarded = new Request(env.UPSTREAM, request);
      forwarded.headers.delete("authorization");
      forwarded.headers.set("x-user-sub", who.sub || "");
      forwarded.headers.set("x-client-id", who.client_id || "");
      return fetch(forwarded);
    }
    return mcp(request, who);
  },
};
