#!/usr/bin/env node
// The edge-oidc benchmark (issue 5). Run through `make bench` / scripts/bench.sh, which build
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
//                      code), returning (the returning-user flow), or a path to GET such as
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

import { Miniflare } from "miniflare";
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const OUT = path.resolve(ROOT, process.env.BENCH_OUT ?? ".bench/out");
const QUICK = process.argv.includes("--quick");
const SCALE = Number(process.env.BENCH_SCALE ?? (QUICK ? 0.1 : 1));
const MAX_SECONDS = Number(process.env.BENCH_MAX_SECONDS ?? 30);
const RESULTS_MD = path.resolve(ROOT, process.env.BENCH_RESULTS ?? "bench/RESULTS.md");
// The budget rounds as a picture, beside RESULTS.md (bench/budgets.svg).
const BUDGETS_SVG = /\/RESULTS\.md$/.test(RESULTS_MD) ? path.join(path.dirname(RESULTS_MD), "budgets.svg") : RESULTS_MD.replace(/\.md$/, "") + "-budgets.svg";
const RESULTS_JSON = RESULTS_MD.replace(/\.md$/, ".json").replace(/RESULTS\.json$/, "results.json");
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());
const ADMIN = path.join(ROOT, "target/debug/oidc-admin");
const PROFILE = process.env.BENCH_PROFILE;
const COMPARE = process.env.BENCH_COMPARE;
// BENCH_CALLGRIND (see above): ~50 times slower, but counts the same work the same way on a
// machine whose CPU clock drifts.
const CALLGRIND = Boolean(process.env.BENCH_CALLGRIND);
// Durable Object storage: "memory" (default) keeps each object's SQLite database in memory;
// "disk" is miniflare's default, a SQLite file per object in a temporary directory. The files
// are the simulator's persistence, not part of what a Worker is billed for (in production the
// storage layer runs outside the isolate), and they cost several times the storage work itself
// (bench/README.md); BENCH_DO_STORAGE=disk measures with them.
const DO_STORAGE = process.env.BENCH_DO_STORAGE ?? "memory";
if (!["memory", "disk", "tmpfs"].includes(DO_STORAGE)) throw new Error("BENCH_DO_STORAGE must be memory, tmpfs or disk");

const n = (count) => Math.max(QUICK ? 5 : 20, Math.round(count * SCALE));
const log = (...a) => console.error("bench:", ...a);
const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// The workerd process and its CPU time

/** Every descendant process of this node process: [{pid, comm}]. */
function descendants() {
  const procs = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
    } catch {
      continue;
    }
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    procs.push({ pid: Number(d), ppid, comm });
  }
  const mine = new Set([process.pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of procs) {
      if (!mine.has(p.pid) && mine.has(p.ppid)) {
        mine.add(p.pid);
        grew = true;
      }
    }
  }
  return procs.filter((p) => p.pid !== process.pid && mine.has(p.pid));
}

/** CPU time of each thread of a process so far, in ms: {"name tid user|system": ms}. */
function threadCpuMs(pid) {
  const out = {};
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${pid}/task/${t}/stat`, "utf8");
    } catch {
      continue; // the thread ended
    }
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    out[`${comm} ${t} user`] = (Number(f[11]) * 1000) / CLK_TCK;
    out[`${comm} ${t} system`] = (Number(f[12]) * 1000) / CLK_TCK;
  }
  return out;
}

/** The scheduler's exact CPU time of a process so far, in ms: the sum of its threads'
 * `se.sum_exec_runtime` (/proc/<pid>/task/<tid>/sched, nanosecond resolution), or null where
 * the kernel does not expose it (then {@link cpuMs} counts clock ticks). A thread that ends
 * during a batch takes its time with it; workerd's threads live as long as the process. */
function schedMs(pid) {
  let sum = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    let text;
    try {
      text = fs.readFileSync(`/proc/${pid}/task/${t}/sched`, "utf8");
    } catch (e) {
      if (e.code === "ENOENT") continue; // the thread ended
      return null;
    }
    const m = /se\.sum_exec_runtime\s*:\s*([\d.]+)/.exec(text);
    if (!m) return null;
    sum += Number(m[1]);
  }
  return sum;
}
const SCHED_CLOCK = (() => {
  try {
    return schedMs(process.pid) !== null;
  } catch {
    return false;
  }
})();

/** CPU time (user + system, all threads) of a process so far, in milliseconds: exact where
 * the scheduler exposes it, else in clock ticks (10 ms at 100 ticks/s). */
function cpuMs(pid) {
  if (SCHED_CLOCK) {
    const ms = schedMs(pid);
    if (ms !== null) return ms;
  }
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 (utime) and 15 (stime) of proc(5); f[0] is field 3.
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

/** BENCH_CALLGRIND: a script that runs miniflare's workerd under callgrind, dumps in
 * .bench/callgrind. */
function callgrindWrapper() {
  const dir = path.join(ROOT, ".bench/callgrind");
  fs.mkdirSync(dir, { recursive: true });
  // The binary miniflare itself would start (its dependency `workerd` exports the path).
  const workerd = createRequire(path.join(ROOT, "node_modules/miniflare/package.json"))("workerd").default;
  const script = path.join(dir, "workerd.sh");
  fs.writeFileSync(script, `#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file=${dir}/cg.%p --smc-check=all-non-file \\
  --dump-line=no --compress-strings=no "${workerd}" "$@" 2>>${dir}/valgrind.log
`, { mode: 0o755 });
  return script;
}

/** BENCH_CALLGRIND: the instructions the process `pid` executed since the last call, in
 * millions (callgrind_control -d dumps the counters and zeroes them). */
function instructionsM(pid) {
  const dir = path.join(ROOT, ".bench/callgrind");
  execFileSync("callgrind_control", ["-d", String(pid)], { stdio: "ignore" });
  const dumps = fs.readdirSync(dir).filter((f) => f.startsWith(`cg.${pid}.`))
    .map((f) => path.join(dir, f)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  const text = fs.readFileSync(dumps[0], "utf8");
  // BENCH_CALLGRIND=keep leaves the dumps, for callgrind_annotate.
  if (process.env.BENCH_CALLGRIND !== "keep") for (const f of dumps) fs.rmSync(f);
  const m = /^(?:summary|totals): (\d+)/m.exec(text);
  if (!m) throw new Error(`no totals in ${dumps[0]}`);
  return Number(m[1]) / 1e6;
}

// ---------------------------------------------------------------------------------------------
// HTTP client: node's http with keep-alive (cheaper and steadier than fetch)

let retries = 0;
function client(base, sockets = 8) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  const u0 = new URL(base);
  const send = (method, p, { headers = {}, body } = {}, retry = true) =>
    new Promise((resolve, reject) => {
      const h = { ...headers };
      if (body !== undefined) h["content-length"] = Buffer.byteLength(body);
      const req = http.request({ host: u0.hostname, port: u0.port, path: p, method, headers: h, agent }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() })
        );
        res.on("error", reject);
      });
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${p}: no answer within 30 s`)));
      req.on("error", (e) => {
        // A kept-alive socket the server closed just as we reused it: the request never reached
        // the worker, so sending it again is safe (node's documented pattern).
        if (retry && req.reusedSocket && e.code === "ECONNRESET") {
          retries++;
          send(method, p, { headers, body }, false).then(resolve, reject);
        } else reject(e);
      });
      if (body !== undefined) req.write(body);
      req.end();
    });
  return send;
}

function expect(res, status, what) {
  if (res.status !== status) {
    throw new Error(`${what}: expected HTTP ${status}, got ${res.status}: ${res.body.slice(0, 300)}`);
  }
  return res;
}

// ---------------------------------------------------------------------------------------------
// Servers

const compatibilityDate = fs
  .readFileSync(path.join(ROOT, "wrangler.toml"), "utf8")
  .match(/^compatibility_date\s*=\s*"([^"]+)"/m)[1];

/** Starts a worker in its own workerd process; measures the time to the first 200. */
async function start(name, dir, extra, probePath) {
  if (CALLGRIND) process.env.MINIFLARE_WORKERD_PATH = callgrindWrapper();
  const before = new Set(descendants().map((p) => p.pid));
  const t0 = now();
  const mf = new Miniflare({
    name,
    modules: true,
    scriptPath: path.join(dir, "index.js"),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate,
    host: "127.0.0.1",
    port: 0,
    ...extra,
  });
  const url = await mf.ready;
  const tReady = now() - t0;
  const workerd = descendants().filter((p) => /^(workerd|callgrind)/.test(p.comm) && !before.has(p.pid));
  if (workerd.length !== 1) throw new Error(`expected one new workerd process for ${name}, found ${workerd.length}`);
  const pid = workerd[0].pid;
  const req = client(url.href);
  const tFirst0 = now();
  expect(await req("GET", probePath), 200, `${name} first request`);
  const firstMs = now() - tFirst0;
  const tFirst = now() - t0;
  // The next requests of the same kind, for comparison with the first.
  const t1 = now();
  for (let i = 0; i < 20; i++) expect(await req("GET", probePath), 200, `${name} warm request`);
  const warmMs = (now() - t1) / 20;
  const startup = { readyMs: tReady, firstOkMs: tFirst, firstRequestMs: firstMs, warmRequestMs: warmMs, cpuToFirstOkMs: cpuMs(pid) };
  log(`${name}: workerd pid ${pid} at ${url.href}; ready ${tReady.toFixed(0)} ms, first 200 after ${tFirst.toFixed(0)} ms`);
  return { name, mf, url: url.href, pid, req, startup };
}

