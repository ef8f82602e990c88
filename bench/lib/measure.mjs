// The workerd processes and their CPU time (/proc, sched or callgrind), and the HTTP client.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { CLK_TCK, ROOT } from "./common.mjs";

// The workerd process and its CPU time

/** Every descendant process of this node process: [{pid, comm}]. */
export function descendants() {
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
export function threadCpuMs(pid) {
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
export function schedMs(pid) {
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
export const SCHED_CLOCK = (() => {
  try {
    return schedMs(process.pid) !== null;
  } catch {
    return false;
  }
})();

/** CPU time (user + system, all threads) of a process so far, in milliseconds: exact where
 * the scheduler exposes it, else in clock ticks (10 ms at 100 ticks/s). */
export function cpuMs(pid) {
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
export function callgrindWrapper() {
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

/** BENCH_CALLGRIND: the command that runs `argv` (a program and its arguments) under
 * callgrind as the wrapper above does (node-oidc-provider's node process). */
export function underCallgrind(argv) {
  const dir = path.join(ROOT, ".bench/callgrind");
  fs.mkdirSync(dir, { recursive: true });
  return ["valgrind", ["--tool=callgrind", `--callgrind-out-file=${dir}/cg.%p`, "--smc-check=all-non-file", "--dump-line=no", "--compress-strings=no", ...argv]];
}

/** BENCH_CALLGRIND: the instructions the process `pid` executed since the last call, in
 * millions (callgrind_control -d dumps the counters and zeroes them). */
export function instructionsM(pid) {
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

// HTTP client: node's http with keep-alive (cheaper and steadier than fetch)

export let retries = 0;
export function client(base, sockets = 8) {
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

export function expect(res, status, what) {
  if (res.status !== status) {
    throw new Error(`${what}: expected HTTP ${status}, got ${res.status}: ${res.body.slice(0, 300)}`);
  }
  return res;
}
