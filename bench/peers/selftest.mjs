// Checks the peers (bench/lib/peers.mjs) end to end, small: `node bench/peers/selftest.mjs`.
// A throwaway JWKS (RSA 2048 + EC P-256), both peers started, every bench user signed in once,
// then on each peer a few returning-user flows (authorization GET with the session → token →
// userinfo) and discoveries at concurrency 1 and 8, with CPU/op, p50/p99 and throughput
// (servers.mjs's batch()). Exits non-zero on any failure. Not a measurement: too few operations.

import crypto from "node:crypto";
import { log, servers, stopAll } from "../lib/common.mjs";
import { peerSteps, startNodeOidc, startWorkersOAuth } from "../lib/peers.mjs";
import { batch } from "../lib/servers.mjs";

const COUNT = Number(process.env.PEERS_SELFTEST_COUNT ?? 20);

function throwawayKeys() {
  const jwk = (type, options, extra) => ({ ...crypto.generateKeyPairSync(type, options).privateKey.export({ format: "jwk" }), ...extra });
  return JSON.stringify({
    keys: [
      jwk("rsa", { modulusLength: 2048 }, { kid: "selftest-rs256", alg: "RS256", use: "sig" }),
      jwk("ec", { namedCurve: "P-256" }, { kid: "selftest-es256", alg: "ES256", use: "sig" }),
    ],
  });
}

async function check(server) {
  const steps = peerSteps(server);
  await steps.setup();
  const flow = async (i) => {
    const claims = await steps.userinfo(await steps.token(await steps.resume(i)));
    if (claims.sub !== steps.userOf(i)) throw new Error(`${server.name}: userinfo sub ${claims.sub}, expected ${steps.userOf(i)}`);
  };
  for (const concurrency of [1, 8]) {
    await batch(server, `${server.name} returning flow`, { count: COUNT, concurrency, requestsPerOp: 3, warmup: 2, op: flow });
    await batch(server, `${server.name} discovery`, { count: COUNT, concurrency, op: () => steps.discovery() });
  }
}

try {
  const SIGNING_KEYS = throwawayKeys();
  for (const startPeer of [() => startNodeOidc(SIGNING_KEYS), startWorkersOAuth]) {
    const server = await startPeer();
    servers.push(server);
    await check(server);
  }
  log("peers selftest: ok");
} catch (e) {
  log(`peers selftest FAILED: ${e.stack ?? e}`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
