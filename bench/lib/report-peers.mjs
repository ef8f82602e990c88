// The report's sections on the peers: one table of every server's operations, the budgets
// decided inside the run (as ratios, with the rounds' spread), the Durable Object round trips
// per request, and which sign-in fits the free plan's 10 ms.

const f2 = (x) => (x === undefined || Number.isNaN(x) ? "–" : x.toFixed(2));
const f3 = (x) => (x === undefined || Number.isNaN(x) ? "–" : x.toFixed(3));
export const median = (a) => {
  const b = [...a].sort((x, y) => x - y);
  const m = b.length >> 1;
  return b.length % 2 ? b[m] : (b[m - 1] + b[m]) / 2;
};

/**
 * A budget's verdict from its per-round ratios `q` (measured ÷ allowed; ≤ 1 meets it): the
 * median, and the spread, half the range of the rounds once the highest and the lowest are
 * left out (from 5 rounds on; one disturbed round does not decide). Decided only where the
 * median's distance from 1 is larger than the spread; otherwise "undecided", and instruction
 * counts (BENCH_CALLGRIND) decide between two builds.
 */
export function verdictOf(q) {
  const s = [...q].sort((x, y) => x - y);
  const kept = s.length >= 5 ? s.slice(1, -1) : s;
  const spread = (kept[kept.length - 1] - kept[0]) / 2;
  const m = median(q);
  const word = Math.abs(m - 1) <= spread ? "undecided" : m <= 1 ? "met" : "**missed**";
  return { median: m, spread, word, text: `${f2(m)} ± ${f2(spread)} (${q.map(f2).join(", ")})` };
}

const SERVERS = [
  ["edge", "edge-oidc"],
  ["floor", "JavaScript floor"],
  ["nodeOidc", "node-oidc-provider"],
  ["workersOauth", "workers-oauth-provider"],
];
const OPS = [
  ["discovery", "discovery"],
  ["resume", "authorization GET with a session (code, no page)"],
  ["token", "token (a returning user's code)"],
  ["userinfo", "userinfo / the protected call"],
  ["returning", "**returning-user flow** (3 requests)"],
  ["returningEs", "**returning-user flow, client registered for ES256** (3 requests)"],
];

