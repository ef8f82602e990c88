// BENCH_PROFILE: a V8 CPU profile of the worker's isolate during one batch.

import fs from "node:fs";
import path from "node:path";
import { ROOT, n, sleep } from "./common.mjs";
import { expect } from "./measure.mjs";
import { batch } from "./servers.mjs";
import { USERS, userFor } from "./flows.mjs";
import { Authenticator, passkeyLogin, registerPasskey } from "./passkeys.mjs";

// Profile (BENCH_PROFILE=<op>): where the worker's isolate spends its time during one batch

export async function cdp(mf, target) {
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

export async function profile(oidc, steps, spec) {
  const N = n(300);
  // `<op>-<k>ms`: the operation followed by k ms of nothing (the idle work after a request).
  const [, what, pauseMs] = /^(.*?)(?:-(\d+)ms)?$/.exec(spec);
  // Prepare the inputs of the profiled step (unprofiled).
  const inputs = [];
  // `resume` and `returning` need a live session per bench user, consent remembered.
  const sessions = [];
  if (what === "resume" || what === "returning" || what === "tokenSealed" || what === "passkeyLogin") {
    for (let u = 0; u < USERS.length; u++) {
      const s = await steps.login(await steps.authorize(u), USERS[u]);
      await steps.consent(s);
      sessions.push(s.session);
    }
  }
  const sessionOf = (i) => sessions[i % sessions.length];
  // `passkeyLogin`: each bench user registers a passkey; the inputs are sign-in pages.
  const auths = [];
  if (what === "passkeyLogin") {
    for (const s of sessions) {
      auths.push(new Authenticator("http://127.0.0.1:8787"));
      await registerPasskey(oidc.req, s, auths[auths.length - 1]);
    }
  }
  for (let i = 0; i < N; i++) {
    if (what === "passkeyLogin") { inputs.push(await steps.authorize(i)); continue; }
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
    passkeyLogin: (x, i) => passkeyLogin(oidc.req, x, auths[i % auths.length]),
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
