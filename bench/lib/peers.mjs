// The peers (bench/peers): node-oidc-provider in a Node process of its own and
// @cloudflare/workers-oauth-provider in workerd, started as servers.mjs starts the workers, and
// their returning-user flow one request at a time, every response checked (as flows.mjs's
// flowSteps for edge-oidc). Push a peer into `servers` (common.mjs) and stopAll() stops it.

import { spawn } from "node:child_process";
import crypto from "node:crypto";
import path from "node:path";
import readline from "node:readline";
import esbuild from "esbuild";
import { CALLGRIND, OUT, ROOT, log, now } from "./common.mjs";
import { client, cpuMs, expect, underCallgrind } from "./measure.mjs";
import { start } from "./servers.mjs";
import { FORM, REDIRECT_URI, USERS, VERIFIER, authorizeQuery, cookies, form } from "./flows.mjs";

const DISCOVERY = {
  "node-oidc-provider": "/.well-known/openid-configuration",
  "workers-oauth-provider": "/.well-known/oauth-authorization-server",
};

/** node-oidc-provider (bench/peers/node-oidc.mjs) with the run's RSA key, client `bench-client`.
 * `pid` is the node process (its CPU is the peer's); `stop()` (also `mf.dispose()`) ends it. */
export async function startNodeOidc(SIGNING_KEYS) {
  const name = "node-oidc-provider";
  const secret = crypto.randomBytes(24).toString("base64url");
  const t0 = now();
  const argv = [process.execPath, path.join(ROOT, "bench/peers/node-oidc.mjs")];
  const [cmd, args] = CALLGRIND ? underCallgrind(argv) : [argv[0], argv.slice(1)];
  const child = spawn(cmd, args, {
    env: { ...process.env, NODE_OIDC_JWKS: SIGNING_KEYS, NODE_OIDC_SECRET: secret },
    // Its stdin is the tie: the child exits when this process does, however it ends.
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(signal ?? code)));
  const port = await new Promise((resolve, reject) => {
    // Its other output (the provider's notices) goes on to stderr, so the pipe never fills.
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      const m = /^ready (\d+)$/.exec(line);
      if (m) resolve(Number(m[1]));
      else process.stderr.write(`${name}: ${line}\n`);
    });
    exited.then((how) => reject(new Error(`${name} exited (${how}) before it was ready`)));
  });
  const url = `http://127.0.0.1:${port}/`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  const req = client(url);
  try {
    // The time to the first 200, and the first request against later ones, as start() measures.
    const readyMs = now() - t0;
    const t1 = now();
    expect(await req("GET", DISCOVERY[name]), 200, `${name} first request`);
    const firstRequestMs = now() - t1;
    const firstOkMs = now() - t0;
    const t2 = now();
    for (let i = 0; i < 20; i++) expect(await req("GET", DISCOVERY[name]), 200, `${name} warm request`);
    const startup = { readyMs, firstOkMs, firstRequestMs, warmRequestMs: (now() - t2) / 20, cpuToFirstOkMs: cpuMs(child.pid) };
    log(`${name}: node pid ${child.pid} at ${url}; ready ${readyMs.toFixed(0)} ms, first 200 after ${firstOkMs.toFixed(0)} ms`);
    return { name, pid: child.pid, url, req, startup, client: { id: "bench-client", secret }, stop, mf: { dispose: stop } };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** @cloudflare/workers-oauth-provider (bench/peers/workers-oauth/worker.js), bundled into
 * OUT/workers-oauth/index.js, in one workerd process with its KV namespace; its confidential
 * client registered (dynamic registration) as `client`. */
export async function startWorkersOAuth() {
  const name = "workers-oauth-provider";
  const dir = path.join(OUT, "workers-oauth");
  await esbuild.build({
    entryPoints: [path.join(ROOT, "bench/peers/workers-oauth/worker.js")],
    outfile: path.join(dir, "index.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker"],
    external: ["cloudflare:*"],
    logLevel: "warning",
  });
  const secret = () => crypto.randomBytes(32).toString("base64url");
  const server = await start(name, dir, {
    kvNamespaces: ["OAUTH_KV"],
    bindings: { SESSION_SECRET: secret(), CONSENT_SECRET: secret() },
  }, DISCOVERY[name]);
  const stop = () => server.mf.dispose();
  try {
    const res = expect(await server.req("POST", "/register", {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ client_name: "bench-client", redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "client_secret_basic", grant_types: ["authorization_code"], response_types: ["code"] }),
    }), 201, `${name} register`);
    const { client_id: id, client_secret: clientSecret } = JSON.parse(res.body);
    if (!id || !clientSecret) throw new Error(`${name} register: no client_id/client_secret`);
    return { ...server, client: { id, secret: clientSecret }, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

// The flow

const pathOf = (location, base) => {
  const u = new URL(location, base);
  return u.pathname + u.search;
};
function codeOf(res, what) {
  if (res.status !== 302 && res.status !== 303) expect(res, 303, what);
  const location = res.headers.location ?? "";
  if (!location.startsWith(REDIRECT_URI + "?")) throw new Error(`${what}: redirected to ${location}`);
  const code = new URL(location).searchParams.get("code");
  if (!code) throw new Error(`${what}: no code in ${location}`);
  return code;
}

/** The first sign-in of `user`, consent given; returns the cookies of the session. */
const SIGN_IN = {
  // GET /auth → /interaction/<uid> (the user named) → /auth/<uid>: the session, a code.
  async "node-oidc-provider"(server, user, authorizePath) {
    const what = `${server.name} sign-in of ${user}`;
    let res = expect(await server.req("GET", authorizePath), 303, what);
    const jar = cookies(res);
    res = expect(await server.req("GET", `${pathOf(res.headers.location, server.url)}?user=${user}`, { headers: { cookie: jar.join("; ") } }), 303, what);
    jar.push(...cookies(res));
    res = await server.req("GET", pathOf(res.headers.location, server.url), { headers: { cookie: jar.join("; ") } });
    codeOf(res, what);
    const session = cookies(res).filter((c) => /^_session(\.sig)?=/.test(c));
    if (session.length !== 2) throw new Error(`${what}: no signed session cookie`);
    return session.join("; ");
  },
  // GET /login (the session) → GET /authorize (the consent page) → POST /authorize (allowed,
  // remembered): a code, and the remembered-consent cookie.
  async "workers-oauth-provider"(server, user, authorizePath) {
    const what = `${server.name} sign-in of ${user}`;
    const session = cookies(expect(await server.req("GET", `/login?user=${user}`), 204, what)).find((c) => c.startsWith("s="));
    if (!session) throw new Error(`${what}: no session cookie`);
    let res = expect(await server.req("GET", authorizePath, { headers: { cookie: session } }), 200, what);
    const handle = /name="handle" value="([^"]+)"/.exec(res.body)?.[1];
    if (!handle) throw new Error(`${what}: not the consent page`);
    const binding = cookies(res).join("; ");
    res = await server.req("POST", "/authorize", { headers: { ...FORM, cookie: `${session}; ${binding}` }, body: form({ handle, decision: "allow" }) });
    codeOf(res, what);
    const approvals = cookies(res).find((c) => c.startsWith("__Host-oauth-approvals="));
    if (!approvals) throw new Error(`${what}: consent not remembered`);
    return `${session}; ${approvals}`;
  },
};

