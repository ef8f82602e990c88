// The relying party's side of the browser suite: where the provider sends the browser back
// (/callback, /signed-out), and the client's logo and policy pages the consent page links to.
// Started by scripts/browser.sh on RP_PORT; it only shows what it received.
import { createServer } from 'node:http';
import { deflateSync } from 'node:zlib';

const port = Number(process.env.RP_PORT);

/// A 48x48 PNG in one colour: the client's logo (an image the consent page's CSP must allow).
function png() {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const size = 48;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(size * 3, Buffer.from([0x0b, 0x6e, 0x4f]))]);
  const raw = Buffer.concat(Array.from({ length: size }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
const LOGO = png();

const escape = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title></head><body><main><h1>${title}</h1>${body}</main></body></html>`;

createServer((req, res) => {
  const url = new URL(req.url, `http://127.0.0.1:${port}`);
  const params = [...url.searchParams].map(([k, v]) => `<li><code>${escape(k)}</code>: <code>${escape(v)}</code></li>`);
  const html = (title, body) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page(title, body));
  };
  switch (url.pathname) {
    case '/callback':
      return html('Example Notes', `<p>The application received:</p><ul id="params">${params.join('')}</ul>`);
    case '/signed-out':
      return html('Signed out of Example Notes', `<ul id="params">${params.join('')}</ul>`);
    case '/logo.png':
      res.writeHead(200, { 'content-type': 'image/png' });
      return res.end(LOGO);
    case '/':
    case '/privacy':
    case '/terms':
      return html('Example Notes', '<p>A page of the application.</p>');
    default:
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('not found');
  }
}).listen(port, '127.0.0.1', () => console.log(`rp: listening on ${port}`));
