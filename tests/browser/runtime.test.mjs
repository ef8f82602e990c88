// The provider in the runtime itself (workerd through miniflare, without wrangler dev's proxy,
// which answers a streaming upload cut short with a 503 of its own): a chunked 10 MB POST is
// answered 413 at the first chunk past 64 KiB, and the isolate keeps serving.
import { test, after, before } from 'node:test';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { Miniflare } from 'miniflare';
import { assert, env } from './lib.mjs';

let mf;
let base;

before(async () => {
  // The run's dev vars (keys), as wrangler dev gets them; its own state in memory.
  const vars = Object.fromEntries(
    readFileSync(process.env.BROWSER_DEV_VARS, 'utf8')
      .trim()
      .split('\n')
      .map((line) => {
        const i = line.indexOf('=');
        return [line.slice(0, i), line.slice(i + 2, -1)];
      }),
  );
  mf = new Miniflare({
    modules: true,
    scriptPath: new URL('../../build/index.js', import.meta.url).pathname,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: '2026-04-20',
    host: '127.0.0.1',
    port: 0,
    bindings: { ...vars, ISSUER: 'http://127.0.0.1:8787' },
    kvNamespaces: ['CLIENTS', 'USERS'],
    durableObjects: { GRANTS: 'Grants', THROTTLES: 'Throttles', ACCOUNTS: 'Accounts' },
  });
  base = new URL(await mf.ready);
});

after(async () => mf?.dispose());

/// POSTs `total` bytes chunked (no Content-Length) over a raw connection, 64 KiB at a time,
/// until the server stops reading; resolves with what it answered. (An HTTP client library
/// reports the reset of an upload cut short instead of the answer that came before it.)
function chunkedPost(path, total) {
  return new Promise((resolve) => {
    const socket = connect({ host: base.hostname, port: Number(base.port) });
    let answer = '';
    let sent = 0;
    socket.on('data', (d) => (answer += d));
    socket.on('error', () => {}); // writes after the server stopped reading
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
      resolve({ status, body: answer.slice(answer.indexOf('\r\n\r\n') + 4), sent });
    });
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: ${base.host}\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
        'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
    );
    const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 'a'), Buffer.from('\r\n')]);
    const pump = () => {
      while (sent < total && !socket.destroyed && !answer) {
        sent += 0x10000;
        if (!socket.write(chunk)) return socket.once('drain', pump);
      }
      if (!socket.destroyed && !answer) socket.end('0\r\n\r\n');
    };
    pump();
  });
}

test('a chunked 10 MB POST gets 413 and the isolate keeps serving', async () => {
  assert.ok(env.issuer);
  for (const path of ['/token', '/login', '/introspect']) {
    // The server answers and closes while the upload goes on; the reset that follows can
    // discard its answer on the client's side before it is read (no status): asked again.
    let r = await chunkedPost(path, 10 * 1024 * 1024);
    for (let i = 0; i < 3 && Number.isNaN(r.status); i++) r = await chunkedPost(path, 10 * 1024 * 1024);
    assert.equal(r.status, 413, `${path}: ${r.body}`);
    assert.match(r.body, /"error":"invalid_request"/);
  }
  const d = await fetch(new URL('/.well-known/openid-configuration', base));
  assert.equal(d.status, 200);
  const t = await fetch(new URL('/token', base), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=authorization_code&code=x',
  });
  assert.equal(t.status, 401, 'the next request is answered as usual');
});
