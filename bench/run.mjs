#!/usr/bin/env node
// The edge-oidc benchmark. Run through `make bench` / scripts/bench.sh, which build
// the three workers this script expects first; see bench/README.md for the method.
//
//   node bench/run.mjs [--quick]
//
// It starts three workerd processes through the `miniflare` npm package (one process each, no
// proxy, no inspector, loopback only): the no-op Rust worker (the baseline), edge-oidc
// built with the `bench` feature (probe routes under /__bench/) and the plain-JavaScript floor
// (bench/floor, the same requests with nothing but their primitives). It seeds its own client and
// users straight into the in-memory KV, then runs bounded batches of requests and reads the
// CPU time of the worker's workerd process from /proc/<pid>/stat before and after each batch.
//
// Output: bench/RESULTS.md (tables) and bench/results.json (every raw figure).
//
// Environment:
//   BENCH_OUT          where the built workers are (default .bench/out: oidc/, noop/, release/)
//   BENCH_SCALE        multiplies every batch size (default 1; --quick = 0.1)
//   BENCH_MAX_SECONDS  wall-clock bound of one batch (default 30)
//   BENCH_RESULTS      output Markdown file (default bench/RESULTS.md)
//   BENCH_DO_STORAGE   memory (default) or disk: where miniflare keeps Durable Object storage
//   BENCH_BUDGET_ROUNDS  rounds of the budget section (default 7; --quick 1): the ratio
//                      budgets' requests on edge-oidc and the floor, alternating, with the
//                      baseline and probes measured in each round (see "Budget rounds" below)
//   BENCH_PROFILE      instead of the suite: take a V8 CPU profile of the worker's isolate
//                      (the endpoints and its Durable Objects) during one batch of this
//                      operation — authorize, login, consent, token, userinfo, flow, resume
//                      (authorize with a session), tokenSealed (token with a returning user's
//                      code), returning (the returning-user flow; returningEs: its ES256
//                      client's), or a path to GET such as
//                      /__bench/rs256; `<op>-<k>ms` pauses k ms after each — print
//                      where the time goes and save .bench/profile-<op>.cpuprofile
//                      (opens in Chrome DevTools). Enables workerd's inspector.
//   BENCH_COMPARE      instead of the suite: a directory holding another build of the bench
//                      worker (e.g. of an earlier commit, copied from .bench/out/oidc); runs
//                      both side by side, alternating rounds of the same batches, and prints
//                      the median CPU per operation of each (A = .bench/out/oidc, B = it).
//                      For deciding whether a change helps: the machine's drift hits both.
//                      BENCH_ROUNDS (default 8) and BENCH_COMPARE_OPS (a comma-separated
//                      subset of noop, do-read, do-write-existing, do-write, rs256, resume,
//                      token, userinfo, returning, consent, the extras of compare(), and `<op>-<k>ms`)
//                      shape the run.
//   BENCH_CALLGRIND    =1: every workerd under valgrind's callgrind; a batch's "CPU" is its
//                      instructions in millions (bench/README.md, "Instructions instead of
//                      CPU time"); =keep also leaves the dumps in .bench/callgrind
//   BENCH_INTERLEAVE   with BENCH_COMPARE: the operations of BENCH_COMPARE_OPS request by
//                      request in turn on A alone, each request's own CPU; prints quartiles
//                      per operation (bench/README.md, "One build, request by request")


import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ADMIN, COMPARE, DO_STORAGE, OUT, PROFILE, QUICK, RESULTS_JSON, RESULTS_MD, ROOT, SCALE, admin, log, n, now, records, servers, sleep, stopAll } from "./lib/common.mjs";
import { SCHED_CLOCK, client, expect, retries } from "./lib/measure.mjs";
import { batch, floorAuthorize, floorUser, sizes, start, startFloor, startFloorRs, startOidc } from "./lib/servers.mjs";
import { CLIENT_ID, ES_CLIENT_ID, FORM, REDIRECT_URI, ROUND_USERS, USER40K, USERS, flowSteps, form, userFor } from "./lib/flows.mjs";
import { compare } from "./lib/compare.mjs";
import { Authenticator, passkeyLogin, registerPasskey } from "./lib/passkeys.mjs";
import { peerBatches, peerRoundSide, recording, roundTrips, startPeers } from "./lib/peerbench.mjs";
import { profile } from "./lib/profile.mjs";
import { currentCommit, writeReport } from "./lib/report.mjs";

