// The peers in the run: node-oidc-provider and workers-oauth-provider (bench/lib/peers.mjs)
// beside edge-oidc and the floor, the same operations with the same load generator; their side
// of the budget rounds; and edge-oidc's Durable Object round trips per request (counted by the
// bench build, `platform::objects::count`).

import { QUICK, log, n } from "./common.mjs";
import { expect } from "./measure.mjs";
import { peerSteps, startNodeOidc, startWorkersOAuth } from "./peers.mjs";
import { batch } from "./servers.mjs";

/** Starts both peers, each with its users signed in once (consent given): `users` many for
 * workers-oauth-provider, which revokes a user's earlier grant at every authorization (so a
 * batch of codes needs a user per code). */
export async function startPeers(SIGNING_KEYS, servers, users) {
  const out = {};
  for (const [key, startPeer, count] of [["nodeOidc", () => startNodeOidc(SIGNING_KEYS), 16], ["workersOauth", startWorkersOAuth, users]]) {
    const server = await startPeer();
    servers.push(server);
    const steps = peerSteps(server);
    await steps.setup(Array.from({ length: count }, (_, i) => `bench${i}`));
    out[key] = { server, steps };
  }
  log(`peers ready: ${Object.values(out).map((p) => p.server.name).join(", ")}`);
  return out;
}

/** The table's operations on one peer at concurrency `c`: discovery, authorization with a
 * session, token (on those codes), userinfo (on those tokens), the returning-user flow. */
export async function peerBatches({ server, steps }, c) {
  const out = {};
  const N = n(300);
  const got = (a) => a.filter(Boolean);
  out.noop = await batch(server, `${server.name} empty request`, { count: n(2000), concurrency: c, warmup: 20, op: async () => expect(await server.req("GET", "/noop"), 200, `${server.name} noop`) });
  out.discovery = await batch(server, `${server.name} discovery`, { count: n(1000), concurrency: c, warmup: 20, op: () => steps.discovery() });
  const codes = new Array(N);
  out.resume = await batch(server, `${server.name} authorization GET (session)`, { count: N, concurrency: c, warmup: 5, op: async (i) => { const code = await steps.resume(i); if (i >= 0) codes[i] = code; } });
  const tokens = new Array(N);
  const k = got(codes);
  out.token = await batch(server, `${server.name} token`, { count: k.length, concurrency: c, op: async (i) => { tokens[i] = await steps.token(k[i]); } });
  const t = got(tokens);
  out.userinfo = await batch(server, `${server.name} userinfo`, { count: n(1000), concurrency: c, warmup: 5, op: (i) => steps.userinfo(t[Math.abs(i) % t.length]) });
  out.returning = await batch(server, `${server.name} returning-user flow`, { count: N, concurrency: c, requestsPerOp: 3, warmup: 3, op: (i) => flow(steps, i) });
  return out;
}

const flow = async (steps, i) => steps.userinfo(await steps.token(await steps.resume(i)));

/** A budget round's side for a peer: its empty request and its returning-user flow, `M`
 * operations, concurrency 1. */
export function peerRoundSide({ server, steps }, round, key, tag, M) {
  return async () => {
    const noop = await batch(server, tag(`${server.name} empty request`), { count: n(2000), warmup: 20, op: async () => expect(await server.req("GET", "/noop"), 200, `${server.name} noop`) });
    round[key] = { noop, returning: await batch(server, tag(`${server.name} returning-user flow`), { count: M, requestsPerOp: 3, warmup: 2, op: (i) => flow(steps, i) }) };
  };
}

/**
 * edge-oidc's Durable Object calls per request, and how many of them are sequential round
 * trips (calls made together count once), from the bench build's response headers, at
 * concurrency 1: `ops` maps a name to a function that makes that request with `req` and
 * returns its response. A few requests each; the largest count is kept (a write that was
 * already noted on the session, a throttle check from the isolate's cache, can make one less).
 */
export async function roundTrips(ops) {
  const out = {};
  for (const [name, make] of Object.entries(ops)) {
    let calls = 0, trips = 0;
    for (let i = 0; i < (QUICK ? 2 : 5); i++) {
      const res = await make(i);
      const c = Number(res.headers["x-bench-do-calls"]);
      const t = Number(res.headers["x-bench-do-round-trips"]);
      if (!Number.isFinite(c) || !Number.isFinite(t)) throw new Error(`${name}: no Durable Object counts in the response (not the bench build?)`);
      calls = Math.max(calls, c);
      trips = Math.max(trips, t);
    }
    out[name] = { calls, trips };
    log(`${name}: ${calls} Durable Object call(s), ${trips} sequential round trip(s)`);
  }
  return out;
}

/** A client that remembers the last response of `req` (for the counts of a step that returns
 * only what it made). */
export function recording(req) {
  const rec = { last: null };
  rec.req = async (...a) => (rec.last = await req(...a));
  return rec;
}
