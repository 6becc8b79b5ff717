// Sandbox ports other than envd's and the interpreter's (sandbox.getHost(port)):
// HTTP/1.1 relayed to the port on the sandbox's own loopback, chosen by the
// E2b-Sandbox-Id/-Port headers or a "<port>-<id>.<domain>" Host; request and
// response bodies streamed byte-exact both ways (lengths, chunks, EOF-framed);
// WebSocket through MHD's upgrade; E2B's closed-port 502 (JSON, HTML for
// browsers); no way to another sandbox or to the host; a reset upstream cuts only
// its own response. The daemon runs with --domain, so the SDK's getHost() names it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { Sandbox } from 'e2b';
import { setupServer, within, sleep } from './helpers/server.mjs';

const DOMAIN = 'nestbox.test';
const { server, test } = setupServer({ serveArgs: ['--domain', DOMAIN] });
const SECOND = 1000;
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

// The test's server inside the sandbox (python3's stdlib only): echoes requests with
// what it saw in X-Echo-* headers, streams, resets, and speaks a minimal RFC 6455
// WebSocket echo on /ws.
const ECHO_PY = String.raw`
import base64, hashlib, socket, struct, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def read_body(self):
        if 'chunked' in self.headers.get('Transfer-Encoding', ''):
            out = b''
            while True:
                size = int(self.rfile.readline().split(b';')[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b'\r\n', b'\n', b''):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get('Content-Length', '0')))

    def echo(self):
        body = self.read_body()
        self.send_response(200)
        self.send_header('Content-Type', 'application/octet-stream')
        for name, value in (('Method', self.command), ('Path', self.path), ('Host', self.headers.get('Host')),
                            ('TE', self.headers.get('Transfer-Encoding')), ('Length', self.headers.get('Content-Length')),
                            ('XFF', self.headers.get('X-Forwarded-For')), ('Proto', self.headers.get('X-Forwarded-Proto')),
                            ('Connection', self.headers.get('Connection')), ('Custom', self.headers.get('X-Custom'))):
            self.send_header('X-Echo-' + name, value if value is not None else '-')
        self.send_header('Set-Cookie', 'a=1')
        self.send_header('Set-Cookie', 'b=2')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == '/ws':
            return self.websocket()
        if self.path == '/stream':
            self.send_response(200)
            self.send_header('Content-Type', 'text/plain')
            self.send_header('Transfer-Encoding', 'chunked')
            self.end_headers()
            for i in range(5):
                part = ('part %d\n' % i).encode()
                self.wfile.write(b'%x\r\n%s\r\n' % (len(part), part))
                self.wfile.flush()
                time.sleep(0.05)
            self.wfile.write(b'0\r\n\r\n')
            return
        if self.path == '/eof':
            self.wfile.write(b'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nuntil eof\n')
            self.wfile.flush()
            self.close_connection = True
            return
        if self.path == '/nocontent':
            self.send_response(204)
            self.send_header('X-After', 'nothing')
            self.end_headers()
            return
        if self.path == '/reset':
            self.send_response(200)
            self.send_header('Content-Length', '1000000')
            self.end_headers()
            self.wfile.write(b'x' * 1000)
            self.wfile.flush()
            time.sleep(0.2)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if self.path == '/garbage':
            self.wfile.write(b'this is not http\r\n\r\n')
            self.wfile.flush()
            self.close_connection = True
            return
        self.echo()

    do_POST = do_PUT = do_DELETE = do_PATCH = echo

    def do_HEAD(self):
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', '12345')
        self.end_headers()

    def websocket(self):
        key = self.headers.get('Sec-WebSocket-Key', '').encode()
        accept = base64.b64encode(hashlib.sha1(key + b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest()).decode()
        self.send_response(101)
        self.send_header('Upgrade', 'websocket')
        self.send_header('Connection', 'Upgrade')
        self.send_header('Sec-WebSocket-Accept', accept)
        self.end_headers()
        self.wfile.flush()
        sock, f = self.connection, self.rfile
        while True:
            head = f.read(2)
            if len(head) < 2:
                break
            opcode, n = head[0] & 0x0f, head[1] & 0x7f
            if n == 126:
                n = struct.unpack('!H', f.read(2))[0]
            elif n == 127:
                n = struct.unpack('!Q', f.read(8))[0]
            mask = f.read(4) if head[1] & 0x80 else b'\0\0\0\0'
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(f.read(n)))
            if opcode == 8:
                sock.sendall(b'\x88' + bytes([len(data)]) + data)
                break
            if len(data) < 126:
                hdr = bytes([0x80 | opcode, len(data)])
            elif len(data) < 65536:
                hdr = bytes([0x80 | opcode, 126]) + struct.pack('!H', len(data))
            else:
                hdr = bytes([0x80 | opcode, 127]) + struct.pack('!Q', len(data))
            sock.sendall(hdr + data)
        self.close_connection = True

class Server(ThreadingHTTPServer):
    daemon_threads = True

host = sys.argv[2] if len(sys.argv) > 2 else '127.0.0.1'
if ':' in host:
    Server.address_family = socket.AF_INET6
Server((host, int(sys.argv[1])), Handler).serve_forever()
`;

