// MCP clients against edge-oidc with the MCP TypeScript SDK's own OAuth client: it finds
// edge-oidc through the example resource server's 401 and protected resource metadata
// (RFC 9728), identifies itself with a client ID metadata document or by registering
// (RFC 7591), sends the user to sign in (driven here like a browser would: cookies, the
// forms), and calls the server's tool with the access token it got. A machine client gets its
// own token with client credentials and private_key_jwt. Started by scripts/mcp.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { Miniflare } from 'miniflare';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { PrivateKeyJwtProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run scripts/mcp.sh`);
  return v;
};
const ISSUER = env('MCP_ISSUER');
const RESOURCE = env('MCP_RESOURCE');
const RS_PORT = Number(env('MCP_RS_PORT'));
const DOC_ORIGIN = env('MCP_DOC_ORIGIN');
const DOC_URL = `${DOC_ORIGIN}/clients/mcp-test.json`;
const CALLBACK = 'http://127.0.0.1:33418/callback';

let rs;
let rsOpaque;
let docServer;
let docFetches = 0;

before(async () => {
  // The client's metadata document, at its https URL's local stand-in (DEV_FETCH_ORIGINS).
  const doc = {
    client_id: DOC_URL,
    client_name: 'MCP test client',
    redirect_uris: [CALLBACK],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  };
  docServer = http.createServer((req, res) => {
    if (req.url === new URL(DOC_URL).pathname) {
      docFetches += 1;
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
      res.end(JSON.stringify(doc));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((ok) => docServer.listen(Number(env('MCP_DOC_PORT')), '127.0.0.1', ok));
  // The example resource server, as deployed: its Worker in workerd.
  rs = new Miniflare({
    modules: true,
    scriptPath: new URL('../../examples/resource-server/src/index.js', import.meta.url).pathname,
    compatibilityDate: '2026-04-20',
    host: '127.0.0.1',
    port: RS_PORT,
    bindings: { ISSUER, RESOURCE, SCOPE: 'mcp:tools', TOKENS: 'jwt' },
  });
  await rs.ready;
  // The same server for a resource whose tokens are opaque: it introspects them.
  rsOpaque = new Miniflare({
    modules: true,
    scriptPath: new URL('../../examples/resource-server/src/index.js', import.meta.url).pathname,
    compatibilityDate: '2026-04-20',
    host: '127.0.0.1',
    port: Number(env('MCP_RS2_PORT')),
    bindings: {
      ISSUER,
      RESOURCE: env('MCP_OPAQUE_RESOURCE'),
      TOKENS: 'introspection',
      INTROSPECTION_CLIENT_ID: env('MCP_RS_CLIENT'),
      INTROSPECTION_CLIENT_SECRET: env('MCP_RS_SECRET'),
    },
  });
  await rsOpaque.ready;
});

after(async () => {
  await rs?.dispose();
  await rsOpaque?.dispose();
  docServer?.close();
});

/** What the SDK asks an application to keep, in memory; the URL it sends the user to. */
class Provider {
  constructor(metadataUrl) {
    this.clientMetadataUrl = metadataUrl;
    this.info = undefined;
    this.saved = undefined;
    this.verifier = undefined;
    this.authUrl = undefined;
  }
  get redirectUrl() {
    return CALLBACK;
  }
  get clientMetadata() {
    return {
      client_name: 'MCP test client (registered)',
      redirect_uris: [CALLBACK],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(t) {
    this.saved = t;
  }
  redirectToAuthorization(url) {
    this.authUrl = url;
  }
  saveCodeVerifier(v) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
}

/** A browser's cookie jar, enough for the sign-in. */
function jar() {
  const cookies = new Map();
  return {
    header: () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
    take(res) {
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const i = pair.indexOf('=');
        cookies.set(pair.slice(0, i), pair.slice(i + 1));
      }
    },
  };
}

const hidden = (html, name) => {
  const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
  assert.ok(m, `no ${name} in the page: ${html.slice(0, 400)}`);
  return m[1].replace(/&quot;/g, '"').replace(/&amp;/g, '&');
};

/** The user signs in and allows, as a browser would; the code the client gets back. */
async function signIn(authUrl, { expectUnregistered = true } = {}) {
  const cookies = jar();
  const get = await fetch(authUrl, { redirect: 'manual' });
  cookies.take(get);
  assert.equal(get.status, 200, `the sign-in page: ${await get.clone().text()}`);
  const post = async (path, form) => {
    const r = await fetch(`${ISSUER}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookies.header(), origin: ISSUER },
      body: new URLSearchParams(form),
    });
    cookies.take(r);
    return r;
  };
  const login = await post('/login', {
    tx: hidden(await get.text(), 'tx'),
    username: env('MCP_USER'),
    password: env('MCP_PASSWORD'),
  });
  const page = await login.text();
  assert.equal(login.status, 200, page);
  assert.match(page, /use your tools/i, 'the consent page says what the scope allows');
  assert.match(page, /Example MCP server/, 'and for which server');
  if (expectUnregistered) assert.match(page, /not registered by the operator/);
  const allow = await post('/consent', { tx: hidden(page, 'tx'), decision: 'allow' });
  assert.equal(allow.status, 303, await allow.text());
  const to = new URL(allow.headers.get('location'));
  assert.equal(`${to.origin}${to.pathname}`, CALLBACK);
  assert.equal(to.searchParams.get('iss'), ISSUER, 'RFC 9207 iss');
  return to.searchParams.get('code');
}

/** Connects through a 401, the sign-in and finishAuth, as an MCP host does. */
async function connectWithSignIn(provider) {
  const url = new URL(RESOURCE);
  const client = new Client({ name: 'edge-oidc-test', version: '1.0.0' });
  await assert.rejects(client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider })), UnauthorizedError);
  assert.ok(provider.authUrl, 'the SDK sent the user to the authorization endpoint');
  const asked = provider.authUrl.searchParams;
  assert.equal(`${provider.authUrl.origin}${provider.authUrl.pathname}`, `${ISSUER}/authorize`);
  assert.equal(asked.get('resource'), RESOURCE, 'RFC 8707 resource');
  assert.equal(asked.get('code_challenge_method'), 'S256');
  const code = await signIn(provider.authUrl);
  const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
  await transport.finishAuth(code);
  const connected = new Client({ name: 'edge-oidc-test', version: '1.0.0' });
  await connected.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
  return connected;
}

const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

async function whoami(client) {
  const tools = await client.listTools();
  assert.deepEqual(tools.tools.map((t) => t.name), ['whoami']);
  const r = await client.callTool({ name: 'whoami', arguments: {} });
  assert.equal(r.isError, false);
  return JSON.parse(r.content[0].text);
}

test('the resource server sends MCP clients to edge-oidc', async () => {
  const r = await fetch(RESOURCE, { method: 'POST', body: '{}' });
  assert.equal(r.status, 401);
  const challenge = r.headers.get('www-authenticate');
  assert.match(challenge, /^Bearer resource_metadata="[^"]+"/);
  const prmUrl = challenge.match(/resource_metadata="([^"]+)"/)[1];
  const prm = await (await fetch(prmUrl)).json();
  assert.deepEqual(prm.authorization_servers, [ISSUER]);
  assert.equal(prm.resource, RESOURCE);
  const meta = await (await fetch(`${ISSUER}/.well-known/oauth-authorization-server`)).json();
  assert.equal(meta.client_id_metadata_document_supported, true);
  assert.equal(meta.registration_endpoint, `${ISSUER}/register`);
  assert.ok(meta.grant_types_supported.includes('client_credentials'));
  // A token that is not edge-oidc's is refused with invalid_token.
  const forged = `${Buffer.from('{"alg":"RS256","typ":"at+jwt","kid":"x"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.AAAA`;
  const bad = await fetch(RESOURCE, { method: 'POST', headers: { authorization: `Bearer ${forged}` }, body: '{}' });
  assert.equal(bad.status, 401);
  assert.match(bad.headers.get('www-authenticate'), /error="invalid_token"/);
});

test('an MCP client with a client ID metadata document signs a user in and calls a tool', async () => {
  const provider = new Provider(DOC_URL);
  const client = await connectWithSignIn(provider);
  assert.equal(provider.info.client_id, DOC_URL, 'the SDK used its document URL as client_id');
  assert.ok(docFetches >= 1, 'edge-oidc fetched the document');
  const who = await whoami(client);
  assert.equal(who.client_id, DOC_URL);
  assert.equal(who.scope, 'mcp:tools');
  // An RFC 9068 access token for this resource, with no ID token (no openid asked).
  const t = provider.saved;
  assert.equal(t.id_token, undefined);
  const claims = claimsOf(t.access_token);
  assert.equal(claims.aud, RESOURCE);
  assert.equal(claims.iss, ISSUER);
  assert.equal(claims.sub, who.sub);
  await client.close();
});

test('an MCP client that registers itself (RFC 7591) signs a user in and calls a tool', async () => {
  const provider = new Provider(undefined);
  const client = await connectWithSignIn(provider);
  assert.ok(provider.info.client_id && provider.info.client_id !== DOC_URL, 'registered, with an id of its own');
  const who = await whoami(client);
  assert.equal(who.client_id, provider.info.client_id);
  await client.close();
  // What the SDK does not keep: a registration's management (RFC 7592) with its token.
  const reg = await fetch(`${ISSUER}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...provider.clientMetadata, client_name: 'managed' }),
  });
  assert.equal(reg.status, 201);
  const info = await reg.json();
  const manage = (method, body) =>
    fetch(info.registration_client_uri, {
      method,
      headers: { authorization: `Bearer ${info.registration_access_token}`, 'content-type': 'application/json' },
      body: body && JSON.stringify(body),
    });
  assert.equal((await (await manage('GET')).json()).client_name, 'managed');
  assert.equal((await manage('DELETE')).status, 204);
  assert.equal((await manage('GET')).status, 401, 'deleted: its token no longer works');
});

test('a machine client gets its own token with client credentials and private_key_jwt', async () => {
  const key = JSON.parse(readFileSync(env('MCP_ROBOT_KEY'), 'utf8'));
  const provider = new PrivateKeyJwtProvider({
    clientId: env('MCP_ROBOT'),
    privateKey: key,
    algorithm: 'ES256',
    scope: 'mcp:tools',
    expectedIssuer: ISSUER,
  });
  const client = new Client({ name: 'edge-oidc-robot', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(RESOURCE), { authProvider: provider }));
  const who = await whoami(client);
  assert.equal(who.sub, env('MCP_ROBOT'), 'the client itself is the subject');
  assert.equal(who.client_id, env('MCP_ROBOT'));
  await client.close();
});

test('a resource server with opaque tokens checks them by introspection, and a revocation reaches it at once', async () => {
  const resource = env('MCP_OPAQUE_RESOURCE');
  const id = env('MCP_RS_CLIENT');
  const basic = `Basic ${Buffer.from(`${id}:${env('MCP_RS_SECRET')}`).toString('base64')}`;
  const form = (o) => ({ method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(o) });
  const t = await (await fetch(`${ISSUER}/token`, form({ grant_type: 'client_credentials', resource }))).json();
  assert.ok(t.access_token && t.access_token.split('.').length === 2, `an opaque token: ${JSON.stringify(t)}`);
  const call = () =>
    fetch(resource, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } }),
    });
  const ok = await call();
  assert.equal(ok.status, 200);
  assert.equal(JSON.parse((await ok.json()).result.content[0].text).sub, id);
  assert.equal((await fetch(`${ISSUER}/revoke`, form({ token: t.access_token }))).status, 200);
  const after = await call();
  assert.equal(after.status, 401);
  assert.match(after.headers.get('www-authenticate'), /invalid_token/);
});