async function main() {
  // `--report`: rewrite RESULTS.md from results.json (e.g. after changing the table below).
  if (process.argv.includes("--report")) {
    writeReport(JSON.parse(fs.readFileSync(RESULTS_JSON, "utf8")));
    log(`wrote ${path.relative(ROOT, RESULTS_MD)} from ${path.relative(ROOT, RESULTS_JSON)}`);
    return;
  }
  for (const d of ["oidc", "noop", "release"]) {
    if (!fs.existsSync(path.join(OUT, d, "index.js"))) throw new Error(`${OUT}/${d}/index.js is missing: run scripts/bench.sh (make bench)`);
  }
  if (!fs.existsSync(ADMIN)) throw new Error(`${ADMIN} is missing: cargo build --bin oidc-admin`);
  const results = { started: new Date().toISOString(), quick: QUICK, scale: SCALE, doStorage: DO_STORAGE, cpuClock: SCHED_CLOCK ? "sched" : "ticks", batches: [] };
  const keep = (r) => (results.batches.push(r), r);

  // Secrets and records from the operator tool.
  // An RS256 key (what clients get by default, OpenID Connect Registration §2) and an ES256 key
  // for the client registered with id_token_signed_response_alg ES256.
  const keyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bench-keys-")), "keys.json");
  admin(["keys", "add", "--alg", "RS256", "--file", keyFile]);
  admin(["keys", "add", "--alg", "ES256", "--file", keyFile]);
  const SIGNING_KEYS = fs.readFileSync(keyFile, "utf8").trim();
  fs.rmSync(path.dirname(keyFile), { recursive: true, force: true });
  const SESSION_KEY = admin(["keys", "session-key"]).trim();
  const clientOut = records([
    "clients", "add", CLIENT_ID, "--name", "Bench Client", "--redirect-uri", REDIRECT_URI,
    "--scope", "openid profile email", "--auth-method", "client_secret_basic",
  ]);
  const secret = clientOut.result.client_secret;
  const esClientOut = records([
    "clients", "add", ES_CLIENT_ID, "--name", "Bench Client (ES256)", "--redirect-uri", REDIRECT_URI,
    "--scope", "openid profile email", "--auth-method", "client_secret_basic", "--id-token-alg", "ES256",
  ]);
  const userRecords = [
    ...[...USERS, ...ROUND_USERS].flatMap((u) => records(["users", "add", u.username, "--password-stdin", "--email", `${u.username}@example.com`,
      "--email-verified", "--name", "Bench User", "--given-name", "Bench", "--family-name", "User"], u.password + "\n").records),
    ...records(["users", "add", USER40K.username, "--password-stdin", "--iterations", "40000", "--name", "Bench 40k"],
      USER40K.password + "\n").records,
  ];

  // Startup and sizes.
  results.commit = currentCommit();
  results.sizes = { release: sizes(path.join(OUT, "release")), bench: sizes(path.join(OUT, "oidc")), noop: sizes(path.join(OUT, "noop")) };
  const noop = await start("noop", path.join(OUT, "noop"), {}, "/");
  servers.push(noop);
  const oidc = await startOidc("oidc", path.join(OUT, "oidc"), SIGNING_KEYS, SESSION_KEY);
  servers.push(oidc);
  results.startup = { noop: noop.startup, oidc: oidc.startup };
  const floor = COMPARE || PROFILE ? null : await startFloor(SIGNING_KEYS);
  if (floor) servers.push(floor);
  const floorRs = COMPARE || PROFILE ? null : await startFloorRs();
  if (floorRs) servers.push(floorRs);
  // The peers (bench/lib/peers.mjs): as many workers-oauth-provider users as codes in a batch.
  const peers = COMPARE || PROFILE ? null : await startPeers(SIGNING_KEYS, servers, n(300));
  for (const [key, p] of Object.entries(peers ?? {})) results.startup[key] = p.server.startup;

  const seed = async (server) => {
    const clients = await server.mf.getKVNamespace("CLIENTS");
    for (const r of [...clientOut.records, ...esClientOut.records]) await clients.put(r.key, JSON.stringify(r.value));
    const users = await server.mf.getKVNamespace("USERS");
    for (const r of userRecords) await users.put(r.key, JSON.stringify(r.value));
  };
  await seed(oidc);
  if (COMPARE) {
    const other = await startOidc("oidc-b", path.resolve(COMPARE), SIGNING_KEYS, SESSION_KEY);
    servers.push(other);
    await seed(other);
    await compare([oidc, other], secret, esClientOut.result.client_secret);
    await stopAll();
    return;
  }

  // Warm-up, unmeasured. V8 compiles wasm functions lazily and tiers hot ones up to optimised
  // code on background threads of the same process: without this, the first batches pay for
  // compilation (seen here: the `noop` probe cost twice as much in its first 300 requests).
  const steps = flowSteps(oidc.req, secret);
  {
    const t0 = now();
    for (let i = 0; i < n(1000); i++) expect(await noop.req("GET", "/"), 200, "noop warm-up");
    for (const p of ["/__bench/noop", "/__bench/kv", "/__bench/do-read", "/__bench/do-write", "/__bench/do-write-existing",
      "/__bench/rs256", "/__bench/es256", "/.well-known/openid-configuration", "/jwks.json"]) {
      for (let i = 0; i < n(200); i++) expect(await oidc.req("GET", p), 200, `warm-up ${p}`);
    }
    for (let i = 0; i < 5; i++) expect(await oidc.req("GET", "/__bench/pbkdf2?i=100000"), 200, "warm-up pbkdf2");
    for (let i = 0; i < n(50); i++) {
      const at = await steps.token(await steps.consent(await steps.login(await steps.authorize(i), userFor(i))));
      for (let j = 0; j < 4; j++) await steps.userinfo(at);
    }
    log(`warm-up done in ${((now() - t0) / 1000).toFixed(1)} s`);
  }

  if (PROFILE) {
    // `returningEs`: the returning-user flow of the client registered for ES256.
    const es = PROFILE.startsWith("returningEs");
    await profile(oidc, es ? flowSteps(oidc.req, esClientOut.result.client_secret, ES_CLIENT_ID) : steps, es ? PROFILE.replace("returningEs", "returning") : PROFILE);
    await stopAll();
    return;
  }

  // Baseline: the no-op worker, at the start (and again at the end, to see drift).
  const baseline = async (when) => {
    const out = {};
    for (const c of [1, 8]) {
      out[c] = keep(await batch(noop, `noop worker (${when})`, { count: n(3000), concurrency: c, warmup: 50, op: async () => expect(await noop.req("GET", "/"), 200, "noop") }));
    }
    return out;
  };
  const base0 = await baseline("start");

  // Primitives: probe routes of the bench build, one at a time.
  const probes = [
    ["noop", "/__bench/noop", 3000],
    ["kv", "/__bench/kv", 2000],
    ["do-read", "/__bench/do-read", 2000],
    ["do-write", "/__bench/do-write", 2000],
    ["do-write-existing", "/__bench/do-write-existing", 2000],
    ["rs256", "/__bench/rs256", 1000],
    ["es256", "/__bench/es256", 2000],
    ["audit", "/__bench/audit", 2000],
    ["pbkdf2-100k", "/__bench/pbkdf2?i=100000", 100],
    ["pbkdf2-40k", "/__bench/pbkdf2?i=40000", 100],
    ["noop (again)", "/__bench/noop", 3000],
  ];
  const primitives = async (when) => {
    const out = {};
    for (const [name, p, count] of probes) {
      out[name] = keep(await batch(oidc, `probe ${name} (${when})`, { count: n(count), warmup: 10, op: async () => expect(await oidc.req("GET", p), 200, `probe ${name}`) }));
    }
    return out;
  };
  // Measured at the start and again at the end of the run (the endpoints in between).
  const prim = await primitives("start");

  // Static endpoints.
  const ep = {};
  // What a batch produced (codes, forms, tokens), warm-up slots left out.
  const got = (a) => a.filter(Boolean);
  for (const c of [1, 8]) {
    for (const [name, p] of [["discovery", "/.well-known/openid-configuration"], ["jwks", "/jwks.json"]]) {
      ep[`${name}@${c}`] = keep(await batch(oidc, name, { count: n(3000), concurrency: c, warmup: 20, op: async () => expect(await oidc.req("GET", p), 200, name) }));
    }
  }

  // Each step of the flow on its own: every batch consumes what the previous one produced
  // (login forms, consent forms, codes, access tokens), and only that step is measured.
  for (const c of [1, 8]) {
    const N = n(400);
    const auths = new Array(N);
    ep[`authorize@${c}`] = keep(await batch(oidc, "authorize GET", { count: N, concurrency: c, warmup: 10, op: async (i) => { const s = await steps.authorize(i); if (i >= 0) auths[i] = s; } }));
    const a1 = got(auths);
    const consents = new Array(a1.length);
    ep[`login@${c}`] = keep(await batch(oidc, "login POST (100,000 iterations)", {
      count: a1.length, concurrency: c, warmup: 3,
      warmupOp: async (i) => steps.login(await steps.authorize(0), userFor(i)),
      op: async (i) => { consents[i] = await steps.login(a1[i], userFor(i)); },
    }));
    const c1 = got(consents);
    const codes = new Array(c1.length);
    ep[`consentAfterLogin@${c}`] = keep(await batch(oidc, "consent POST (after login)", {
      count: c1.length, concurrency: c, warmup: 3,
      warmupOp: async (i) => steps.consent(await steps.login(await steps.authorize(0), userFor(i))),
      op: async (i) => { codes[i] = await steps.consent(c1[i]); },
    }));
    const k1 = got(codes);
    const tokens = new Array(k1.length);
    ep[`token@${c}`] = keep(await batch(oidc, "token", {
      count: k1.length, concurrency: c, requestsPerOp: 1, warmup: 3,
      warmupOp: async (i) => steps.token(await steps.consent(await steps.login(await steps.authorize(0), userFor(i)))),
      op: async (i) => { tokens[i] = await steps.token(k1[i]); },
    }));
    const t1 = got(tokens);
    ep[`userinfo@${c}`] = keep(await batch(oidc, "userinfo", { count: n(2000), concurrency: c, warmup: 10, op: async (i) => steps.userinfo(t1[Math.abs(i) % t1.length]) }));
  }
  // Login with a user hashed at 40,000 iterations (the free-plan suggestion in the README).
  {
    const N = n(150);
    const auths = [];
    for (let i = 0; i < N; i++) auths.push(await steps.authorize(i));
    ep["login40k@1"] = keep(await batch(oidc, "login POST (40,000 iterations)", { count: N, op: async (i) => steps.login(auths[i], USER40K) }));
  }

  // The first-time flow: authorize GET → login POST → consent POST → token → userinfo.
  const flow = async (i) => {
    const s = await steps.authorize(i);
    const at = await steps.token(await steps.consent(await steps.login(s, userFor(i))));
    await steps.userinfo(at);
  };
  for (const c of [1, 8]) {
    ep[`flow@${c}`] = keep(await batch(oidc, "first-time flow", { count: n(c === 1 ? 150 : 300), concurrency: c, requestsPerOp: 5, warmup: 2, op: flow }));
  }
  // The returning-user flow: one session per bench user (signed in and consented above), then
  // authorize GET with the session cookie → 303 with a code → token → userinfo.
  const sessions = [];
  for (let u = 0; u < USERS.length; u++) {
    const s = await steps.login(await steps.authorize(u), USERS[u]);
    await steps.consent(s);
    if (!s.session) throw new Error("login: no session cookie");
    sessions.push(s.session);
  }
  const sessionOf = (i) => sessions[Math.abs(i) % sessions.length];
  // The consent POST on its own, on forms from the consent page of signed-in users
  // (prompt=consent), made just before the batch: the same request as after a login (the
  // account remembers the consent, the grant object reserved with the form stores the code),
  // in batches large enough to read, where a form made by a login costs a login.
  for (const c of [1, 8]) {
    const N = n(1000);
    const forms = [];
    for (let i = 0; i < N; i++) forms.push(await steps.consentPage(i, sessionOf(i)));
    ep[`consent@${c}`] = keep(await batch(oidc, "consent POST (consent page of a signed-in user)", {
      count: N, concurrency: c, warmup: 5,
      warmupOp: async (i) => steps.consent(await steps.consentPage(i, sessionOf(i))),
      op: async (i) => steps.consent(forms[i]),
    }));
  }
  // The token endpoint alone on returning users' codes made beforehand, then the whole flow.
  const returningBatches = async (st, c, codes, { token, flow, label }) => {
    ep[`${token}@${c}`] = keep(await batch(oidc, `token (${label})`, {
      count: codes.length, concurrency: c, warmup: 3,
      warmupOp: async (i) => st.token(await st.resume(i, sessionOf(i))),
      op: async (i) => st.token(codes[i]),
    }));
    const returning = async (i) => st.userinfo(await st.token(await st.resume(i, sessionOf(i))));
    ep[`${flow}@${c}`] = keep(await batch(oidc, `returning-user flow (${label})`, { count: n(c === 1 ? 300 : 600), concurrency: c, requestsPerOp: 3, warmup: 5, op: returning }));
  };
  for (const c of [1, 8]) {
    const N = n(400);
    const codes = new Array(N);
    ep[`resume@${c}`] = keep(await batch(oidc, "authorization GET (live session)", {
      count: N, concurrency: c, warmup: 5,
      op: async (i) => { const code = await steps.resume(i, sessionOf(i)); if (i >= 0) codes[i] = code; },
    }));
    // Those codes carry their grant (sealed): redeeming one creates the grant object.
    await returningBatches(steps, c, got(codes), { token: "tokenSealed", flow: "returning", label: "RS256 client" });
  }
  // The same for a client registered for ES256 ID tokens: each bench user allows it once,
  // then the token endpoint alone (codes made unmeasured) and the returning-user flow.
  const es = flowSteps(oidc.req, esClientOut.result.client_secret, ES_CLIENT_ID);
  for (let u = 0; u < USERS.length; u++) await es.consent(await es.consentPage(u, sessions[u]));
  for (const c of [1, 8]) {
    const codes = [];
    for (let i = 0; i < n(400); i++) codes.push(await es.resume(i, sessionOf(i)));
    await returningBatches(es, c, codes, { token: "tokenEs", flow: "returningEs", label: "ES256 client" });
  }

  // A passkey sign-in (budget: under 1 ms net), after the batches that use the sessions above
  // (its sign-ins start sessions of their own, and an account keeps 32): each bench user
  // registers a passkey on the account page, then sign-in pages (unmeasured) and their POST
  // with an assertion.
  {
    const auths = [];
    for (let u = 0; u < USERS.length; u++) {
      auths.push(new Authenticator("http://127.0.0.1:8787"));
      await registerPasskey(oidc.req, sessions[u], auths[u]);
    }
    // Each request's Durable Object calls and sequential round trips (the bench build's
    // counts), concurrency 1: what a user far from their objects waits for (docs/latency.md).
    const rec = recording(oidc.req);
    const st = flowSteps(rec.req, secret);
    const es2 = flowSteps(rec.req, esClientOut.result.client_secret, ES_CLIENT_ID);
    const signedIn = async (i) => st.login(await st.authorize(i), userFor(i));
    const last = async (step) => (await step, rec.last);
    // (Before the passkey sign-ins below: each starts a session, and an account keeps 32, so
    // the bench users' sessions would be gone.)
    results.roundTrips = await roundTrips({
      discovery: () => oidc.req("GET", "/.well-known/openid-configuration"),
      authorize: (i) => last(st.authorize(i)),
      login: async (i) => last(signedIn(i)),
      consent: async (i) => last(st.consent(await signedIn(i))),
      token: async (i) => last(st.token(await st.consent(await signedIn(i)))),
      userinfo: async (i) => last(st.userinfo(await st.token(await st.resume(i, sessionOf(i))))),
      resume: (i) => last(st.resume(i, sessionOf(i))),
      tokenSealed: async (i) => last(st.token(await st.resume(i, sessionOf(i)))),
      tokenEs: async (i) => last(es2.token(await es2.resume(i, sessionOf(i)))),
      resumeEs: (i) => last(es2.resume(i, sessionOf(i))),
      userinfoEs: async (i) => last(es2.userinfo(await es2.token(await es2.resume(i, sessionOf(i))))),
    });
    // An account accepts 64 passkey sign-ins within a challenge's five minutes: the five
    // pairs' 800 sign-ins (and 15 warm-ups) spread over the 16 users stay under it. Five, so
    // that the verdict leaves out the highest and the lowest pair, as the rounds' do.
    const N = n(160);
    // The floor's passkey sign-in (bench/floor: the key read, one verification, one write),
    // in pairs with edge-oidc's, alternating: a passkey per bench user, set up unmeasured.
    const fauths = USERS.map((_, u) => Object.assign(new Authenticator("http://127.0.0.1:8787"), { handle: Buffer.from(floorUser(u)) }));
    for (const [u, a] of fauths.entries()) {
      expect(await floor.req("POST", "/passkey-setup", { body: JSON.stringify({ user: floorUser(u), id: a.id.toString("base64url"), jwk: a.jwk }) }), 200, "floor passkey set-up");
    }
    results.passkeyPairs = [];
    for (let k = 0; k < (QUICK ? 1 : 5); k++) {
      const pages = [];
      for (let i = 0; i < N; i++) pages.push(await steps.authorize(i));
      const edge = await batch(oidc, "login POST with a passkey (ES256)", {
        count: N, warmup: 3,
        warmupOp: async (i) => passkeyLogin(oidc.req, await steps.authorize(0), auths[Math.abs(i) % auths.length]),
        op: async (i) => passkeyLogin(oidc.req, pages[i], auths[i % auths.length]),
      });
      if (k === 0) ep["passkeyLogin@1"] = keep(edge);
      const bodies = [];
      for (let i = 0; i < N; i++) {
        const challenge = crypto.randomBytes(32).toString("base64url");
        bodies.push(form({ tx: `t${i}`, credential: fauths[i % fauths.length].assert({ challenge, rpId: "127.0.0.1" }) }));
      }
      const fl = await batch(floor, "floor: passkey sign-in POST", { count: N, op: async (i) => expect(await floor.req("POST", "/passkey", { headers: FORM, body: bodies[i] }), 200, "floor passkey") });
      results.passkeyPairs.push({ edge, floor: fl });
    }
    Object.assign(results.roundTrips, await roundTrips({ passkeyLogin: async (i) => passkeyLogin(rec.req, await st.authorize(i), auths[i % auths.length]) }));
  }
  // The floor (bench/floor/index.js): the returning-user flow's requests in plain JavaScript,
  // with the same primitives and nothing else, in this run, at concurrency 1.
  const fl = {};
  {
    const op = (p) => async () => expect(await floor.req("GET", p), 200, `floor ${p}`);
    fl.noop = keep(await batch(floor, "floor: empty request", { count: n(3000), warmup: 50, op: op("/noop") }));
    fl.rs256 = keep(await batch(floor, "floor: RS256 signature", { count: n(1000), warmup: 20, op: op("/rs256") }));
    fl["do-write-existing"] = keep(await batch(floor, "floor: object write (existing)", { count: n(2000), warmup: 20, op: op("/do-write-existing") }));
    fl.audit = keep(await batch(floor, "floor: audit line", { count: n(2000), warmup: 20, op: op("/audit") }));
    const user = floorUser;
    const basicOf = (client) => "Basic " + Buffer.from(`${client}:x`).toString("base64");
    const authorize = (i) => floorAuthorize(floor, i);
    const token = async (code, client = CLIENT_ID) =>
      JSON.parse(expect(await floor.req("POST", "/token", { headers: { ...FORM, authorization: basicOf(client) }, body: form({ grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI }) }), 200, "floor token").body).access_token;
    const userinfo = async (at) => expect(await floor.req("GET", "/userinfo", { headers: { authorization: `Bearer ${at}` } }), 200, "floor userinfo");
    const N = n(400);
    const codes = new Array(N);
    fl.resume = keep(await batch(floor, "floor: authorization GET (live session)", { count: N, warmup: 20, op: async (i) => { const c = await authorize(i); if (i >= 0) codes[i] = c; } }));
    const tokens = new Array(N);
    fl.tokenSealed = keep(await batch(floor, "floor: token, RS256 (the user's home object)", { count: N, warmup: 5, warmupOp: async (i) => token(await authorize(i)), op: async (i) => { tokens[i] = await token(codes[i]); } }));
    fl.token = keep(await batch(floor, "floor: token, RS256, the same codes again", { count: N, warmup: 5, op: async (i) => token(codes[Math.abs(i) % N]) }));
    fl.userinfo = keep(await batch(floor, "floor: userinfo", { count: n(2000), warmup: 20, op: async (i) => userinfo(tokens[Math.abs(i) % N]) }));
    fl.returning = keep(await batch(floor, "floor: returning-user flow", { count: n(300), requestsPerOp: 3, warmup: 5, op: async (i) => userinfo(await token(await authorize(i))) }));
    // The same for the client registered for ES256 ID tokens.
    const esCodes = [];
    for (let i = 0; i < N; i++) esCodes.push(await authorize(i));
    fl.tokenEs = keep(await batch(floor, "floor: token, ES256 (the user's home object)", { count: N, warmup: 5, warmupOp: async (i) => token(await authorize(i), ES_CLIENT_ID), op: async (i) => token(esCodes[i], ES_CLIENT_ID) }));
    fl.returningEs = keep(await batch(floor, "floor: returning-user flow, ES256", { count: n(300), requestsPerOp: 3, warmup: 5, op: async (i) => userinfo(await token(await authorize(i), ES_CLIENT_ID)) }));
    // The consent POST: its grant objects reserved beforehand (as edge-oidc's login does), then
    // two object calls in sequence per request.
    const reserve = async (i) => expect(await floor.req("POST", "/reserve", { body: user(i) }), 200, "floor reserve").body;
    const consent = async (i, tx) => {
      const res = expect(await floor.req("POST", "/consent", { headers: { ...FORM, cookie: `s=${user(i)}` }, body: form({ tx, decision: "allow", redirect_uri: REDIRECT_URI }) }), 303, "floor consent");
      return new URL(res.headers.location).searchParams.get("code");
    };
    const txs = [];
    for (let i = 0; i < n(1000); i++) txs.push(await reserve(i));
    fl.consent = keep(await batch(floor, "floor: consent POST", { count: txs.length, warmup: 5, warmupOp: async (i) => consent(i, await reserve(i)), op: async (i) => consent(i, txs[i]) }));
    // The same on forms made at the pace of edge-oidc's login batch (one per login's latency,
    // its `consentAfterLogin` row): each waits seconds for its turn, as a user on the page does.
    const pace = ep["login@1"] ? 1000 / ep["login@1"].perSecond : 17;
    const late = [];
    for (let i = 0; i < n(400); i++) {
      late.push(await reserve(i));
      await sleep(pace);
    }
    fl.consentAfterLogin = keep(await batch(floor, "floor: consent POST (forms made seconds before)", { count: late.length, warmup: 0, op: async (i) => consent(i, late[i]) }));

    // Budget rounds: the requests of the ratio budgets on edge-oidc and on the floor, with the
    // baseline and the probes they are measured against, in rounds that alternate the two sides
    // (the order swapped every round), so that the host's drift between batches hits both
    // alike. Each round gives each side's net from that round's own baseline; the report takes
    // medians over the rounds. Inputs (sessions of the rounds' own users, codes, forms, tokens)
    // are made fresh in each round and unmeasured: with in-memory storage, objects idle for some
    // seconds lose theirs.
    // The peers, the table's operations at concurrency 1 and 8 (after the floor's).
    results.peers = {};
    for (const [key, p] of Object.entries(peers)) {
      results.peers[key] = {};
      for (const c of [1, 8]) results.peers[key][c] = await peerBatches(p, c);
    }

    const ROUNDS = Number(process.env.BENCH_BUDGET_ROUNDS ?? (QUICK ? 1 : 7));
    const M = n(300);
    results.rounds = [];
    for (let r = 0; r < ROUNDS; r++) {
      const round = { probes: {}, edge: {}, floor: {}, floorRs: {} };
      const tag = (what) => `round ${r + 1}: ${what}`;
      const edgeSide = async () => {
        round.noop = await batch(noop, tag("no-op worker"), { count: n(2000), warmup: 20, op: async () => expect(await noop.req("GET", "/"), 200, "noop") });
        for (const [name, p, count] of [["noop", "/__bench/noop", 2000], ["do-read", "/__bench/do-read", 2000], ["do-write-existing", "/__bench/do-write-existing", 2000], ["rs256", "/__bench/rs256", 1000], ["es256", "/__bench/es256", 2000], ["audit", "/__bench/audit", 2000], ["noop (again)", "/__bench/noop", 2000]]) {
          round.probes[name] = await batch(oidc, tag(`probe ${name}`), { count: n(count), warmup: 10, op: async () => expect(await oidc.req("GET", p), 200, `probe ${name}`) });
        }
        const live = [];
        for (let u = 0; u < ROUND_USERS.length; u++) {
          const s = await steps.login(await steps.authorize(u), ROUND_USERS[u]);
          await steps.consent(s);
          await es.consent(await es.consentPage(u, s.session));
          live.push(s.session);
        }
        const liveOf = (i) => live[Math.abs(i) % live.length];
        const codes = new Array(M);
        round.edge.resume = await batch(oidc, tag("edge-oidc authorization GET (live session)"), { count: M, warmup: 5, op: async (i) => { const c = await steps.resume(i, liveOf(i)); if (i >= 0) codes[i] = c; } });
        const tokens = new Array(M);
        round.edge.tokenSealed = await batch(oidc, tag("edge-oidc token (returning user's code)"), { count: M, op: async (i) => { tokens[i] = await steps.token(codes[i]); } });
        round.edge.userinfo = await batch(oidc, tag("edge-oidc userinfo"), { count: M, op: async (i) => steps.userinfo(tokens[i]) });
        round.edge.returning = await batch(oidc, tag("edge-oidc returning-user flow"), { count: M, requestsPerOp: 3, warmup: 2, op: async (i) => steps.userinfo(await steps.token(await steps.resume(i, liveOf(i)))) });
        const forms = [];
        for (let i = 0; i < M; i++) forms.push(await steps.consentPage(i, liveOf(i)));
        round.edge.consent = await batch(oidc, tag("edge-oidc consent POST"), { count: M, op: async (i) => steps.consent(forms[i]) });
        const esCodes = [];
        for (let i = 0; i < M; i++) esCodes.push(await es.resume(i, liveOf(i)));
        round.edge.tokenEs = await batch(oidc, tag("edge-oidc token, ES256"), { count: M, op: async (i) => es.token(esCodes[i]) });
        round.edge.returningEs = await batch(oidc, tag("edge-oidc returning-user flow, ES256"), { count: M, requestsPerOp: 3, warmup: 2, op: async (i) => es.userinfo(await es.token(await es.resume(i, liveOf(i)))) });
      };
      const floorSide = async () => {
        round.floor.noop = await batch(floor, tag("floor empty request"), { count: n(2000), warmup: 20, op: op("/noop") });
        const codes = new Array(M);
        round.floor.resume = await batch(floor, tag("floor authorization GET"), { count: M, warmup: 5, op: async (i) => { const c = await authorize(i); if (i >= 0) codes[i] = c; } });
        const tokens = new Array(M);
        round.floor.tokenSealed = await batch(floor, tag("floor token"), { count: M, op: async (i) => { tokens[i] = await token(codes[i]); } });
        round.floor.userinfo = await batch(floor, tag("floor userinfo"), { count: M, op: async (i) => userinfo(tokens[i]) });
        round.floor.returning = await batch(floor, tag("floor returning-user flow"), { count: M, requestsPerOp: 3, warmup: 2, op: async (i) => userinfo(await token(await authorize(i))) });
        const txs = [];
        for (let i = 0; i < M; i++) txs.push(await reserve(i));
        round.floor.consent = await batch(floor, tag("floor consent POST"), { count: M, op: async (i) => consent(i, txs[i]) });
        const esCodes = [];
        for (let i = 0; i < M; i++) esCodes.push(await authorize(i));
        round.floor.tokenEs = await batch(floor, tag("floor token, ES256"), { count: M, op: async (i) => token(esCodes[i], ES_CLIENT_ID) });
        round.floor.returningEs = await batch(floor, tag("floor returning-user flow, ES256"), { count: M, requestsPerOp: 3, warmup: 2, op: async (i) => userinfo(await token(await authorize(i), ES_CLIENT_ID)) });
      };
      // The Rust floor's two requests (bench/floor-rs): the JavaScript floor's, in Rust.
      const floorRsSide = async () => {
        const u = floorUser;
        round.floorRs.noop = await batch(floorRs, tag("Rust floor empty request"), { count: n(2000), warmup: 20, op: async () => expect(await floorRs.req("GET", "/noop"), 200, "Rust floor noop") });
        round.floorRs.resume = await batch(floorRs, tag("Rust floor authorization GET"), { count: M, warmup: 5, op: (i) => floorAuthorize(floorRs, i) });
        // Grants stored as the JavaScript floor's token endpoint stores them, then read.
        const tokens = [];
        for (let i = 0; i < M; i++) {
          const g = `${r}x${i}x${crypto.randomBytes(12).toString("base64url")}`;
          expect(await floorRs.req("POST", `/seed?user=${u(i)}&grant=${g}`), 200, "Rust floor seed");
          tokens.push(`${u(i)}~${g}.${crypto.randomBytes(32).toString("base64url")}`);
        }
        round.floorRs.userinfo = await batch(floorRs, tag("Rust floor userinfo"), { count: M, op: async (i) => {
          const res = expect(await floorRs.req("GET", "/userinfo", { headers: { authorization: `Bearer ${tokens[i]}` } }), 200, "Rust floor userinfo");
          if (!JSON.parse(res.body).sub) throw new Error("Rust floor userinfo: no sub");
        } });
      };
      // The peers' returning-user flows, for the budgets against them.
      const peerSides = Object.entries(peers).map(([key, p]) => peerRoundSide(p, round, key, tag, M));
      // Each side first, second and last in turn.
      const sides = [edgeSide, floorSide, floorRsSide, ...peerSides];
      for (let k = 0; k < sides.length; k++) await sides[(r + k) % sides.length]();
      results.rounds.push(round);
    }
  }

  const primEnd = await primitives("end");
  const base1 = await baseline("end");
  await stopAll();

  results.baseline = { start: base0, end: base1 };
  results.primitives = prim;
  results.primitivesEnd = primEnd;
  results.endpoints = ep;
  results.floor = fl;
  results.finished = new Date().toISOString();
  results.retries = retries;
  if (retries) log(`${retries} request(s) resent after a kept-alive connection was closed`);
  fs.writeFileSync(RESULTS_JSON, JSON.stringify(results, null, 2) + "\n");
  writeReport(results);
  log(`wrote ${path.relative(ROOT, RESULTS_MD)} and ${path.relative(ROOT, RESULTS_JSON)}`);
}

main().catch(async (e) => {
  log(`failed: ${e.stack ?? e}`);
  await stopAll();
  process.exit(1);
});
