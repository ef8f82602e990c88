// The settings every part of the benchmark reads (environment, paths, batch sizes), the
// operator tool that seeds records, and the workers and scratch directories to stop at the end.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const OUT = path.resolve(ROOT, process.env.BENCH_OUT ?? ".bench/out");
export const QUICK = process.argv.includes("--quick");
export const SCALE = Number(process.env.BENCH_SCALE ?? (QUICK ? 0.1 : 1));
export const MAX_SECONDS = Number(process.env.BENCH_MAX_SECONDS ?? 30);
export const RESULTS_MD = path.resolve(ROOT, process.env.BENCH_RESULTS ?? "bench/RESULTS.md");
// The budget rounds as a picture, beside RESULTS.md (bench/budgets.svg).
export const BUDGETS_SVG = /\/RESULTS\.md$/.test(RESULTS_MD) ? path.join(path.dirname(RESULTS_MD), "budgets.svg") : RESULTS_MD.replace(/\.md$/, "") + "-budgets.svg";
export const RESULTS_JSON = RESULTS_MD.replace(/\.md$/, ".json").replace(/RESULTS\.json$/, "results.json");
export const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());
export const ADMIN = path.join(ROOT, "target/debug/oidc-admin");
export const PROFILE = process.env.BENCH_PROFILE;
export const COMPARE = process.env.BENCH_COMPARE;
// BENCH_CALLGRIND (see above): ~50 times slower, but counts the same work the same way on a
// machine whose CPU clock drifts.
export const CALLGRIND = Boolean(process.env.BENCH_CALLGRIND);
// Durable Object storage: "memory" (default) keeps each object's SQLite database in memory;
// "disk" is miniflare's default, a SQLite file per object in a temporary directory. The files
// are the simulator's persistence, not part of what a Worker is billed for (in production the
// storage layer runs outside the isolate), and they cost several times the storage work itself
// (bench/README.md); BENCH_DO_STORAGE=disk measures with them.
export const DO_STORAGE = process.env.BENCH_DO_STORAGE ?? "memory";
if (!["memory", "disk", "tmpfs"].includes(DO_STORAGE)) throw new Error("BENCH_DO_STORAGE must be memory, tmpfs or disk");

export const n = (count) => Math.max(QUICK ? 5 : 20, Math.round(count * SCALE));
export const log = (...a) => console.error("bench:", ...a);
export const now = () => performance.now();
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Seeding: records exactly as the operator tool writes them

export function admin(args, input) {
  return execFileSync(ADMIN, args, { input, encoding: "utf8", stdio: ["pipe", "pipe", "inherit"] });
}

export function records(args, input) {
  const out = JSON.parse(admin(["--print", ...args], input));
  return out;
}

/** A temporary directory in memory (/dev/shm) where there is one, removed by stopAll. */
export const scratchDirs = [];
export function scratch(prefix) {
  const dir = fs.mkdtempSync(path.join(fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}

export const servers = [];
export async function stopAll() {
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
