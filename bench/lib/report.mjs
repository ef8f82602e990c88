// The report: bench/RESULTS.md, bench/results.json and the budget chart.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { BUDGETS_SVG, CLK_TCK, RESULTS_MD, ROOT } from "./common.mjs";
import { median, peersReport } from "./report-peers.mjs";

// Report

export function report(R) {
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
    au: ["audit line", passes.every((pass) => pass.audit) ? P("audit") : NaN],
  };
  // What each operation inherently needs. Audit lines: one per event the request writes
  // (docs/events.md; a sign-in, a consent given, a code issued, a code redeemed). Records read on most requests come from the
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
    login: { kv: 1, dox: 5, pb: 1, dow: 1, au: 1 },
    login40k: { kv: 1, dox: 5, pb40: 1, dow: 1, au: 1 },
    // The passkey read in the account object, then one write there: the challenge answered,
    // the counter moved on and the session started (no grant reserved); the ES256 signature
    // check has no probe of its own (a verification costs about what a signature does).
    passkeyLogin: { dor: 1, dox: 1, es: 1, au: 1 },
    // Remember the consent in the account object, then issue the code in the grant object.
    consent: { dox: 2, au: 2 },
    consentAfterLogin: { dox: 2, au: 2 },
    // Redeem the code (from the consent page) in its grant object (read + write, one round
    // trip); sign the ID token.
    token: { dox: 1, rs: 1, au: 1 },
    // Check the access token in the grant object (read only).
    userinfo: { dor: 1 },
    flow: { kv: 1, dox: 8, pb: 1, dow: 1, rs: 1, dor: 1, au: 4 },
    // One account-object call checks the session and consent (read only: the grant is not
    // recorded there, and the client is on the session already); the code carries the grant,
    // sealed (protocol/sealed_code.rs): no grant object yet.
    resume: { dor: 1, au: 1 },
    // ... and its redemption stores the grant in the user's home object for this client, which
    // exists from earlier sign-ins (model::grant::homed_grant_id): a write to an existing object.
    returning: { dox: 1, rs: 1, dor: 2, au: 2 },
    tokenSealed: { dox: 1, rs: 1, au: 1 },
    tokenEs: { dox: 1, es: 1, au: 1 },
    returningEs: { dox: 1, es: 1, dor: 2, au: 2 },
  };
  if (Number.isNaN(prims.au[1])) for (const k of Object.keys(needs)) delete needs[k].au;
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
    ["passkeyLogin", "login POST with a passkey (ES256)"],
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
    md += `[bench/floor/index.js](floor/index.js) does the least each request of the returning-user flow, and the consent POST, needs on this runtime — parse it, its Durable Object calls by RPC (a read for authorization and userinfo, a read and a write for token; for the consent POST two in sequence, each a read and a write: the account remembers the consent and the grant under it, then the grant object reserved beforehand stores the code), one RS256 signature at the token endpoint (ES256 for the client registered for it), the audit lines edge-oidc writes for the request (one \`console.log\` per event: a code issued, a consent given, a code redeemed), build the response — with nothing of a provider's own work (no records, PKCE, sealing or hashing). Its authorization request reads the user's account object and writes nothing, as edge-oidc's does for a client already noted on the session. Net here = its CPU per operation − its own empty request's (${f3(F.noop.cpuPerOp)} ms) × requests. Concurrency 1, measured in this run after the endpoints above.\n\n`;
    md += `| operation | floor, net CPU ms | edge-oidc, net CPU ms | edge-oidc − floor |\n|---|---|---|---|\n`;
    for (const [k, t] of [["rs256", "primitive: one RS256 signature (edge-oidc: its probe's own cost)"], ["do-write-existing", "primitive: one write to an existing object (same)"], ["audit", "primitive: one audit line (same)"]]) {
      if (!F[k]) continue;
      md += `| ${t} | ${f3(fnet(F[k]))} | ${f3(P(k))} | ${f3(P(k) - fnet(F[k]))} |\n`;
    }
    for (const [k, t] of [["resume", "authorization GET with a live session"], ["tokenSealed", "token, RS256, returning user's code (both: redeemed in the user's existing home object)"], ["token", "token, RS256, the same code again (floor) / code from the consent page (edge-oidc): an existing object"], ["userinfo", "userinfo"], ["returning", "**returning-user flow**, RS256 (3 requests)"], ["tokenEs", "token, ES256, returning user's code"], ["returningEs", "**returning-user flow**, ES256 (3 requests)"], ["consent", "consent POST (two object calls in sequence)"], ["consentAfterLogin", "consent POST, forms made seconds before (edge-oidc: by its login batch; the floor: at that pace)"]]) {
      if (!F[k]) continue;
      const e = E[`${k}@1`];
      md += `| ${t} | ${f3(fnet(F[k]))} | ${e ? f3(net(e)) : "–"} | ${e ? f3(net(e) - fnet(F[k])) : "–"} |\n`;
    }
    md += `\n`;
  }

  md += peersReport(R, E, net);

  const S = R.sizes;
  md += `## Size and startup\n\n| build | wasm raw | wasm gzip -9 | JS raw (index.js, wasm.mjs) | wasm + JS gzip |\n|---|---|---|---|---|\n`;
  for (const [k, t] of [["release", "edge-oidc release (what is deployed)"], ["bench", "edge-oidc with the bench feature"], ["noop", "no-op worker"]]) {
    md += `| ${t} | ${kb(S[k].wasmRaw)} | ${kb(S[k].wasmGzip)} | ${kb(S[k].jsRaw)} | ${kb(S[k].bundleGzip)} |\n`;
  }
  md += `\n| worker | \`new Miniflare\` → ready | → first 200 | first request | later requests (mean of 20) | workerd CPU until first 200 |\n|---|---|---|---|---|---|\n`;
  for (const [k, t] of [["noop", "no-op worker (GET /)"], ["oidc", "edge-oidc (GET discovery)"], ["nodeOidc", "node-oidc-provider (GET discovery; node, not workerd)"], ["workersOauth", "workers-oauth-provider (GET its metadata)"]]) {
    const s = R.startup[k];
    if (!s) continue;
    md += `| ${t} | ${s.readyMs.toFixed(0)} ms | ${s.firstOkMs.toFixed(0)} ms | ${f2(s.firstRequestMs)} ms | ${f2(s.warmRequestMs)} ms | ${s.cpuToFirstOkMs.toFixed(0)} ms |\n`;
  }
  md += `\n"Ready" includes spawning workerd and compiling the worker; the first request also builds the per-isolate state (configuration, discovery and JWKS bytes).\n\n`;

  // The budgets (bench/README.md, "Budgets").
  const tok = net(E["token@1"]);
  const flowNet = net(E["flow@1"]);
  const verdict = (ok) => (ok ? "met" : "**missed**");
  const ratioOf = (k) => net(E[`${k}@1`]) / needSum(k);
  const floorRatio = (k) => {
    const F = R.floor?.[k];
    return F && needSum(k) > 0 ? fnet(F) / needSum(k) : null;
  };
  md += `## Earlier budgets: ceilings and ratios to the primitives (for reference)\n\nThe budgets of the earlier performance issue, kept for comparison with past runs; the budgets that hold now are in "Budgets, decided inside the run" above. A ratio budget's row also gives the floor's (above) where it does the same request: its net over the same sum of primitives.${R.rounds?.length ? " These come from the single batches above, each measured once and not paired with the floor's (the host's drift between them is not cancelled): for the ratio budgets, the section \"Budget rounds\" below gives the verdicts that hold." : ""}\n\n| budget | measured | verdict |\n|---|---|---|\n`;
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
    const med = median;
    const probeOf = { dor: "do-read", dox: "do-write-existing", rs: "rs256", es: "es256", au: "audit" };
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

export function writeReport(R) {
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
export function budgetChart(rows, caption) {
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
export function currentCommit() {
  try {
    const h = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock", "static"], { cwd: ROOT, encoding: "utf8" }).trim();
    return dirty ? `${h} + uncommitted changes to src/Cargo/static` : h;
  } catch {
    return "unknown";
  }
}