let sbx; // base: http.server on 8000 (all addresses), echo.py on 8001 (127.0.0.1) and 8002 (::1)

/** One request to the daemon with node:http (fetch cannot set Host). Resolves with the
 *  status, headers, raw header pairs and the whole body; rejects when the response breaks. */
function request({ method = 'GET', path = '/', headers = {}, body, agent } = {}) {
  return new Promise((resolve, reject) => {
    // path as an option, not in a URL: a URL would resolve "%2e%2e" segments before sending.
    const { hostname, port } = new URL(server.url);
    const req = http.request({ hostname, port, path, method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('aborted', () => reject(Object.assign(new Error('response aborted'), { received: Buffer.concat(chunks) })));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, raw: res.rawHeaders, body: Buffer.concat(chunks), socket: req.socket }),
      );
    });
    req.on('error', reject);
    if (body) req.end(body);
    else req.end();
  });
}

const byHeaders = (id, port, extra = {}) => ({ 'E2b-Sandbox-Id': id, 'E2b-Sandbox-Port': String(port), ...extra });

/** Polls until the port answers 200 (a server started in the background takes a moment). */
async function waitForPort(id, port, path = '/') {
  let last;
  for (let i = 0; i < 100; i++) {
    last = await request({ path, headers: byHeaders(id, port) });
    if (last.status === 200) return;
    await sleep(100);
  }
  throw new Error(`port ${port} of ${id} never answered 200: ${last.status} ${last.body}`);
}