const ENDPOINTS = {
  "node-oidc-provider": { authorize: "/auth", token: "/token", userinfo: "/me", idToken: true },
  "workers-oauth-provider": { authorize: "/authorize", token: "/token", userinfo: "/api/userinfo", idToken: false },
};

/** A peer's steps: setup() signs each user in once (consent given); then resume(i) is the
 * authorization GET with user i's session → a code; token(code) → the access token;
 * userinfo(at) → the claims; discovery(). Each throws on any unexpected response.
 * workers-oauth-provider revokes a user's earlier grant, with its code and tokens, at each
 * authorization (the library's default): redeem a code before the same user's next resume, so
 * at most one outstanding code per user (a batch of resumes, then one of tokens, fails). */
export function peerSteps(server) {
  const ep = ENDPOINTS[server.name];
  const basic = "Basic " + Buffer.from(`${server.client.id}:${server.client.secret}`).toString("base64");
  let users = [];
  const sessions = new Map();
  const userOf = (i) => users[Math.abs(i) % users.length];
  const authorizePath = (i) => `${ep.authorize}?${authorizeQuery(server.client.id, i)}`;
  return {
    userOf,
    async setup(list = USERS) {
      users = list.map((u) => u.username ?? u);
      for (const [i, user] of users.entries()) sessions.set(user, await SIGN_IN[server.name](server, user, authorizePath(i)));
    },
    async resume(i) {
      const session = sessions.get(userOf(i));
      if (!session) throw new Error(`${server.name}: resume(${i}) before setup()`);
      return codeOf(await server.req("GET", authorizePath(i), { headers: { cookie: session } }), `${server.name} authorize (session)`);
    },
    async token(code) {
      const body = form({ grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI, code_verifier: VERIFIER });
      const res = expect(await server.req("POST", ep.token, { headers: { ...FORM, authorization: basic }, body }), 200, `${server.name} token`);
      const t = JSON.parse(res.body);
      if (!t.access_token) throw new Error(`${server.name} token: no access_token`);
      if (ep.idToken && JSON.parse(Buffer.from(String(t.id_token).split(".")[0], "base64url")).alg !== "RS256") {
        throw new Error(`${server.name} token: no RS256 id_token`);
      }
      return t.access_token;
    },
    async userinfo(at) {
      const res = expect(await server.req("GET", ep.userinfo, { headers: { authorization: `Bearer ${at}` } }), 200, `${server.name} userinfo`);
      const claims = JSON.parse(res.body);
      if (!claims.sub) throw new Error(`${server.name} userinfo: no sub`);
      return claims;
    },
    async discovery() {
      const res = expect(await server.req("GET", DISCOVERY[server.name]), 200, `${server.name} discovery`);
      if (!JSON.parse(res.body).token_endpoint) throw new Error(`${server.name} discovery: no token_endpoint`);
    },
  };
}
