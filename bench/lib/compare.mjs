// BENCH_COMPARE: two builds side by side, alternating rounds of the same batches.

import { COMPARE, OUT, log, n, sleep } from "./common.mjs";
import { cpuMs, expect } from "./measure.mjs";
import { batch } from "./servers.mjs";
import { ES_CLIENT_ID, USERS, flowSteps, userFor } from "./flows.mjs";
import { Authenticator, passkeyLogin, registerPasskey } from "./passkeys.mjs";

export async function compare(pair, secret, esSecret) {
  const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
  const all = pair.map((server) => ({ server, steps: flowSteps(server.req, secret), es: flowSteps(server.req, esSecret, ES_CLIENT_ID) }));
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
    const x = all.find((x) => x.server === server);
    // The client registered for ES256 allowed too, on the same sessions.
    for (const [u, session] of sessions.entries()) await x.es.consent(await x.es.consentPage(u, session));
    Object.assign(x, { sessions });
  }
  const sessionOf = (x, i) => x.sessions[Math.abs(i) % x.sessions.length];
  // `count` returning users' codes, made unmeasured.
  // (`steps`: the client's; the ES256 client's with x.es.)
  const codesFor = async (x, count, steps = x.steps) => {
    const codes = [];
    for (let i = 0; i < count; i++) codes.push(await steps.resume(i, sessionOf(x, i)));
    return codes;
  };
  const ops = {
    ...Object.fromEntries(["noop", "do-read", "do-write-existing", "do-write", "rs256", "audit"].map((p) => [p, {
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
    // The returning-user flow's requests for the client registered for ES256.
    resumeEs: { extra: true, count: n(300), op: (x) => async (i) => x.es.resume(i, sessionOf(x, i)) },
    tokenEs: {
      extra: true,
      count: n(300),
      prepare: (x, count) => codesFor(x, count, x.es),
      op: (x, codes) => async (i) => x.es.token(codes[i]),
    },
    returningEs: {
      extra: true,
      count: n(300),
      op: (x) => async (i) => x.es.userinfo(await x.es.token(await x.es.resume(i, sessionOf(x, i)))),
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
    // The passkey sign-in POST, on sign-in pages made just before (a passkey per bench user,
    // registered once). Named alone: each sign-in starts a session, and an account keeps 32.
    // An account answers 64 challenges within five minutes: keep rounds × count under 1000.
    passkey: {
      extra: true,
      count: n(100),
      prepare: async (x, count) => {
        if (!x.auths) {
          x.auths = USERS.map(() => new Authenticator("http://127.0.0.1:8787"));
          for (const [u, a] of x.auths.entries()) await registerPasskey(x.server.req, sessionOf(x, u), a);
        }
        const pages = [];
        for (let i = 0; i < count; i++) pages.push(await x.steps.authorize(i));
        return pages;
      },
      op: (x, pages) => async (i) => passkeyLogin(x.server.req, pages[i], x.auths[i % x.auths.length]),
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