/** A WebSocket client frame (RFC 6455 §5.2): FIN, masked as clients must. */
function wsFrame(opcode, payload) {
  const mask = randomBytes(4);
  const n = payload.length;
  let head;
  if (n < 126) head = Buffer.from([0x80 | opcode, 0x80 | n]);
  else if (n < 65536) head = Buffer.from([0x80 | opcode, 0x80 | 126, n >> 8, n & 255]);
  else {
    head = Buffer.alloc(10);
    head[0] = 0x80 | opcode;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  const masked = Buffer.alloc(n);
  for (let i = 0; i < n; i++) masked[i] = payload[i] ^ mask[i % 4];
  return Buffer.concat([head, mask, masked]);
}

/** Parses unmasked server frames from buf: [{opcode, payload}]. */
function wsParse(buf) {
  const frames = [];
  let off = 0;
  while (off + 2 <= buf.length) {
    let n = buf[off + 1] & 0x7f;
    let p = off + 2;
    if (n === 126) {
      n = buf.readUInt16BE(p);
      p += 2;
    } else if (n === 127) {
      n = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    if (p + n > buf.length) break;
    frames.push({ opcode: buf[off] & 0x0f, payload: buf.subarray(p, p + n) });
    off = p + n;
  }
  return frames;
}

/** Opens a WebSocket through the daemon with the given Host; resolves with the 101's
 *  headers, the socket and everything the socket receives until it closes. */
function wsOpen(host, path = '/ws') {
  const key = randomBytes(16).toString('base64');
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}${path}`, {
      headers: { Host: host, Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': key },
    });
    req.on('response', (res) => reject(new Error(`no upgrade: HTTP ${res.statusCode}`)));
    req.on('error', reject);
    req.on('upgrade', (res, socket, head) => {
      let received = head;
      const closed = new Promise((done) => {
        socket.on('data', (d) => (received = Buffer.concat([received, d])));
        socket.on('close', () => done(received));
        socket.on('error', () => {});
      });
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      resolve({ status: res.statusCode, headers: res.headers, accept, socket, closed });
    });
    req.end();
  });
}

test('setup: a base sandbox with python3 -m http.server 8000 and echo servers on 8001 and [::1]:8002', { timeout: 120 * SECOND }, async () => {
  sbx = await server.create('base', { timeoutMs: 600 * SECOND });
  await sbx.files.write('/tmp/echo.py', ECHO_PY);
  await sbx.files.write('/home/user/www/hello.txt', 'hello from the sandbox\n');
  // timeoutMs 0: a background command otherwise ends after the SDK's default 60 s.
  await sbx.commands.run('python3 -m http.server 8000', { background: true, timeoutMs: 0, cwd: '/home/user/www' });
  await sbx.commands.run('python3 /tmp/echo.py 8001', { background: true, timeoutMs: 0 });
  await sbx.commands.run('python3 /tmp/echo.py 8002 ::1', { background: true, timeoutMs: 0 });
  await within(30 * SECOND, Promise.all([waitForPort(sbx.sandboxId, 8000), waitForPort(sbx.sandboxId, 8001, '/ready'), waitForPort(sbx.sandboxId, 8002, '/ready')]), 'servers start');
});

test('(a) E2b-Sandbox-Id/-Port headers: plain fetch of / -> 200 and the directory listing', async () => {
  const res = await fetch(`${server.url}/`, { headers: byHeaders(sbx.sandboxId, 8000) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  const text = await res.text();
  assert.match(text, /<title>Directory listing for \/<\/title>/);
  assert.match(text, /<a href="hello\.txt">hello\.txt<\/a>/);
  assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(text)));
});

test('(b) Host <port>-<id>.<domain>: the listing again; getHost() and the API name the --domain', async () => {
  assert.equal(sbx.getHost(8000), `8000-${sbx.sandboxId}.${DOMAIN}`);
  const info = await fetch(`${server.url}/sandboxes/${sbx.sandboxId}`, { headers: { 'X-API-KEY': server.apiKey } }).then((r) => r.json());
  assert.equal(info.domain, DOMAIN);
  for (const host of [sbx.getHost(8000), `8000-${sbx.sandboxId}.whatever.test`, `8000-${sbx.sandboxId}.whatever.test:443`]) {
    const res = await request({ headers: { Host: host } });
    assert.equal(res.status, 200, host);
    assert.match(res.body.toString(), /<a href="hello\.txt">hello\.txt<\/a>/);
  }
});

test('(c) files from files.write are served byte-exact: text, and 5 MiB of random bytes by hash; HEAD too', async () => {
  const text = await request({ path: '/hello.txt', headers: { Host: sbx.getHost(8000) } });
  assert.equal(text.status, 200);
  assert.equal(text.body.toString(), 'hello from the sandbox\n');

  const data = randomBytes(5 * 1024 * 1024);
  await sbx.files.write('/home/user/www/blob.bin', data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
  const res = await fetch(`${server.url}/blob.bin`, { headers: byHeaders(sbx.sandboxId, 8000) });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-length'), String(data.length));
  const got = Buffer.from(await res.arrayBuffer());
  assert.equal(got.length, data.length);
  assert.equal(sha256(got), sha256(data));

  const head = await request({ method: 'HEAD', path: '/blob.bin', headers: byHeaders(sbx.sandboxId, 8000) });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String(data.length));
  assert.equal(head.body.length, 0);
});

test('(d) a POST body comes back exactly, with method, raw path and query, Host and X-Forwarded-*', async () => {
  const body = randomBytes(300 * 1024);
  const path = '/echo/a%20b/%2e%2e?x=1&y=%2F&z&q=%E2%9C%93';
  const host = `8001-${sbx.sandboxId}.${DOMAIN}`;
  const res = await request({ method: 'POST', path, headers: { Host: host, 'X-Custom': 'kept', 'Content-Length': body.length }, body });
  assert.equal(res.status, 200);
  assert.equal(sha256(res.body), sha256(body));
  assert.equal(res.headers['x-echo-method'], 'POST');
  assert.equal(res.headers['x-echo-path'], path);
  assert.equal(res.headers['x-echo-host'], host);
  assert.equal(res.headers['x-echo-length'], String(body.length));
  assert.equal(res.headers['x-echo-te'], '-');
  assert.equal(res.headers['x-echo-xff'], '127.0.0.1');
  assert.equal(res.headers['x-echo-proto'], 'http');
  assert.equal(res.headers['x-echo-custom'], 'kept');
  assert.equal(res.headers['x-echo-connection'], 'close'); // one upstream connection per request
  assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);

  // By headers, the Host is the daemon's own address.
  const put = await request({ method: 'PUT', path: '/p', headers: byHeaders(sbx.sandboxId, 8001) });
  assert.equal(put.status, 200);
  assert.equal(put.headers['x-echo-method'], 'PUT');
  assert.equal(put.headers['x-echo-host'], new URL(server.url).host);
  assert.equal(put.body.length, 0);
});

test('(d) a chunked request body (ReadableStream, duplex half) is streamed on as chunks, byte-exact', async () => {
  const parts = [randomBytes(10), randomBytes(70 * 1024), Buffer.from('last part')];
  const stream = new ReadableStream({
    async pull(controller) {
      const p = parts.shift();
      if (p) {
        controller.enqueue(new Uint8Array(p));
        await sleep(20);
      } else controller.close();
    },
  });
  const sent = Buffer.concat(parts);
  const res = await fetch(`${server.url}/chunked?k=v`, {
    method: 'POST',
    body: stream,
    duplex: 'half',
    headers: byHeaders(sbx.sandboxId, 8001),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-echo-te'), 'chunked');
  assert.equal(res.headers.get('x-echo-length'), '-');
  assert.equal(res.headers.get('x-echo-path'), '/chunked?k=v');
  const got = Buffer.from(await res.arrayBuffer());
  assert.equal(sha256(got), sha256(sent));
});

test('response framing: chunked stream, a body that ends at EOF, 204, HEAD with a length', async () => {
  const h = byHeaders(sbx.sandboxId, 8001);
  const stream = await request({ path: '/stream', headers: h });
  assert.equal(stream.status, 200);
  assert.equal(stream.headers['transfer-encoding'], 'chunked');
  assert.equal(stream.body.toString(), 'part 0\npart 1\npart 2\npart 3\npart 4\n');

  const eof = await request({ path: '/eof', headers: h });
  assert.equal(eof.status, 200);
  assert.equal(eof.headers['transfer-encoding'], 'chunked');
  assert.equal(eof.body.toString(), 'until eof\n');

  const none = await request({ path: '/nocontent', headers: h });
  assert.equal(none.status, 204);
  assert.equal(none.headers['x-after'], 'nothing');
  assert.equal(none.body.length, 0);

  const head = await request({ method: 'HEAD', path: '/anything', headers: h });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '12345');
  assert.equal(head.body.length, 0);
});

test('a server bound to [::1] only is reached too', async () => {
  const res = await request({ method: 'POST', path: '/six', headers: byHeaders(sbx.sandboxId, 8002), body: 'v6' });
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), 'v6');
});

test('keep-alive: ten exchanges (GET, POST, HEAD, 204) over one client connection', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const sockets = new Set();
  try {
    for (let i = 0; i < 10; i++) {
      const kind = i % 4;
      const res = await request({
        agent,
        method: ['GET', 'POST', 'HEAD', 'GET'][kind],
        path: ['/hello.txt', '/echo', '/x', '/nocontent'][kind],
        headers: byHeaders(sbx.sandboxId, kind === 0 ? 8000 : 8001),
        body: kind === 1 ? `body ${i}` : undefined,
      });
      assert.equal(res.status, [200, 200, 200, 204][kind]);
      if (kind === 1) assert.equal(res.body.toString(), `body ${i}`);
      sockets.add(res.socket);
    }
  } finally {
    agent.destroy();
  }
  assert.equal(sockets.size, 1);
});

test('(e) closed port: 502 with E2B\'s JSON; a browser gets the Closed Port Error page', async () => {
  const res = await fetch(`${server.url}/`, { headers: byHeaders(sbx.sandboxId, 3000) });
  assert.equal(res.status, 502);
  assert.equal(res.headers.get('content-type'), 'application/json');
  assert.equal(
    await res.text(),
    `{"message":"The sandbox is running but port is not open","sandboxId":"${sbx.sandboxId}","port":3000,"code":502}`,
  );

  const page = await request({
    headers: {
      Host: sbx.getHost(3000),
      'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
    },
  });
  assert.equal(page.status, 502);
  assert.match(page.headers['content-type'], /^text\/html/);
  const html = page.body.toString();
  assert.ok(html.includes('<title>Closed Port Error</title>'), html);
  assert.ok(html.includes(sbx.sandboxId) && html.includes('3000'), html);
});

test('(e) a request the daemon will not pass on: bad sandbox port -> 400', async () => {
  for (const port of ['0', '65536', '80x']) {
    const res = await request({ headers: { 'E2b-Sandbox-Id': sbx.sandboxId, 'E2b-Sandbox-Port': port } });
    assert.equal(res.status, 400, port);
    assert.equal(JSON.parse(res.body).code, 400);
  }
});

test('(f) WebSocket echo: 101 with the upstream\'s accept, text and 100 KB binary frames, close', async () => {
  const ws = await wsOpen(sbx.getHost(8001));
  assert.equal(ws.status, 101);
  assert.equal(ws.headers.upgrade, 'websocket');
  assert.equal(ws.headers.connection, 'Upgrade');
  assert.equal(ws.headers['sec-websocket-accept'], ws.accept);
  const bin = randomBytes(100 * 1024);
  ws.socket.write(wsFrame(1, Buffer.from('hello ✓')));
  ws.socket.write(wsFrame(2, bin));
  ws.socket.write(wsFrame(8, Buffer.from([0x03, 0xe8])));
  const frames = wsParse(await within(10 * SECOND, ws.closed, 'websocket close'));
  assert.deepEqual(frames.map((f) => f.opcode), [1, 2, 8]);
  assert.equal(frames[0].payload.toString(), 'hello ✓');
  assert.equal(sha256(frames[1].payload), sha256(bin));
  assert.deepEqual([...frames[2].payload], [0x03, 0xe8]);
});

test('(f) an Upgrade the upstream does not take is answered as a normal response', async () => {
  const res = await request({ headers: { ...byHeaders(sbx.sandboxId, 8000), Connection: 'Upgrade', Upgrade: 'websocket' } });
  assert.equal(res.status, 200);
  assert.match(res.body.toString(), /Directory listing for \//);
});

test('(g) another sandbox\'s port and the host\'s loopback are out of reach through this id', { timeout: 60 * SECOND }, async () => {
  const other = await server.create('base', { timeoutMs: 120 * SECOND });
  try {
    await other.files.write('/tmp/echo.py', ECHO_PY);
    await other.commands.run('python3 /tmp/echo.py 8005 0.0.0.0', { background: true, timeoutMs: 0 });
    await waitForPort(other.sandboxId, 8005, '/ready');
    const closed = `{"message":"The sandbox is running but port is not open","sandboxId":"${sbx.sandboxId}","port":8005,"code":502}`;
    const res = await request({ headers: byHeaders(sbx.sandboxId, 8005) });
    assert.equal(res.status, 502);
    assert.equal(res.body.toString(), closed);

    // A server on the host's 127.0.0.1: no sandbox id leads to it.
    let hits = 0;
    const host = http.createServer((req, r) => {
      hits++;
      r.end('host');
    });
    await new Promise((ok) => host.listen(0, '127.0.0.1', ok));
    const port = host.address().port;
    try {
      for (const id of [sbx.sandboxId, other.sandboxId]) {
        const r = await request({ headers: { Host: `${port}-${id}.${DOMAIN}` } });
        assert.equal(r.status, 502);
        assert.equal(JSON.parse(r.body).message, 'The sandbox is running but port is not open');
      }
    } finally {
      host.close();
    }
    assert.equal(hits, 0);
  } finally {
    await Sandbox.kill(other.sandboxId);
  }
  // A killed sandbox's ports: E2B's "not found" 502, like its envd port.
  const gone = await request({ headers: byHeaders(other.sandboxId, 8005) });
  assert.equal(gone.status, 502);
  assert.deepEqual(JSON.parse(gone.body), { sandboxId: other.sandboxId, message: 'The sandbox was not found', code: 502 });
});

test('(h) upstream reset mid-response: the client sees the body cut, the daemon keeps serving', async () => {
  const err = await request({ path: '/reset', headers: byHeaders(sbx.sandboxId, 8001) }).then(
    (r) => new Error(`completed: ${r.status} ${r.body.length} bytes`),
    (e) => e,
  );
  assert.ok(err.message === 'response aborted' || err.code === 'ECONNRESET', `${err.code}: ${err.message}`);
  if (err.received) assert.ok(err.received.length < 1000000, `${err.received.length} bytes`);

  // Not HTTP at all: 502 naming the port.
  const garbage = await request({ path: '/garbage', headers: byHeaders(sbx.sandboxId, 8001) });
  assert.equal(garbage.status, 502);
  assert.match(JSON.parse(garbage.body).message, new RegExp(`^port 8001 of sandbox ${sbx.sandboxId}: `));

  assert.equal((await fetch(`${server.url}/health`)).status, 200);
  const again = await request({ method: 'POST', path: '/after', headers: byHeaders(sbx.sandboxId, 8001), body: 'still here' });
  assert.equal(again.status, 200);
  assert.equal(again.body.toString(), 'still here');
});

test('a sandbox created with network.allowPublicTraffic false keeps its ports closed (403)', async () => {
  const priv = await server.create('busybox', { network: { allowPublicTraffic: false } });
  try {
    const res = await request({ headers: byHeaders(priv.sandboxId, 8000) });
    assert.equal(res.status, 403);
    assert.match(JSON.parse(res.body).message, /allowPublicTraffic/);
    // Its envd port works as before.
    assert.equal((await priv.commands.run('echo ok')).stdout, 'ok\n');
  } finally {
    await Sandbox.kill(priv.sandboxId);
  }
});

test('no fd is left behind: 40 exchanges of every kind leave the daemon\'s fd count as it was', async () => {
  // The daemon's fds minus its client connections (keep-alive ones come and go with the
  // SDK's pools): what is left are its own files, sandbox namespaces and upstream sockets.
  const fds = () => {
    const pid = server.proc.pid;
    const port = Number(new URL(server.url).port);
    const clients = new Set();
    for (const table of ['tcp', 'tcp6'])
      for (const line of fs.readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols.length > 9 && parseInt(cols[1].split(':')[1], 16) === port && cols[3] !== '0A') clients.add(cols[9]);
      }
    let n = 0;
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      let link = '';
      try {
        link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (!clients.has(link.match(/^socket:\[(\d+)\]$/)?.[1])) n++;
    }
    return n;
  };
  const settle = async (want) => {
    let n;
    for (let i = 0; i < 50 && (n = fds()) !== want; i++) await sleep(100);
    return n;
  };
  // The count before, once steady: the warm pool may still be refilling after the
  // previous test's create, and a sandbox being started holds a few fds for a moment.
  const steady = async () => {
    let last = fds();
    for (let same = 0, i = 0; same < 3 && i < 50; i++) {
      await sleep(100);
      const n = fds();
      same = n === last ? same + 1 : 0;
      last = n;
    }
    return last;
  };
  const once = { agent: false }; // a connection per request, closed after it
  const before = await steady();
  for (let i = 0; i < 5; i++) {
    await request({ ...once, path: '/hello.txt', headers: byHeaders(sbx.sandboxId, 8000) });
    await request({ ...once, method: 'POST', path: '/e', headers: byHeaders(sbx.sandboxId, 8001), body: 'x' });
    await request({ ...once, headers: byHeaders(sbx.sandboxId, 3000) });
    await request({ ...once, path: '/reset', headers: byHeaders(sbx.sandboxId, 8001) }).catch(() => {});
    await request({ ...once, path: '/garbage', headers: byHeaders(sbx.sandboxId, 8001) });
    await request({ ...once, path: '/eof', headers: byHeaders(sbx.sandboxId, 8001) });
    const ws = await wsOpen(sbx.getHost(8001));
    ws.socket.write(wsFrame(8, Buffer.alloc(0)));
    await within(10 * SECOND, ws.closed, 'websocket close');
    // A client that leaves in the middle of a streamed answer.
    await new Promise((resolve) => {
      const { hostname, port } = new URL(server.url);
      const req = http.request({ hostname, port, path: '/stream', headers: byHeaders(sbx.sandboxId, 8001), agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      req.end();
    });
  }
  assert.equal(await settle(before), before);
});

test('paused: its ports answer 502 "not found" like its envd port; after connect they serve again; then kill', async () => {
  assert.equal(await sbx.pause(), true);
  const paused = await request({ headers: byHeaders(sbx.sandboxId, 8000) });
  assert.equal(paused.status, 502);
  assert.equal(JSON.parse(paused.body).message, 'The sandbox was not found');

  await Sandbox.connect(sbx.sandboxId, { timeoutMs: 120 * SECOND });
  const back = await request({ path: '/hello.txt', headers: byHeaders(sbx.sandboxId, 8000) });
  assert.equal(back.status, 200);
  assert.equal(back.body.toString(), 'hello from the sandbox\n');

  await Sandbox.kill(sbx.sandboxId);
  const gone = await request({ headers: { Host: sbx.getHost(8000) } });
  assert.equal(gone.status, 502);
  assert.deepEqual(JSON.parse(gone.body), { sandboxId: sbx.sandboxId, message: 'The sandbox was not found', code: 502 });
});