/** The markdown of the peer sections; `E`: edge-oidc's endpoint batches, `net`: its net. */
export function peersReport(R, E, net) {
  if (!R.peers) return "";
  let md = "";
  // Each server's batch of an operation at concurrency c (edge-oidc's and the floor's from
  // their own sections of the run; the floor runs at concurrency 1 only and has no discovery).
  const edgeKey = { discovery: "discovery", resume: "resume", token: "tokenSealed", userinfo: "userinfo", returning: "returning", returningEs: "returningEs" };
  const of = (srv, op, c) => {
    if (srv === "edge") return E[`${edgeKey[op]}@${c}`];
    if (srv === "floor") return c === 1 ? R.floor?.[{ token: "tokenSealed" }[op] ?? op] : undefined;
    return R.peers[srv]?.[c]?.[op];
  };
  // Net: minus the same server's empty request × requests, at the same concurrency (edge-oidc:
  // the no-op worker's, as everywhere in this report).
  const empty = (srv, c) => (srv === "edge" ? undefined : srv === "floor" ? R.floor?.noop : R.peers[srv]?.[c]?.noop);
  const netOf = (srv, c, r) => (srv === "edge" ? net(r) : r.cpuPerOp - empty(srv, c).cpuPerOp * r.requestsPerOp);
  const trips = R.roundTrips ?? {};
  const tripText = (k) => (trips[k] ? `${trips[k].trips}${trips[k].calls !== trips[k].trips ? ` (${trips[k].calls} calls)` : ""}` : "–");
  md += `## Against the peers\n\nThe same operations with the same load generator, in this run: edge-oidc; the JavaScript floor (above); [node-oidc-provider](https://github.com/panva/node-oidc-provider) 9.13.3 on Node (its in-memory adapter, RS256 ID tokens; [bench/peers/node-oidc.mjs](peers/node-oidc.mjs)), what an operator would run on a server instead; [@cloudflare/workers-oauth-provider](https://github.com/cloudflare/workers-oauth-provider) 1.2.3 in workerd through miniflare with its own KV storage ([bench/peers/workers-oauth/worker.js](peers/workers-oauth/worker.js)), what a Workers user would pick instead — it issues no ID token and signs nothing: its token is a random string, hashed, its grant encrypted (AES-GCM, keys wrapped per token), all kept in KV. CPU is each server's process (workerd; node for node-oidc-provider), **net**: what the process did per operation minus what it does for an empty request on the same server, × requests (edge-oidc: the no-op worker; the floor, node-oidc-provider and workers-oauth-provider: a \`/noop\` answered before any provider code), so that the runtimes' own per-request work (miniflare's entry worker in workerd, Node's HTTP server) is left out alike; gross beside it. edge-oidc uses the RS256 client (node-oidc-provider signs RS256 too), and for its last row the client registered for ES256, to set beside workers-oauth-provider, which signs nothing. "DO trips": edge-oidc's sequential Durable Object round trips per request (bench build's counts; calls made together count once).\n\n`;
  md += `| operation | server | CPU net (gross) ms/op, c=1 | ops/s (c=1) | p50 / p99 ms (c=1) | CPU net (gross) ms/op, c=8 | ops/s (c=8) | p50 / p99 ms (c=8) | DO trips |\n|---|---|---|---|---|---|---|---|---|\n`;
  for (const [op, label] of OPS) {
    for (const [srv, name] of SERVERS) {
      const [a, b] = [of(srv, op, 1), of(srv, op, 8)];
      if (!a && !b) continue;
      const cols = (r, c) => (r ? [`${f3(netOf(srv, c, r))} (${f3(r.cpuPerOp)})`, r.perSecond.toFixed(0), `${f2(r.p50)} / ${f2(r.p99)}`] : ["–", "–", "–"]);
      const dt = srv === "edge" ? (op.startsWith("returning") ? ["resume", op === "returning" ? "tokenSealed" : "tokenEs", "userinfo"].map(tripText).join(" + ") : tripText(edgeKey[op])) : "";
      md += `| ${label} | ${name} | ${cols(a, 1).join(" | ")} | ${cols(b, 8).join(" | ")} | ${dt} |\n`;
    }
  }
  const emptyText = (srv, name) => [1, 8].map((c) => (srv === "edge" ? R.baseline?.start?.[c] : empty(srv, c))).every(Boolean)
    ? `${name} ${[1, 8].map((c) => f3(srv === "edge" ? (R.baseline.start[c].cpuPerOp + R.baseline.end[c].cpuPerOp) / 2 : empty(srv, c).cpuPerOp)).join(" / ")}`
    : srv === "floor" && R.floor?.noop ? `${name} ${f3(R.floor.noop.cpuPerOp)} (c=1)` : null;
  md += `\nThe empty request, ms of CPU at c=1 / c=8: ${SERVERS.map(([srv, name]) => emptyText(srv, name)).filter(Boolean).join("; ")}.\n`;
  md += `\nPer request, what each does besides parsing and answering: edge-oidc as in "Endpoints" above; node-oidc-provider reads and writes its in-process store (authorization: session, grant, a code written, the session written again; token: code, session and grant read, code consumed, access token written, one RS256 signature; userinfo: three reads), HMAC-signed cookies; workers-oauth-provider: authorization: two KV reads of the client, a KV list of the user's grants, a grant written, the user's earlier grant and its tokens deleted (its default), AES-GCM and key wrapping; token: two KV reads, five SHA-256, key unwrap and wraps, two KV writes (and a refresh token); the protected call: SHA-256, one KV read, an unwrap and a decryption. Its KV is miniflare's local simulation inside the same workerd process, so its storage work is counted (as edge-oidc's objects' is).\n\n`;

  // Budgets decided inside the run.
  const RD = (R.rounds ?? []).filter((rd) => rd.nodeOidc && rd.workersOauth);
  if (RD.length) {
    const eNet = (rd, k) => rd.edge[k].cpuPerOp - rd.noop.cpuPerOp * rd.edge[k].requestsPerOp;
    const fNet = (rd, k) => rd.floor[k].cpuPerOp - rd.floor.noop.cpuPerOp * rd.floor[k].requestsPerOp;
    md += `## Budgets, decided inside the run\n\nFrom the ${RD.length} budget rounds (each round measures every side, the order rotating; ${RD[0].edge.returning.ops} operations per batch, concurrency 1). Per round, the ratio measured ÷ allowed (≤ 1 meets the budget); the verdict goes by the median of the rounds, and is **undecided** where the median's distance from 1 is within the spread (half the range of the rounds, the highest and lowest left out): then the run cannot tell, and instruction counts between two builds decide (bench/README.md, "BENCH_CALLGRIND"). Every side is net (minus its own empty request, measured in the same round).\n\n`;
    md += `| budget | edge-oidc (median) | the other (median) | ratio to the budget: median ± spread (rounds) | verdict |\n|---|---|---|---|---|\n`;
    const row = (label, e, o, allowed) => {
      const v = verdictOf(e.map((x, i) => x / (allowed * o[i])));
      md += `| ${label} | ${f3(median(e))} ms | ${f3(median(o))} ms | ${v.text} | ${v.word} |\n`;
      return v;
    };
    const labels = { resume: "authorization GET with a session", tokenSealed: "token, RS256 (returning user's code)", userinfo: "userinfo", returning: "returning-user flow, RS256", consent: "consent POST", tokenEs: "token, ES256", returningEs: "returning-user flow, ES256" };
    const verdicts = {};
    for (const [k, label] of Object.entries(labels)) {
      verdicts[k] = row(`${label} ≤ 1.2 × the floor (net)`, RD.map((rd) => eNet(rd, k)), RD.map((rd) => fNet(rd, k)), 1.2);
    }
    const pNet = (rd, side) => rd[side].returning.cpuPerOp - (rd[side].noop?.cpuPerOp ?? 0) * rd[side].returning.requestsPerOp;
    verdicts.vsWorkers = row("returning-user flow, ES256 client ≤ workers-oauth-provider's authorization + token + protected call (net)", RD.map((rd) => eNet(rd, "returningEs")), RD.map((rd) => pNet(rd, "workersOauth")), 1);
    verdicts.vsNode = row("returning-user flow, RS256 client ≤ node-oidc-provider's (net)", RD.map((rd) => eNet(rd, "returning")), RD.map((rd) => pNet(rd, "nodeOidc")), 1);
    // The passkey sign-in POST, from its pairs of batches (edge-oidc's, then the floor's).
    const PK = R.passkeyPairs ?? [];
    if (PK.length && R.floor?.noop) {
      const fn = (r) => r.cpuPerOp - R.floor.noop.cpuPerOp * r.requestsPerOp;
      verdicts.passkey = row(`passkey sign-in POST ≤ 1.2 × the floor (net; ${PK.length} pair(s) of batches in a row, not rounds)`, PK.map((p) => net(p.edge)), PK.map((p) => fn(p.floor)), 1.2);
    }
    md += `\nWhat the flows do: edge-oidc's returning-user flow signs an ID token (RS256 or ES256), checks PKCE, the client secret and the session, stores the grant in a Durable Object and checks the access token at userinfo — one object round trip per request, one signature; workers-oauth-provider's does no signature (opaque tokens, no ID token) but six KV operations or more and AES key wrapping; node-oidc-provider's one RS256 signature and its in-process store.\n\n`;
  }

  // Sign-in within the free plan.
  const pw = E["login@1"], pw40 = E["login40k@1"], pk = E["passkeyLogin@1"];
  if (pw) {
    md += `## Sign-in within the free plan (10 ms CPU per request)\n\n| sign-in POST | CPU net ms | fits 10 ms |\n|---|---|---|\n`;
    md += `| password, PBKDF2 100,000 iterations (the default) | ${f3(net(pw))} | ${net(pw) <= 10 ? "yes" : "**no**"} |\n`;
    if (pw40) md += `| password, PBKDF2 40,000 iterations | ${f3(net(pw40))} | ${net(pw40) <= 10 ? "yes" : "**no**"} |\n`;
    // The passkey's budget (≤ 1 ms net) from its pairs' batches, with their spread.
    const epk = (R.passkeyPairs ?? []).map((p) => net(p.edge));
    const pv = epk.length ? verdictOf(epk) : null;
    if (pk) md += `| passkey (ES256) — budget ≤ 1 ms | ${pv ? `${f3(pv.median)} (batches: ${epk.map(f3).join(", ")})` : f3(net(pk))} | ${net(pk) <= 10 ? "yes" : "**no**"}; ≤ 1 ms: ${pv ? pv.word : net(pk) <= 1 ? "met" : "**missed**"} |\n`;
    const fpk = (R.passkeyPairs ?? []).map((p) => p.floor.cpuPerOp - (R.floor?.noop?.cpuPerOp ?? 0));
    if (fpk.length && R.floor?.noop) md += `| the floor's passkey sign-in (the key read, one verification, one write, its audit line, a small page) | ${f3(median(fpk))} | ${median(fpk) <= 10 ? "yes" : "**no**"}; ≤ 1 ms: ${median(fpk) <= 1 ? "met" : "**missed**"} |\n`;
    md += `\n`;
  }
  if (Object.keys(trips).length) {
    md += `## Durable Object round trips per request (edge-oidc)\n\nCounted by the bench build (\`platform::objects::count\`), the largest of a few requests at concurrency 1; calls made together (\`join\`) are one round trip. What a user far from their objects waits for: docs/latency.md.\n\n| request | sequential round trips | calls |\n|---|---|---|\n`;
    for (const [k, t] of Object.entries(trips)) md += `| ${k} | ${t.trips} | ${t.calls} |\n`;
    md += `\n`;
  }
  return md;
}
