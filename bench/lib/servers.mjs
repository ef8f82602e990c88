// Starting the workers (miniflare, one workerd each) and running a bounded batch of requests.

import { Miniflare } from "miniflare";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { CALLGRIND, CLK_TCK, DO_STORAGE, MAX_SECONDS, OUT, PROFILE, ROOT, log, n, now, scratch, sleep } from "./common.mjs";
import { callgrindWrapper, client, cpuMs, descendants, expect, instructionsM, threadCpuMs } from "./measure.mjs";
import { REDIRECT_URI, USERS } from "./flows.mjs";

// Servers

export const compatibilityDate = fs
  .readFileSync(path.join(ROOT, "wrangler.toml"), "utf8")
  .match(/^compatibility_date\s*=\s*"([^"]+)"/m)[1];

/** Starts a worker in its own workerd process; measures the time to the first 200. */
export async function start(name, dir, extra, probePath) {
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

// Batches

export const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

/**
 * Runs `op(i)` for i = 0..count-1 with `concurrency` lanes, stopping early after
 * BENCH_MAX_SECONDS, and measures the workerd process's CPU over the whole batch.
 */
export async function batch(server, label, { count, concurrency = 1, requestsPerOp = 1, warmup = 0, op, warmupOp }) {
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

// Sizes

export function sizes(dir) {
  const wasmFile = fs.readdirSync(dir).find((f) => f.endsWith(".wasm"));
  const wasm = fs.readFileSync(path.join(dir, wasmFile));
  // The JavaScript: index.js, and for edge-oidc the module it wraps (wasm.mjs, scripts/entry.sh).
  const js = Buffer.concat(["index.js", "wasm.mjs"].filter((f) => fs.existsSync(path.join(dir, f))).map((f) => fs.readFileSync(path.join(dir, f))));
  const gz = (b) => zlib.gzipSync(b, { level: 9 }).length;
  return { wasmRaw: wasm.length, wasmGzip: gz(wasm), jsRaw: js.length, bundleGzip: gz(wasm) + gz(js) };
}

// Main

/** Starts edge-oidc from `dir` (built with the bench feature) with the bench's bindings. */
/** The plain-JavaScript floor worker (bench/floor), with the RS256 and ES256 signing keys of the run. */
export async function startFloor(SIGNING_KEYS) {
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
export const floorUser = (i) => `bench${Math.abs(i) % USERS.length}`;

/** A floor's (bench/floor, bench/floor-rs) authorization GET with the session of operation
 * `i`'s user: the code of its 303. */
export async function floorAuthorize(server, i) {
  const res = expect(await server.req("GET", `/authorize?state=s${i}&redirect_uri=${encodeURIComponent(REDIRECT_URI)}`, { headers: { cookie: `s=${floorUser(i)}` } }), 303, `${server.name} authorize`);
  // Read from the Location as it is (the Rust floor puts the redirect_uri in it undecoded).
  const code = /[?&]code=([^&]*)/.exec(res.headers.location)?.[1];
  return code === undefined ? null : decodeURIComponent(code);
}

/** The Rust floor (bench/floor-rs): the floor's authorization GET and userinfo in Rust, built
 * as edge-oidc is; its objects are bound as the JavaScript floor's. */
export async function startFloorRs() {
  return start("floor-rs", path.join(OUT, "floor-rs"), {
    durableObjects: { GRANT: { className: "Grant", useSQLite: true }, ACCOUNT: { className: "Account", useSQLite: true } },
    ...(DO_STORAGE === "memory" ? { unsafeEphemeralDurableObjects: true } : {}),
    ...(DO_STORAGE === "tmpfs" ? { durableObjectsPersist: scratch("bench-do-floor-rs-") } : {}),
  }, "/noop");
}

export async function startOidc(name, dir, SIGNING_KEYS, SESSION_KEY) {
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