// ---------------------------------------------------------------------------------------------
// Batches

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

/**
 * Runs `op(i)` for i = 0..count-1 with `concurrency` lanes, stopping early after
 * BENCH_MAX_SECONDS, and measures the workerd process's CPU over the whole batch.
 */
async function batch(server, label, { count, concurrency = 1, requestsPerOp = 1, warmup = 0, op, warmupOp }) {
  for (let i = 0; i < warmup; i++) await (warmupOp ?? op)(-1 - i);
  await sleep(200); // let deferred work of earlier batches finish
  const lat = [];
  let next = 0;
  const deadline = now() + MAX_SECONDS * 1000;
  if (CALLGRIND) instructionsM(server.pid);
  const c0 = CALLGRIND ? 0 : cpuMs(server.pid);
  const th0 = threadCpuMs(server.pid);
  const t0 = now();
  const lane = async () => {
    for (;;) {
      const i = next++;
      if (i >= count || now() > deadline) return;
      const s = now();
      await op(i);
      lat.push(now() - s);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const wallMs = now() - t0;
  const cpu = (CALLGRIND ? instructionsM(server.pid) : cpuMs(server.pid)) - c0;
  // Per thread, grouped by thread name (the isolate's thread, workerd's I/O threads, V8's
  // background compiler and GC threads): where a batch's CPU went.
  const threads = {};
  for (const [k, v] of Object.entries(threadCpuMs(server.pid))) {
    const d = v - (th0[k] ?? 0);
    if (d > 0) threads[k] = d;
  }
  lat.sort((a, b) => a - b);
  const r = {
    label,
    server: server.name,
    concurrency,
    ops: lat.length,
    requestsPerOp,
    cpuMs: cpu,
    cpuPerOp: cpu / lat.length,
    p50: pct(lat, 50),
    p99: pct(lat, 99),
    perSecond: (lat.length * 1000) / wallMs,
    wallMs,
    ticks: Math.round((cpu * CLK_TCK) / 1000),
    truncated: lat.length < count,
    threads,
  };
  log(
    `${label} c=${concurrency}: ${r.ops} ops, ${r.cpuPerOp.toFixed(3)} ms CPU/op (${r.ticks} ticks), ` +
      `p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ${r.perSecond.toFixed(0)}/s${r.truncated ? " (time bound hit)" : ""}`
  );
  if (process.env.BENCH_THREADS) {
    log("  per thread, ms/op: " + Object.entries(threads).sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${(v / r.ops).toFixed(3)}`).join(", "));
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Seeding: records exactly as the operator tool writes them

function admin(args, input) {
  return execFileSync(ADMIN, args, { input, encoding: "utf8", stdio: ["pipe", "pipe", "inherit"] });
}

function records(args, input) {
  const out = JSON.parse(admin(["--print", ...args], input));
  return out;
}

// ---------------------------------------------------------------------------------------------
// The provider's flow, one request at a time

const REDIRECT_URI = "http://127.0.0.1:9/cb";
const CLIENT_ID = "bench-client";
const ES_CLIENT_ID = "bench-es256";
// Logins are spread over 16 users: concurrent attempts on one account are limited by design
// (pending attempts count toward LOGIN_MAX_FAILURES), and real concurrent logins are different users.
const USERS = Array.from({ length: 16 }, (_, i) => ({ username: `bench${i}`, password: `bench password ${i}` }));
const userFor = (i) => USERS[Math.abs(i) % USERS.length];
const USER40K = { username: "bench40k", password: "bench password 456" };
// The budget rounds' users: accounts of their own, so that the rounds do not inherit the
// thousands of grants the suite's batches leave on record for the bench users.
const ROUND_USERS = Array.from({ length: 16 }, (_, i) => ({ username: `round${i}`, password: `round password ${i}` }));
// PKCE (S256): a fixed verifier is fine for a benchmark.
const VERIFIER = "bench-verifier-0123456789-0123456789-0123456789";
const CHALLENGE = crypto.createHash("sha256").update(VERIFIER).digest("base64url");
const form = (o) => new URLSearchParams(o).toString();
const FORM = { "content-type": "application/x-www-form-urlencoded" };

function flowSteps(req, secret, clientId = CLIENT_ID) {
  const basic = "Basic " + Buffer.from(`${clientId}:${secret}`).toString("base64");
  // The first-time flow asks for prompt=consent: a bench user's consent is remembered after
  // its first flow, and the first-time flow must show the consent page every time.
  const authorizePath = (i, extra = { prompt: "consent" }) =>
    "/authorize?" +
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
  const cookies = (res) => [res.headers["set-cookie"] ?? []].flat().map((c) => String(c).split(";")[0]);
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
      return { cookie, tx: tx(res, "authorize") };
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

// ---------------------------------------------------------------------------------------------
// Sizes

function sizes(dir) {
  const wasmFile = fs.readdirSync(dir).find((f) => f.endsWith(".wasm"));
  const wasm = fs.readFileSync(path.join(dir, wasmFile));
  // The JavaScript: index.js, and for edge-oidc the module it wraps (wasm.mjs, scripts/entry.sh).
  const js = Buffer.concat(["index.js", "wasm.mjs"].filter((f) => fs.existsSync(path.join(dir, f))).map((f) => fs.readFileSync(path.join(dir, f))));
  const gz = (b) => zlib.gzipSync(b, { level: 9 }).length;
  return { wasmRaw: wasm.length, wasmGzip: gz(wasm), jsRaw: js.length, bundleGzip: gz(wasm) + gz(js) };
}

// ---------------------------------------------------------------------------------------------
// Main

/** Starts edge-oidc from `dir` (built with the bench feature) with the bench's bindings. */
/** The plain-JavaScript floor worker (bench/floor), with the RS256 and ES256 signing keys of the run. */
async function startFloor(SIGNING_KEYS) {
  const floor = await start("floor", path.join(ROOT, "bench/floor"), {
    durableObjects: { GRANT: { className: "Grant", useSQLite: true }, ACCOUNT: { className: "Account", useSQLite: true } },
    ...(DO_STORAGE === "memory" ? { unsafeEphemeralDurableObjects: true } : {}),
    ...(DO_STORAGE === "tmpfs" ? { durableObjectsPersist: scratch("bench-do-floor-") } : {}),
  }, "/noop");
  const keys = JSON.parse(SIGNING_KEYS).keys;
  const { kty, n: modulus, e, d, p, q, dp, dq, qi } = keys.find((k) => k.kty === "RSA");
  const { crv, x, y, d: ecd } = keys.find((k) => k.kty === "EC");
  const setup = { rsa: { kty, n: modulus, e, d, p, q, dp, dq, qi }, ec: { kty: "EC", crv, x, y, d: ecd } };
  expect(await floor.req("POST", "/setup", { body: JSON.stringify(setup) }), 200, "floor setup");
  return floor;
}

/** The bench user of a floors' operation `i` (its session cookie is `s=<user>`). */
const floorUser = (i) => `bench${Math.abs(i) % USERS.length}`;

/** A floor's (bench/floor, bench/floor-rs) authorization GET with the session of operation
 * `i`'s user: the code of its 303. */
async function floorAuthorize(server, i) {
  const res = expect(await server.req("GET", `/authorize?state=s${i}&redirect_uri=${encodeURIComponent(REDIRECT_URI)}`, { headers: { cookie: `s=${floorUser(i)}` } }), 303, `${server.name} authorize`);
  // Read from the Location as it is (the Rust floor puts the redirect_uri in it undecoded).
  const code = /[?&]code=([^&]*)/.exec(res.headers.location)?.[1];
  return code === undefined ? null : decodeURIComponent(code);
}

/** The Rust floor (bench/floor-rs): the floor's authorization GET and userinfo in Rust, built
 * as edge-oidc is; its objects are bound as the JavaScript floor's. */
async function startFloorRs() {
  return start("floor-rs", path.join(OUT, "floor-rs"), {
    durableObjects: { GRANT: { className: "Grant", useSQLite: true }, ACCOUNT: { className: "Account", useSQLite: true } },
    ...(DO_STORAGE === "memory" ? { unsafeEphemeralDurableObjects: true } : {}),
    ...(DO_STORAGE === "tmpfs" ? { durableObjectsPersist: scratch("bench-do-floor-rs-") } : {}),
  }, "/noop");
}

async function startOidc(name, dir, SIGNING_KEYS, SESSION_KEY) {
  // ISSUER only shapes URLs in documents and tokens; the requests need not use its port.
  return start(
    name,
    dir,
    {
      kvNamespaces: ["CLIENTS", "USERS"],
      durableObjects: {
        GRANTS: { className: "Grants", useSQLite: true },
        THROTTLES: { className: "Throttles", useSQLite: true },
        ACCOUNTS: { className: "Accounts", useSQLite: true },
      },
      // Durable Object storage in memory (see DO_STORAGE above).
      ...(DO_STORAGE === "memory" ? { unsafeEphemeralDurableObjects: true } : {}),
      ...(DO_STORAGE === "tmpfs" ? { durableObjectsPersist: scratch(`bench-do-${name}-`) } : {}),
      ...(PROFILE ? { inspectorPort: 0 } : {}),
      bindings: {
        ISSUER: "http://127.0.0.1:8787",
        SIGNING_KEYS,
        SESSION_KEY,
        // Long enough that no code expires, and no Durable Object alarm fires, during a run.
        CODE_TTL_SECONDS: "600",
        INTERACTION_TTL_SECONDS: "3600",
        ACCESS_TOKEN_TTL_SECONDS: "3600",
        ID_TOKEN_TTL_SECONDS: "3600",
        LOGIN_MAX_FAILURES: "5",
        LOGIN_MAX_FAILURES_IP: "20",
        CLIENT_MAX_FAILURES: "10",
        LOGIN_LOCK_SECONDS: "900",
      },
    },
    "/.well-known/openid-configuration"
  );
}

/** BENCH_COMPARE: the same batches on two builds, alternating, median CPU per operation. */
async function compare(pair, secret) {
  const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
  const all = pair.map((server) => ({ server, steps: flowSteps(server.req, secret) }));
  for (const { server, steps } of all) {
    for (let i = 0; i < n(100); i++) {
      const at = await steps.token(await steps.consent(await steps.login(await steps.authorize(i), userFor(i))));
      await steps.userinfo(at);
    }
    for (const p of ["/__bench/noop", "/__bench/do-read", "/__bench/do-write-existing", "/__bench/do-write", "/__bench/rs256"]) {
      for (let i = 0; i < n(300); i++) expect(await server.req("GET", p), 200, p);
    }
    // One live session per user, consent remembered.
    const sessions = [];
    for (const u of USERS) {
      const s = await steps.login(await steps.authorize(0), u);
      await steps.consent(s);
      sessions.push(s.session);
    }
    Object.assign(all.find((x) => x.server === server), { sessions });
  }
  const sessionOf = (x, i) => x.sessions[Math.abs(i) % x.sessions.length];
  // `count` returning users' codes, made unmeasured.
  const codesFor = async (x, count) => {
    const codes = [];
    for (let i = 0; i < count; i++) codes.push(await x.steps.resume(i, sessionOf(x, i)));
    return codes;
  };
  const ops = {
    ...Object.fromEntries(["noop", "do-read", "do-write-existing", "do-write", "rs256"].map((p) => [p, {
      count: n(1000), op: (x) => async () => expect(await x.server.req("GET", `/__bench/${p}`), 200, p),
    }])),
    resume: { count: n(300), op: (x) => async (i) => x.steps.resume(i, sessionOf(x, i)) },
    token: { count: n(300), prepare: codesFor, op: (x, codes) => async (i) => x.steps.token(codes[i]) },
    userinfo: {
      count: n(300),
      prepare: async (x, count) => {
        const tokens = [];
        for (const code of await codesFor(x, count)) tokens.push(await x.steps.token(code));
        return tokens;
      },
      op: (x, tokens) => async (i) => x.steps.userinfo(tokens[i]),
    },
    // do-read on a counter that holds a value (the object do-write-existing writes), and
    // spread over 16 objects.
    "do-read-w": { extra: true, count: n(1000), op: (x) => async () => expect(await x.server.req("GET", "/__bench/do-read?object=written"), 200, "do-read-w") },
    "do-read16": { extra: true, count: n(1000), op: (x) => async () => expect(await x.server.req("GET", "/__bench/do-read?spread=16"), 200, "do-read16") },
    // userinfo's pieces (probe userinfo-steps, `s-<with>`): s-om the grant object's call for a
    // grant its home does not hold; s-o the call as userinfo makes it (s-oi its reply not parsed,
    // s-og to a never-written grant object); s-or, s-hor, s-hour adding the response, the
    // request's headers, the user record and claims.
    ...Object.fromEntries(["o", "om", "oi", "og", "or", "hor", "hour"].map((w) => [`s-${w}`, {
      extra: true,
      count: n(300),
      // `m`: the token of a grant the home does not hold (one character of the id changed).
      prepare: async (x, count) => (await ops.userinfo.prepare(x, count)).map((t) => (w.includes("m") ? t.slice(0, 30) + (t[30] === "A" ? "B" : "A") + t.slice(31) : t)),
      op: (x, tokens) => async (i) => expect(await x.server.req("GET", `/__bench/userinfo-steps?with=${w}&token=${tokens[i]}`, { headers: { authorization: `Bearer ${tokens[i]}` } }), 200, `steps ${w}`),
    }])),
    // Run only when named in BENCH_COMPARE_OPS (`extra`):
    // no request at all: what the process burns while a batch runs (timers, housekeeping);
    idle: { extra: true, count: n(300), op: () => async () => {} },
    // the flow's requests in pairs: does a request cost more right after another?
    "resume+resume": {
      extra: true,
      count: n(300),
      op: (x) => async (i) => { await x.steps.resume(i, sessionOf(x, i)); await x.steps.resume(i, sessionOf(x, i)); },
    },
    // the same with two different sessions (users, so account objects).
    "resume+other": {
      extra: true,
      count: n(300),
      op: (x) => async (i) => { await x.steps.resume(i, sessionOf(x, i)); await x.steps.resume(i, sessionOf(x, i + 1)); },
    },
    // the same with 5 ms between the two (does the second wait on the first's commit?).
    "resume-5ms-resume": {
      extra: true,
      count: n(300),
      op: (x) => async (i) => { await x.steps.resume(i, sessionOf(x, i)); await sleep(5); await x.steps.resume(i, sessionOf(x, i)); },
    },
    "token+token": {
      extra: true,
      count: n(300),
      prepare: (x, count) => codesFor(x, 2 * count),
      op: (x, codes) => async (i) => { await x.steps.token(codes[2 * i]); await x.steps.token(codes[2 * i + 1]); },
    },
    "resume+token": {
      extra: true,
      count: n(300),
      op: (x) => async (i) => x.steps.token(await x.steps.resume(i, sessionOf(x, i))),
    },
    returning: {
      count: n(300),
      op: (x) => async (i) => x.steps.userinfo(await x.steps.token(await x.steps.resume(i, sessionOf(x, i)))),
    },
    // The consent POST, on consent-page forms of signed-in users (prompt=consent) made just
    // before, in sessions made just before (with in-memory storage, idle objects lose theirs).
    consent: {
      count: n(300),
      prepare: async (x, count) => {
        const sessions = [];
        for (const u of USERS) sessions.push((await x.steps.login(await x.steps.authorize(0), u)).session);
        const forms = [];
        for (let i = 0; i < count; i++) forms.push(await x.steps.consentPage(i, sessions[i % sessions.length]));
        return forms;
      },
      op: (x, forms) => async (i) => x.steps.consent(forms[i]),
    },
  };
  // Rounds of each operation back to back, A and B alternating (order swapped every round),
  // so that drift hits both alike; the paired differences tell whether a change helps.
  const got = {};
  const only = process.env.BENCH_COMPARE_OPS?.split(",");
  // `<op>-<k>ms` (any op above): the op followed by k ms of nothing.
  for (const name of only ?? []) {
    const m = /^(.*)-(\d+)ms$/.exec(name);
    if (ops[name] || !m || !ops[m[1]]) continue;
    const base = ops[m[1]];
    ops[name] = { ...base, op: (x, input) => { const f = base.op(x, input); return async (i) => { await f(i); await sleep(Number(m[2])); }; } };
  }
  // BENCH_INTERLEAVE=1: the named operations request by request in turn on A alone, each
  // request's own CPU (the workerd process's, read before it and 1 ms after its response),
  // medians per operation: small differences between operations of one worker, without the
  // drift between batches.
  if (process.env.BENCH_INTERLEAVE) {
    const x = all[0];
    const names = only.filter((k) => ops[k]);
    const per = Object.fromEntries(names.map((k) => [k, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const inputs = {};
      for (const k of names) inputs[k] = ops[k].op(x, ops[k].prepare ? await ops[k].prepare(x, ops[k].count) : undefined);
      await sleep(200);
      const count = Math.min(...names.map((k) => ops[k].count));
      for (let i = 0; i < count; i++) {
        for (let j = 0; j < names.length; j++) {
          const k = names[(i + j) % names.length];
          const c0 = cpuMs(x.server.pid);
          await inputs[k](i);
          await sleep(1);
          per[k].push(cpuMs(x.server.pid) - c0);
        }
      }
      log(`interleave round ${round + 1} done`);
    }
    const q = (a, p) => [...a].sort((u, v) => u - v)[Math.floor(p * (a.length - 1))];
    const trimmed = (a) => { const b = [...a].sort((u, v) => u - v).slice(Math.floor(a.length * 0.1), Math.ceil(a.length * 0.9)); return b.reduce((u, v) => u + v, 0) / b.length; };
    console.log(`\nper-request CPU ms, ${per[names[0]].length} requests each, interleaved\n\n| operation | p25 | median | p75 | mean of p10–p90 |\n|---|---|---|---|---|`);
    for (const k of names) console.log(`| ${k} | ${q(per[k], 0.25).toFixed(3)} | ${q(per[k], 0.5).toFixed(3)} | ${q(per[k], 0.75).toFixed(3)} | ${trimmed(per[k]).toFixed(3)} |`);
    return;
  }
  for (const [name, o] of Object.entries(ops)) {
    if (only ? !only.includes(name) : o.extra) continue;
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 ? [...all].reverse() : all;
      for (const x of order) {
        const input = o.prepare ? await o.prepare(x, o.count) : undefined;
        const r = await batch(x.server, `${name} [${x.server.name}] round ${round + 1}`, { count: o.count, warmup: 0, op: o.op(x, input) });
        ((got[name] ??= {})[x.server.name] ??= []).push(r.cpuPerOp);
      }
    }
  }
  const median = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
  const [A, B] = pair.map((x) => x.name);
  console.log(`\nmedian CPU ms/op of ${ROUNDS} rounds (gross), A = ${OUT}/oidc, B = ${COMPARE}\n`);
  console.log(`| operation | A | B | median of B − A per round | B − A per round |\n|---|---|---|---|---|`);
  const signed = (x) => (x >= 0 ? "+" : "") + x.toFixed(2);
  for (const [name, v] of Object.entries(got)) {
    const d = v[A].map((a, i) => v[B][i] - a);
    console.log(`| ${name} | ${median(v[A]).toFixed(3)} | ${median(v[B]).toFixed(3)} | ${signed(median(d))} | ${d.map(signed).join(" ")} |`);
  }
}

/** A temporary directory in memory (/dev/shm) where there is one, removed by stopAll. */
const scratchDirs = [];
function scratch(prefix) {
  const dir = fs.mkdtempSync(path.join(fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}

const servers = [];
async function stopAll() {
  for (const s of servers.splice(0)) {
    try {
      await s.mf.dispose();
    } catch (e) {
      log(`stopping ${s.name}: ${e.message}`);
    }
  }
  for (const d of scratchDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, async () => {
    log(`${sig}: stopping the workers`);
    await stopAll();
    process.exit(130);
  });
}

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
    await compare([oidc, other], secret);
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
    await profile(oidc, steps, PROFILE);
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

  // The floor (bench/floor/index.js): the returning-user flow's requests in plain JavaScript,
  // with the same primitives and nothing else, in this run, at concurrency 1.
  const fl = {};
  {
    const op = (p) => async () => expect(await floor.req("GET", p), 200, `floor ${p}`);
    fl.noop = keep(await batch(floor, "floor: empty request", { count: n(3000), warmup: 50, op: op("/noop") }));
    fl.rs256 = keep(await batch(floor, "floor: RS256 signature", { count: n(1000), warmup: 20, op: op("/rs256") }));
    fl["do-write-existing"] = keep(await batch(floor, "floor: object write (existing)", { count: n(2000), warmup: 20, op: op("/do-write-existing") }));
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
    const ROUNDS = Number(process.env.BENCH_BUDGET_ROUNDS ?? (QUICK ? 1 : 7));
    const M = n(300);
    results.rounds = [];
    for (let r = 0; r < ROUNDS; r++) {
      const round = { probes: {}, edge: {}, floor: {}, floorRs: {} };
      const tag = (what) => `round ${r + 1}: ${what}`;
      const edgeSide = async () => {
        round.noop = await batch(noop, tag("no-op worker"), { count: n(2000), warmup: 20, op: async () => expect(await noop.req("GET", "/"), 200, "noop") });
        for (const [name, p, count] of [["noop", "/__bench/noop", 2000], ["do-read", "/__bench/do-read", 2000], ["do-write-existing", "/__bench/do-write-existing", 2000], ["rs256", "/__bench/rs256", 1000], ["es256", "/__bench/es256", 2000], ["noop (again)", "/__bench/noop", 2000]]) {
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
      // Each side first, second and last in turn.
      const sides = [edgeSide, floorSide, floorRsSide];
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

// ---------------------------------------------------------------------------------------------
// Profile (BENCH_PROFILE=<op>): where the worker's isolate spends its time during one batch

async function cdp(mf, target) {
  const { default: WebSocket } = await import("ws");
  const iu = await mf.getInspectorURL();
  const list = await (await fetch(`http://${iu.host}/json`)).json();
  const t = list.find((x) => x.id === target);
  if (!t) throw new Error(`no inspector target ${target}: ${list.map((x) => x.id).join(", ")}`);
  const ws = new WebSocket(t.webSocketDebuggerUrl);
  await new Promise((res, rej) => (ws.on("open", res), ws.on("error", rej)));
  let id = 0;
  const pending = new Map();
  ws.on("message", (m) => {
    const msg = JSON.parse(m);
    if (msg.id && pending.has(msg.id)) pending.get(msg.id)(msg), pending.delete(msg.id);
  });
  const send = (method, params = {}) =>
    new Promise((res, rej) => {
      const i = ++id;
      pending.set(i, (msg) => (msg.error ? rej(new Error(`${method}: ${msg.error.message}`)) : res(msg.result)));
      ws.send(JSON.stringify({ id: i, method, params }));
    });
  return { send, close: () => ws.close() };
}

async function profile(oidc, steps, spec) {
  const N = n(300);
  // `<op>-<k>ms`: the operation followed by k ms of nothing (the idle work after a request).
  const [, what, pauseMs] = /^(.*?)(?:-(\d+)ms)?$/.exec(spec);
  // Prepare the inputs of the profiled step (unprofiled).
  const inputs = [];
  // `resume` and `returning` need a live session per bench user, consent remembered.
  const sessions = [];
  if (what === "resume" || what === "returning" || what === "tokenSealed") {
    for (let u = 0; u < USERS.length; u++) {
      const s = await steps.login(await steps.authorize(u), USERS[u]);
      await steps.consent(s);
      sessions.push(s.session);
    }
  }
  const sessionOf = (i) => sessions[i % sessions.length];
  for (let i = 0; i < N; i++) {
    if (["authorize", "flow", "resume", "returning"].includes(what) || what.startsWith("/")) { inputs.push(i); continue; }
    if (what === "tokenSealed") { inputs.push(await steps.resume(i, sessionOf(i))); continue; }
    let x = await steps.authorize(i);
    if (what !== "login") x = await steps.login(x, userFor(i));
    if (what !== "login" && what !== "consent") x = await steps.consent(x);
    if (what === "userinfo") x = await steps.token(x);
    inputs.push(x);
  }
  const op = {
    authorize: (x) => steps.authorize(x),
    login: (x, i) => steps.login(x, userFor(i)),
    consent: (x) => steps.consent(x),
    token: (x) => steps.token(x),
    tokenSealed: (x) => steps.token(x),
    userinfo: (x) => steps.userinfo(x),
    resume: (i) => steps.resume(i, sessionOf(i)),
    returning: async (i) => steps.userinfo(await steps.token(await steps.resume(i, sessionOf(i)))),
    flow: async (i) => steps.userinfo(await steps.token(await steps.consent(await steps.login(await steps.authorize(i), userFor(i))))),
  }[what] ?? (what.startsWith("/") ? async () => expect(await oidc.req("GET", what), 200, what) : undefined);
  if (!op) throw new Error(`BENCH_PROFILE: unknown operation ${what}`);
  const insp = await cdp(oidc.mf, "core:user:oidc");
  await insp.send("Profiler.enable");
  await insp.send("Profiler.setSamplingInterval", { interval: 50 });
  await insp.send("Profiler.start");
  const r = await batch(oidc, `${spec} (profiled)`, {
    count: inputs.length,
    op: async (i) => (await op(inputs[i], i), pauseMs && (await sleep(Number(pauseMs)))),
  });
  const { profile: prof } = await insp.send("Profiler.stop");
  insp.close();
  const file = path.join(ROOT, `.bench/profile-${spec.replace(/[^a-z0-9]+/gi, "_")}.cpuprofile`);
  fs.writeFileSync(file, JSON.stringify(prof));
  // Self time per function (samples × interval), and each function's total (self + callees).
  const dt = (prof.endTime - prof.startTime) / 1000 / prof.samples.length; // ms per sample
  const byId = new Map(prof.nodes.map((x) => [x.id, x]));
  const parent = new Map();
  for (const x of prof.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const self = new Map();
  const total = new Map();
  const counts = new Map();
  for (const sId of prof.samples) counts.set(sId, (counts.get(sId) ?? 0) + 1);
  const name = (x) => x.callFrame.functionName || `(anonymous ${x.callFrame.url.split("/").pop()}:${x.callFrame.lineNumber})`;
  for (const [sId, c] of counts) {
    const x = byId.get(sId);
    self.set(name(x), (self.get(name(x)) ?? 0) + c * dt);
    const seen = new Set();
    for (let y = sId; y !== undefined; y = parent.get(y)) {
      const nm = name(byId.get(y));
      if (!seen.has(nm)) (seen.add(nm), total.set(nm, (total.get(nm) ?? 0) + c * dt));
    }
  }
  // Shares of the isolate thread's busy samples (everything but "(idle)"). Samples are taken
  // on the wall clock, so they show where the isolate's thread is, not CPU time exactly.
  const busy = prof.samples.length * dt - (self.get("(idle)") ?? 0);
  const per = (ms) => `${((100 * ms) / busy).toFixed(1)} %`;
  const top = (m, k) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k);
  console.log(`\n${spec}: ${r.ops} ops, workerd CPU ${r.cpuPerOp.toFixed(3)} ms/op (inspector attached). Isolate profile, ${prof.samples.length} samples, busy ${(busy / r.ops).toFixed(3)} ms/op (garbage collector ${((self.get("(garbage collector)") ?? 0) / r.ops).toFixed(3)}, program ${((self.get("(program)") ?? 0) / r.ops).toFixed(3)}); shares of the busy ones:`);
  console.log("\nself time:");
  for (const [k, v] of top(self, 25)) if (k !== "(idle)") console.log(`  ${per(v).padStart(14)}  ${k.slice(0, 120)}`);
  console.log("\ntotal (self + callees), excluding (root)/(program)/(idle):");
  for (const [k, v] of top(total, 45)) if (!/^\((root|program|idle)\)$/.test(k)) console.log(`  ${per(v).padStart(14)}  ${k.slice(0, 120)}`);
  console.log(`\nsaved ${path.relative(ROOT, file)}`);
}

// ---------------------------------------------------------------------------------------------
// Report

function report(R) {
  const f2 = (x) => (x === undefined || Number.isNaN(x) ? "–" : x.toFixed(2));
  const f3 = (x) => (x === undefined || Number.isNaN(x) ? "–" : x.toFixed(3));
  const kb = (b) => `${(b / 1000).toFixed(0)} KB`;
  // Baseline: the no-op worker's CPU per request, mean of the start and end batches.
  const base = (c) => (R.baseline.start[c].cpuPerOp + R.baseline.end[c].cpuPerOp) / 2;
  const net = (r) => r.cpuPerOp - base(r.concurrency) * r.requestsPerOp;
  // A primitive's own cost: its probe minus the probe that does nothing (same worker, same
  // run; the `noop` probe runs first and last in each pass, and their mean is used). The probes
  // run at the start and at the end of the run; a primitive's cost is the mean of the two
  // passes. (Earlier versions took the smaller of the two, which let one lucky batch, or a
  // negative difference for a primitive near zero, decide a row's ratio.)
  const own = (pass, k) => pass[k].cpuPerOp - (pass.noop.cpuPerOp + pass["noop (again)"].cpuPerOp) / 2;
  const passes = [R.primitives, R.primitivesEnd].filter(Boolean);
  const P = (k) => passes.reduce((sum, pass) => sum + own(pass, k), 0) / passes.length;
  const prims = {
    kv: ["KV read", P("kv")],
    dor: ["DO round trip (read)", P("do-read")],
    dow: ["DO write (new object)", P("do-write")],
    dox: ["DO write (existing object)", P("do-write-existing")],
    rs: ["RS256", P("rs256")],
    es: ["ES256", P("es256")],
    pb: ["PBKDF2 100k", P("pbkdf2-100k")],
    pb40: ["PBKDF2 40k", P("pbkdf2-40k")],
  };
  // What each operation inherently needs. Records read on most requests come from the
  // isolate's memory after their first read (store/cache.rs, 60 s): client records, user
  // records read by username, and a client's clean throttle check (token endpoint).
  const needs = {
    discovery: {},
    jwks: {},
    authorize: {},
    // Throttling: Attempt on the account and IP counters before the password check, Succeed /
    // Release after it (4 writes to existing objects, in two parallel pairs); the session
    // starts in the user's account object; Reserve creates the grant. The user is read by
    // login name, always from KV.
    login: { kv: 1, dox: 5, pb: 1, dow: 1 },
    login40k: { kv: 1, dox: 5, pb40: 1, dow: 1 },
    // Remember the consent in the account object, then issue the code in the grant object.
    consent: { dox: 2 },
    consentAfterLogin: { dox: 2 },
    // Redeem the code (from the consent page) in its grant object (read + write, one round
    // trip); sign the ID token.
    token: { dox: 1, rs: 1 },
    // Check the access token in the grant object (read only).
    userinfo: { dor: 1 },
    flow: { kv: 1, dox: 8, pb: 1, dow: 1, rs: 1, dor: 1 },
    // One account-object call checks the session and consent (read only: the grant is not
    // recorded there, and the client is on the session already); the code carries the grant,
    // sealed (protocol/sealed_code.rs): no grant object yet.
    resume: { dor: 1 },
    // ... and its redemption stores the grant in the user's home object for this client, which
    // exists from earlier sign-ins (model::grant::homed_grant_id): a write to an existing object.
    returning: { dox: 1, rs: 1, dor: 2 },
    tokenSealed: { dox: 1, rs: 1 },
    tokenEs: { dox: 1, es: 1 },
    returningEs: { dox: 1, es: 1, dor: 2 },
  };
  const cached = {
    authorize: "client record",
    token: "client record, clean throttle check",
    userinfo: "user record",
    flow: "client record, clean throttle check, user record",
    resume: "client record, user record",
    returning: "client record, clean throttle check, user record",
    tokenSealed: "client record, clean throttle check",
    tokenEs: "client record, clean throttle check",
    returningEs: "client record, clean throttle check, user record",
  };
  const needText = (k) => {
    const e = Object.entries(needs[k]);
    const memo = cached[k] ? ` (from the isolate's memory: ${cached[k]})` : "";
    if (e.length) return e.map(([p, m]) => `${m > 1 ? m + "× " : ""}${prims[p][0]}`).join(" + ") + memo;
    return cached[k] ? `none${memo}` : "none (bytes prepared per isolate)";
  };
  const needSum = (k) => Object.entries(needs[k]).reduce((s, [p, m]) => s + m * prims[p][1], 0);
  const E = R.endpoints;
  const rows = [
    ["discovery", "discovery GET"],
    ["jwks", "JWKS GET"],
    ["authorize", "authorization GET"],
    ["login", "login POST (PBKDF2 100,000)"],
    ["login40k", "login POST (PBKDF2 40,000)"],
    ["consent", "consent POST (form from the consent page of a signed-in user)"],
    ["consentAfterLogin", "consent POST (form from a login, made seconds before)"],
    ["token", "token (code from the consent page)"],
    ["userinfo", "userinfo"],
    ["flow", "**first-time flow** (5 requests)"],
    ["resume", "authorization GET with a live session (code, no page)"],
    ["tokenSealed", "token (a returning user's code, redeemed in the user's home object)"],
    ["returning", "**returning-user flow** (3 requests)"],
    ["tokenEs", "token, client registered for ES256 (a returning user's code)"],
    ["returningEs", "**returning-user flow, client registered for ES256** (3 requests)"],
  ];
  let md = "";
  const chartRows = [];
  // The commit the figures came from: recorded when the run started (a later --report keeps it).
  const commit = R.commit ?? currentCommit();
  const cpuModel = os.cpus()[0]?.model ?? "unknown";
  const workerdVersion = JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules/miniflare/node_modules/workerd/package.json"), "utf8")).version;
  const mfVersion = JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules/miniflare/package.json"), "utf8")).version;
  md += `# Benchmark results\n\nGenerated by \`make bench\` (bench/run.mjs${R.quick ? ", **--quick: small batches, indicative only**" : ""}); method in [bench/README.md](README.md); raw figures in results.json.\n\n`;
  md += `| | |\n|---|---|\n`;
  md += `| commit | ${commit} |\n| date | ${R.finished} |\n| machine | ${os.cpus().length} × ${cpuModel} (\`nproc\` ${os.availableParallelism?.() ?? os.cpus().length}), shared; Linux ${os.release()} |\n`;
  md += `| runtime | workerd ${workerdVersion} via miniflare ${mfVersion}, one process per worker, loopback; Node ${process.version} client |\n`;
  md += `| Durable Object storage | ${{ disk: "SQLite files on disk (miniflare's default)", tmpfs: "SQLite files in /dev/shm (BENCH_DO_STORAGE=tmpfs): production's backend and code path", memory: "workerd's in-memory storage (\`unsafeEphemeralDurableObjects\`; not SQLite, so objects use the asynchronous storage API; BENCH_DO_STORAGE=tmpfs for SQLite)" }[R.doStorage ?? "memory"]} |\n`;
  md += R.cpuClock === "sched"
    ? `| CPU clock | the worker's workerd process: the sum of its threads' se.sum_exec_runtime (/proc/<pid>/task/*/sched, nanoseconds) |\n\n`
    : `| CPU clock | /proc/<pid>/stat utime+stime of the worker's workerd process, ${CLK_TCK} ticks/s (${(1000 / CLK_TCK).toFixed(0)} ms resolution per batch) |\n\n`;

  md += `## Baseline: the no-op Rust worker\n\n| when | concurrency | requests | CPU ms/request | p50 ms | p99 ms | requests/s |\n|---|---|---|---|---|---|---|\n`;
  for (const w of ["start", "end"]) for (const c of [1, 8]) {
    const r = R.baseline[w][c];
    md += `| ${w} | ${c} | ${r.ops} | ${f3(r.cpuPerOp)} | ${f2(r.p50)} | ${f2(r.p99)} | ${r.perSecond.toFixed(0)} |\n`;
  }
  md += `\nNet figures below subtract the mean of start and end at the same concurrency (c=1: ${f3(base(1))} ms, c=8: ${f3(base(8))} ms per request).\n\n`;

  const E0 = R.primitivesEnd;
  md += `## Primitives (probe routes of the bench build, concurrency 1)\n\n| probe | requests | CPU ms/request (gross) | net of the no-op worker | own cost (minus the \`noop\` probe) | p50 ms | p99 ms |${E0 ? " own cost, end of the run | used |" : ""}\n|---|---|---|---|---|---|---|${E0 ? "---|---|" : ""}\n`;
  for (const [k, r] of Object.entries(R.primitives)) {
    const noop = k.startsWith("noop");
    const end = E0 ? ` ${noop ? f3(E0[k].cpuPerOp) + " gross" : f3(own(E0, k))} | ${noop ? "—" : f3(P(k))} |` : "";
    md += `| ${k} | ${r.ops} | ${f3(r.cpuPerOp)} | ${f3(net(r))} | ${noop ? "—" : f3(own(R.primitives, k))} | ${f2(r.p50)} | ${f2(r.p99)} |${end}\n`;
  }
  md += `\n${E0 ? "The probes run at the start of the run and again at its end; the mean of the two own costs is used. " : ""}"Own cost" is what the endpoint sums below use. KV and Durable Objects are miniflare's local simulations, running in the same workerd process, so their work is counted here; in production it runs elsewhere.\n\n`;

  md += `## Endpoints and the first-time flow\n\nCPU per operation of the workerd process at concurrency 1 (gross), net = gross − no-op worker × requests; primitives' sum from the table above; ratio = net / sum.\n\n`;
  md += `| operation | primitives it needs | sum of primitives ms | CPU gross ms | CPU net ms | ratio | p50 / p99 ms (c=1) | p50 / p99 ms (c=8) | ops/s (c=8) | CPU net ms (c=8) |\n|---|---|---|---|---|---|---|---|---|---|\n`;
  for (const [k, title] of rows) {
    const r1 = E[`${k}@1`];
    const r8 = E[`${k}@8`];
    if (!r1) continue;
    const sum = needSum(k);
    const ratio = sum > 0 ? `${(net(r1) / sum).toFixed(2)}×` : "—";
    md += `| ${title} | ${needText(k)} | ${sum > 0 ? f3(sum) : "0"} | ${f3(r1.cpuPerOp)} | ${f3(net(r1))} | ${ratio} | ${f2(r1.p50)} / ${f2(r1.p99)} | ${r8 ? `${f2(r8.p50)} / ${f2(r8.p99)}` : "–"} | ${r8 ? r8.perSecond.toFixed(0) : "–"} | ${r8 ? f3(net(r8)) : "–"} |\n`;
  }
  md += `\nThe returning-user flow: a live session and a remembered consent; authorization GET (303 with a code, no page) → token → userinfo. \`bench-client\` gets RS256 ID tokens (the default, OpenID Connect Registration §2); \`bench-es256\` is registered with \`id_token_signed_response_alg\` ES256.\n\n`;

  // The floor's net: its CPU per operation − its own empty request's × requests.
  const fnet = (r) => r.cpuPerOp - R.floor.noop.cpuPerOp * r.requestsPerOp;
  if (R.floor) {
    const F = R.floor;
    md += `## The floor: the same requests in plain JavaScript\n\n`;
    md += `[bench/floor/index.js](floor/index.js) does the least each request of the returning-user flow, and the consent POST, needs on this runtime — parse it, its Durable Object calls by RPC (a read for authorization and userinfo, a read and a write for token; for the consent POST two in sequence, each a read and a write: the account remembers the consent and the grant under it, then the grant object reserved beforehand stores the code), one RS256 signature at the token endpoint (ES256 for the client registered for it), build the response — with nothing of a provider's own work (no records, PKCE, sealing or hashing). Its authorization request reads the user's account object and writes nothing, as edge-oidc's does for a client already noted on the session. Net here = its CPU per operation − its own empty request's (${f3(F.noop.cpuPerOp)} ms) × requests. Concurrency 1, measured in this run after the endpoints above.\n\n`;
    md += `| operation | floor, net CPU ms | edge-oidc, net CPU ms | edge-oidc − floor |\n|---|---|---|---|\n`;
    for (const [k, t] of [["rs256", "primitive: one RS256 signature (edge-oidc: its probe's own cost)"], ["do-write-existing", "primitive: one write to an existing object (same)"]]) {
      md += `| ${t} | ${f3(fnet(F[k]))} | ${f3(P(k))} | ${f3(P(k) - fnet(F[k]))} |\n`;
    }
    for (const [k, t] of [["resume", "authorization GET with a live session"], ["tokenSealed", "token, RS256, returning user's code (both: redeemed in the user's existing home object)"], ["token", "token, RS256, the same code again (floor) / code from the consent page (edge-oidc): an existing object"], ["userinfo", "userinfo"], ["returning", "**returning-user flow**, RS256 (3 requests)"], ["tokenEs", "token, ES256, returning user's code"], ["returningEs", "**returning-user flow**, ES256 (3 requests)"], ["consent", "consent POST (two object calls in sequence)"], ["consentAfterLogin", "consent POST, forms made seconds before (edge-oidc: by its login batch; the floor: at that pace)"]]) {
      if (!F[k]) continue;
      const e = E[`${k}@1`];
      md += `| ${t} | ${f3(fnet(F[k]))} | ${e ? f3(net(e)) : "–"} | ${e ? f3(net(e) - fnet(F[k])) : "–"} |\n`;
    }
    md += `\n`;
  }

  const S = R.sizes;
  md += `## Size and startup\n\n| build | wasm raw | wasm gzip -9 | JS raw (index.js, wasm.mjs) | wasm + JS gzip |\n|---|---|---|---|---|\n`;
  for (const [k, t] of [["release", "edge-oidc release (what is deployed)"], ["bench", "edge-oidc with the bench feature"], ["noop", "no-op worker"]]) {
    md += `| ${t} | ${kb(S[k].wasmRaw)} | ${kb(S[k].wasmGzip)} | ${kb(S[k].jsRaw)} | ${kb(S[k].bundleGzip)} |\n`;
  }
  md += `\n| worker | \`new Miniflare\` → ready | → first 200 | first request | later requests (mean of 20) | workerd CPU until first 200 |\n|---|---|---|---|---|---|\n`;
  for (const [k, t] of [["noop", "no-op worker (GET /)"], ["oidc", "edge-oidc (GET discovery)"]]) {
    const s = R.startup[k];
    md += `| ${t} | ${s.readyMs.toFixed(0)} ms | ${s.firstOkMs.toFixed(0)} ms | ${f2(s.firstRequestMs)} ms | ${f2(s.warmRequestMs)} ms | ${s.cpuToFirstOkMs.toFixed(0)} ms |\n`;
  }
  md += `\n"Ready" includes spawning workerd and compiling the worker; the first request also builds the per-isolate state (configuration, discovery and JWKS bytes).\n\n`;

  // Budgets of issue 5.
  const tok = net(E["token@1"]);
  const flowNet = net(E["flow@1"]);
  const verdict = (ok) => (ok ? "met" : "**missed**");
  const ratioOf = (k) => net(E[`${k}@1`]) / needSum(k);
  const floorRatio = (k) => {
    const F = R.floor?.[k];
    return F && needSum(k) > 0 ? fnet(F) / needSum(k) : null;
  };
  md += `## Budgets (issue 5)\n\nA ratio budget's row also gives the floor's (above) where it does the same request: its net over the same sum of primitives.${R.rounds?.length ? " These come from the single batches above, each measured once and not paired with the floor's (the host's drift between them is not cancelled): for the ratio budgets, the section \"Budget rounds\" below gives the verdicts that hold." : ""}\n\n| budget | measured | verdict |\n|---|---|---|\n`;
  for (const k of ["discovery", "jwks"]) md += `| ${k} ≤ 0.05 ms net | ${f3(net(E[`${k}@1`]))} ms | ${verdict(net(E[`${k}@1`]) <= 0.05)} |\n`;
  md += `| token ≤ 1.5 ms net (RS256 client, code from the consent page) | ${f3(tok)} ms | ${verdict(tok <= 1.5)} |\n`;
  if (E["tokenSealed@1"]) md += `| token ≤ 1.5 ms net (RS256 client, returning user's code) | ${f3(net(E["tokenSealed@1"]))} ms | ${verdict(net(E["tokenSealed@1"]) <= 1.5)} |\n`;
  if (E["tokenEs@1"]) md += `| token ≤ 1.5 ms net (ES256 client) | ${f3(net(E["tokenEs@1"]))} ms | ${verdict(net(E["tokenEs@1"]) <= 1.5)} |\n`;
  for (const k of ["authorize", "login", "consent", "consentAfterLogin", "token", "userinfo", "flow", "resume", "tokenSealed", "returning", "tokenEs", "returningEs"]) {
    if (!E[`${k}@1`]) continue;
    if (needSum(k) === 0) {
      md += `| ${k} ≤ 1.25 × its primitives | needs none; ${f3(net(E[`${k}@1`]))} ms net | — |\n`;
      continue;
    }
    // Where the floor does the same request, its net over the same sum: what the runtime alone
    // reaches on this machine. A ratio the floor misses too is below reach, not edge-oidc's.
    const fl = floorRatio(k);
    const floorText = fl === null ? "" : `; the floor: ${fl.toFixed(2)}×`;
    const verdictText = ratioOf(k) <= 1.25 ? "met" : fl !== null && fl > 1.25 ? "**missed** (the floor misses it too)" : "**missed**";
    md += `| ${k} ≤ 1.25 × its primitives | ${ratioOf(k).toFixed(2)}× (${f3(net(E[`${k}@1`]))} / ${f3(needSum(k))} ms)${floorText} | ${verdictText} |\n`;
  }
  md += `| returning-user flow ≤ 3.0 ms net (RS256 client) | ${f3(net(E["returning@1"]))} ms | ${verdict(net(E["returning@1"]) <= 3.0)} |\n`;
  if (E["returningEs@1"]) md += `| returning-user flow ≤ 3.0 ms net (ES256 client) | ${f3(net(E["returningEs@1"]))} ms | ${verdict(net(E["returningEs@1"]) <= 3.0)} |\n`;
  md += `| first-time flow (not a budget of the issue; for reference) | ${f3(flowNet)} ms net | — |\n`;
  md += `| login POST fits the paid plan (30 s) | ${f3(net(E["login@1"]))} ms net | ${verdict(net(E["login@1"]) < 30000)} |\n`;
  md += `| login POST vs the free plan's 10 ms | ${f3(net(E["login@1"]))} ms (100k), ${f3(net(E["login40k@1"]))} ms (40k) | ${verdict(net(E["login@1"]) <= 10)} at 100k, ${verdict(net(E["login40k@1"]) <= 10)} at 40k |\n`;
  md += `| wasm ≤ 400 KB gzip (release) | ${kb(S.release.wasmGzip)} | ${verdict(S.release.wasmGzip <= 400_000)} |\n`;
  md += `| startup well under 1 s | ${R.startup.oidc.firstOkMs.toFixed(0)} ms from process start to first 200 (no-op worker: ${R.startup.noop.firstOkMs.toFixed(0)} ms) | ${verdict(R.startup.oidc.firstOkMs < 500)} |\n`;
  // Budget rounds (see main): each side's figures from the same round, medians over rounds.
  if (R.rounds?.length) {
    const med = (a) => {
      const b = [...a].sort((x, y) => x - y);
      const m = b.length >> 1;
      return b.length % 2 ? b[m] : (b[m - 1] + b[m]) / 2;
    };
    const probeOf = { dor: "do-read", dox: "do-write-existing", rs: "rs256", es: "es256" };
    const ownIn = (rd, k) => rd.probes[k].cpuPerOp - (rd.probes.noop.cpuPerOp + rd.probes["noop (again)"].cpuPerOp) / 2;
    const sumIn = (rd, k) => Object.entries(needs[k]).reduce((sum, [p, m]) => sum + m * ownIn(rd, probeOf[p]), 0);
    const eNet = (rd, k) => rd.edge[k].cpuPerOp - rd.noop.cpuPerOp * rd.edge[k].requestsPerOp;
    const fNet = (rd, k) => rd.floor[k].cpuPerOp - rd.floor.noop.cpuPerOp * rd.floor[k].requestsPerOp;
    const RD = R.rounds;
    const count = (xs, ok) => xs.filter(ok).length;
    md += `## Budget rounds: edge-oidc and the floor, alternating\n\n`;
    md += `The ratio budgets' requests once more, in ${RD.length} rounds: each round measures the no-op worker, the probes, edge-oidc's requests and the floor's (the two sides' order swapped every round, ${RD[0].edge.resume.ops} operations per batch), and each side's net from that round's own baseline. A slow minute of the host then lands on both sides of a round, not on one. Net figures and edge-oidc − floor are medians over the rounds; a ratio is a side's median net over the median of the rounds' sums of primitives (a small primitive measured in one round is too coarse to divide by); "rounds" counts the rounds whose own ratio meets 1.25. The verdict goes by the median.\n\n`;
    md += `![Budget rounds: net CPU per operation against its budgets](${path.basename(BUDGETS_SVG)})\n\n`;
    md += `| operation | primitives | edge-oidc net ms | floor net ms | edge-oidc − floor (rounds where edge-oidc is above) | edge-oidc ratio (rounds ≤ 1.25) | floor ratio (rounds ≤ 1.25) | verdict |\n|---|---|---|---|---|---|---|---|\n`;
    const labels = { resume: "authorization GET with a live session", tokenSealed: "token, RS256, returning user's code", userinfo: "userinfo", returning: "**returning-user flow**, RS256", consent: "consent POST", tokenEs: "token, ES256, returning user's code", returningEs: "**returning-user flow**, ES256" };
    for (const [k, label] of Object.entries(labels)) {
      const e = RD.map((rd) => eNet(rd, k));
      const f = RD.map((rd) => fNet(rd, k));
      const sum = med(RD.map((rd) => sumIn(rd, k)));
      const er = RD.map((rd) => eNet(rd, k) / sumIn(rd, k));
      const fr = RD.map((rd) => fNet(rd, k) / sumIn(rd, k));
      const d = RD.map((rd) => eNet(rd, k) - fNet(rd, k));
      const [eRatio, fRatio] = [med(e) / sum, med(f) / sum];
      const v = eRatio <= 1.25 ? "met" : fRatio > 1.25 ? "**missed** (the floor misses it too)" : "**missed**";
      chartRows.push({ label: label.replace(/\*/g, ""), sum, e, f, eMed: med(e), fMed: med(f), limit: { tokenSealed: 1.5, tokenEs: 1.5, returning: 3.0, returningEs: 3.0 }[k] });
      md += `| ${label} | ${needText(k).replace(/ \(from the isolate.*$/, "")}: ${f3(sum)} ms | ${f3(med(e))} | ${f3(med(f))} | ${f3(med(d))} (${count(d, (x) => x > 0)} of ${RD.length}) | ${f2(eRatio)}× (${count(er, (x) => x <= 1.25)}) | ${f2(fRatio)}× (${count(fr, (x) => x <= 1.25)}) | ${v} |\n`;
    }
    // The Rust floor (rounds from runs that had it).
    const RR = RD.filter((rd) => rd.floorRs?.userinfo);
    const rNet = (rd, k) => rd.floorRs[k].cpuPerOp - rd.floorRs.noop.cpuPerOp;
    const rustRows = RR.length ? Object.entries({ resume: labels.resume, userinfo: labels.userinfo }).map(([k, label]) => {
      const [e, f, rs] = [RR.map((rd) => eNet(rd, k)), RR.map((rd) => fNet(rd, k)), RR.map((rd) => rNet(rd, k))];
      const sum = med(RR.map((rd) => sumIn(rd, k)));
      const d = RR.map((rd) => eNet(rd, k) - rNet(rd, k));
      return `| ${label} | ${f3(sum)} | ${f3(med(e))} (${f2(med(e) / sum)}×) | ${f3(med(rs))} (${f2(med(rs) / sum)}×, ${count(rs, (x, i) => x <= 1.25 * sumIn(RR[i], k))} of ${RR.length}) | ${f3(med(f))} (${f2(med(f) / sum)}×) | ${f3(med(d))} (${count(d, (x) => x > 0)} of ${RR.length}) |\n`;
    }).join("") : "";
    for (const [k, label, limit] of [["tokenSealed", "token ≤ 1.5 ms net (RS256, returning user's code)", 1.5], ["tokenEs", "token ≤ 1.5 ms net (ES256)", 1.5], ["returning", "returning-user flow ≤ 3.0 ms net (RS256)", 3.0], ["returningEs", "returning-user flow ≤ 3.0 ms net (ES256)", 3.0]]) {
      const e = RD.map((rd) => eNet(rd, k));
      md += `| ${label} | | ${f3(med(e))} | | | | | ${verdict(med(e) <= limit)} (${count(e, (x) => x <= limit)} of ${RD.length} rounds) |\n`;
    }
    md += `\n`;
    if (rustRows) {
      md += `### The Rust floor: the floor's requests in Rust\n\n`;
      md += `[bench/floor-rs](floor-rs/src/lib.rs) does the JavaScript floor's authorization GET and userinfo — the same object calls, stored values, replies and response headers — in Rust, built as edge-oidc is (workers-rs entry point, objects called by JavaScript RPC through an entry module, the synchronous storage API, JSON text across the call, serde on both sides), in the same ${RR.length} rounds (its net: minus its own empty request). What it costs above the JavaScript floor is the Rust stack's (wasm-bindgen, workers-rs) and no provider's logic; what edge-oidc costs above it is edge-oidc's own work. Medians over the rounds; a ratio is over the median sum of primitives, with the rounds whose own ratio meets 1.25.\n\n`;
      md += `| operation | primitives ms (one object read) | edge-oidc net ms (ratio) | Rust floor net ms (ratio, rounds ≤ 1.25) | JavaScript floor net ms (ratio) | edge-oidc − Rust floor (rounds where edge-oidc is above) |\n|---|---|---|---|---|---|\n`;
      md += rustRows + `\n`;
    }
  }
  const svg = chartRows.length ? budgetChart(chartRows, `${commit}, ${R.finished?.slice(0, 10) ?? ""}, ${R.rounds.length} rounds`) : undefined;
  return { md, svg };
}

function writeReport(R) {
  const { md, svg } = report(R);
  fs.writeFileSync(RESULTS_MD, md);
  if (svg) fs.writeFileSync(BUDGETS_SVG, svg);
}

/**
 * The budget rounds as a horizontal bar chart (SVG, no dependencies): per operation, the median
 * sum of its primitives, the floor's and edge-oidc's median net CPU with the range over the
 * rounds, the ratio budget (1.25 × the primitives) and, where the issue sets one, the absolute
 * ceiling. `rows`: { label, sum, e, f (each side's net per round), eMed, fMed, limit }.
 */
function budgetChart(rows, caption) {
  const esc = (t) => String(t).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const W = 960, left = 300, right = 890, top = 92, rowH = 58, bar = 11;
  const H = top + rows.length * rowH + 40;
  const vmax = Math.max(...rows.flatMap((r) => [...r.e, ...r.f, 1.25 * r.sum, r.limit ?? 0]));
  const xmax = Math.ceil(vmax * 2) / 2;
  const x = (v) => left + (Math.max(0, v) / xmax) * (right - left);
  const colour = { prim: "#bdbdbd", floor: "#9ecae1", edge: "#08519c", budget: "#e6550d", limit: "#cb181d" };
  let out = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="13">\n`;
  out += `<rect width="${W}" height="${H}" fill="#fff"/>\n`;
  out += `<text x="16" y="24" font-size="16" font-weight="600">Budget rounds: net CPU per operation, ms (medians; whiskers: lowest to highest round)</text>\n`;
  out += `<text x="16" y="44" fill="#555">${esc(caption)}; workerd via miniflare on a shared 2-core machine</text>\n`;
  const legend = [["prim", "sum of its primitives"], ["floor", "JavaScript floor"], ["edge", "edge-oidc"]];
  legend.forEach(([k, t], i) => {
    out += `<rect x="${16 + i * 190}" y="58" width="14" height="11" fill="${colour[k]}"/><text x="${36 + i * 190}" y="68">${t}</text>\n`;
  });
  out += `<line x1="${16 + 3 * 190}" x2="${16 + 3 * 190}" y1="56" y2="71" stroke="${colour.budget}" stroke-width="2" stroke-dasharray="4 2"/><text x="${24 + 3 * 190}" y="68">1.25 × primitives</text>\n`;
  out += `<line x1="${16 + 4 * 190 - 20}" x2="${16 + 4 * 190 - 20}" y1="56" y2="71" stroke="${colour.limit}" stroke-width="2"/><text x="${24 + 4 * 190 - 20}" y="68">ceiling (1.5 / 3.0 ms)</text>\n`;
  for (let v = 0; v <= xmax + 1e-9; v += 0.5) {
    out += `<line x1="${x(v)}" x2="${x(v)}" y1="${top - 8}" y2="${H - 32}" stroke="#eee"/><text x="${x(v)}" y="${H - 16}" text-anchor="middle" fill="#555">${v.toFixed(1)}</text>\n`;
  }
  rows.forEach((r, i) => {
    const y0 = top + i * rowH;
    out += `<text x="${left - 10}" y="${y0 + 22}" text-anchor="end">${esc(r.label)}</text>\n`;
    const bars = [["prim", r.sum, null], ["floor", r.fMed, r.f], ["edge", r.eMed, r.e]];
    bars.forEach(([k, v, all], j) => {
      const y = y0 + j * (bar + 3);
      out += `<rect x="${left}" y="${y}" width="${Math.max(0, x(v) - left).toFixed(1)}" height="${bar}" fill="${colour[k]}"><title>${esc(`${legend[j][1]}: ${v.toFixed(3)} ms`)}</title></rect>\n`;
      if (all) {
        const [lo, hi] = [Math.min(...all), Math.max(...all)];
        const ym = y + bar / 2;
        out += `<path d="M${x(lo).toFixed(1)} ${ym}H${x(hi).toFixed(1)}M${x(lo).toFixed(1)} ${ym - 3}v6M${x(hi).toFixed(1)} ${ym - 3}v6" stroke="#333" fill="none"/>\n`;
      }
      // The figure right of its bar, its whisker and (primitives) the budget's line.
      out += `<text x="${(Math.max(x(v), all ? x(Math.max(...all)) : x(1.25 * r.sum)) + 6).toFixed(1)}" y="${y + bar - 1}" font-size="11" fill="#333">${v.toFixed(2)}</text>\n`;
    });
    const b = x(1.25 * r.sum);
    out += `<line x1="${b.toFixed(1)}" x2="${b.toFixed(1)}" y1="${y0 - 4}" y2="${y0 + 3 * (bar + 3) + 1}" stroke="${colour.budget}" stroke-width="2" stroke-dasharray="4 2"/>\n`;
    if (r.limit) out += `<line x1="${x(r.limit)}" x2="${x(r.limit)}" y1="${y0 - 4}" y2="${y0 + 3 * (bar + 3) + 1}" stroke="${colour.limit}" stroke-width="2"/>\n`;
  });
  return out + `</svg>\n`;
}

/** The checked-out commit, marked when the worker's sources differ from it. */
function currentCommit() {
  try {
    const h = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock", "static"], { cwd: ROOT, encoding: "utf8" }).trim();
    return dirty ? `${h} + uncommitted changes to src/Cargo/static` : h;
  } catch {
    return "unknown";
  }
}

main().catch(async (e) => {
  log(`failed: ${e.stack ?? e}`);
  await stopAll();
  process.exit(1);
});
