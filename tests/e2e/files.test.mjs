// sandbox.files through the official SDK (protocol.md §3.5, §4.2, §4.3): read and
// write of text, bytes, blobs and streams (gzip and octet-stream too), many files
// at once, list with depth, exists, getInfo, makeDir, rename, remove, watchDir
// (event order, recursive, entries, timeout), metadata, users, signed URLs, error
// classes, and hostile paths that must leave the host untouched.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  Sandbox,
  FileNotFoundError,
  NotFoundError,
  InvalidArgumentError,
  SandboxError,
  AuthenticationError,
} from 'e2b';
import { setupServer, within, sleep } from './helpers/server.mjs';

const { server, test } = setupServer();
const SECOND = 1000;
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

let sbx; // one busybox sandbox for most tests

test('setup: one busybox sandbox', { timeout: 120 * SECOND }, async () => {
  sbx = await server.create('busybox', { timeoutMs: 600 * SECOND });
});

const run = async (cmd, opts) => (await sbx.commands.run(cmd, { user: 'root', ...opts })).stdout;

test('write and read text, unicode included, in every read format', async () => {
  const text = 'héllo wörld ✓ 𝄞 — \u0000 nul and\r\nCRLF\n';
  const info = await sbx.files.write('/home/user/hello.txt', text);
  assert.deepEqual(info, { name: 'hello.txt', path: '/home/user/hello.txt', type: 'file', metadata: undefined });
  assert.equal(await sbx.files.read('/home/user/hello.txt'), text);
  assert.deepEqual(Buffer.from(await sbx.files.read('hello.txt', { format: 'bytes' })), Buffer.from(text));
  assert.equal(await (await sbx.files.read('~/hello.txt', { format: 'blob' })).text(), text);
  const chunks = [];
  for await (const c of await sbx.files.read('hello.txt', { format: 'stream' })) chunks.push(Buffer.from(c));
  assert.equal(Buffer.concat(chunks).toString(), text);
  // The file belongs to the default user, as the command side sees it.
  assert.equal((await run('stat -c %U:%G:%a /home/user/hello.txt')).trim(), 'user:user:644');
  // Empty files read back empty (Content-Length: 0).
  await sbx.files.write('empty.txt', '');
  assert.equal(await sbx.files.read('empty.txt'), '');
  assert.equal((await sbx.files.read('empty.txt', { format: 'bytes' })).length, 0);
});

test('5 MiB of random bytes round trip, checked by hash inside and outside', { timeout: 60 * SECOND }, async () => {
  const data = randomBytes(5 << 20);
  const want = sha256(data);
  const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.length);
  await sbx.files.write('/tmp/rand.bin', ab);
  assert.equal(sha256(Buffer.from(await sbx.files.read('/tmp/rand.bin', { format: 'bytes' }))), want);
  assert.equal((await run('sha256sum /tmp/rand.bin')).split(' ')[0], want);
  // Blob, gzip both ways, and a ReadableStream (octet-stream upload).
  await sbx.files.write('/tmp/rand-blob.bin', new Blob([data]));
  assert.equal((await run('sha256sum /tmp/rand-blob.bin')).split(' ')[0], want);
  await sbx.files.write('/tmp/rand-gz.bin', ab, { gzip: true });
  assert.equal(sha256(Buffer.from(await sbx.files.read('/tmp/rand-gz.bin', { format: 'bytes', gzip: true }))), want);
  const stream = new ReadableStream({
    start(c) {
      for (let off = 0; off < data.length; off += 100_000) c.enqueue(data.subarray(off, off + 100_000));
      c.close();
    },
  });
  await sbx.files.write('/tmp/rand-stream.bin', stream);
  assert.equal((await run('sha256sum /tmp/rand-stream.bin')).split(' ')[0], want);
  await sbx.files.write('/tmp/rand-octet.bin', ab, { useOctetStream: true });
  assert.equal((await run('sha256sum /tmp/rand-octet.bin')).split(' ')[0], want);
  const chunks = [];
  for await (const c of await sbx.files.read('/tmp/rand.bin', { format: 'stream' })) chunks.push(Buffer.from(c));
  assert.equal(sha256(Buffer.concat(chunks)), want);
});

test('write many files at once: multipart with one part per file, relative paths from home', async () => {
  const bytes = randomBytes(70_000);
  const res = await sbx.files.write([
    { path: '/home/user/many/a.txt', data: 'a' },
    { path: 'many/deep/b.bin', data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) },
    { path: '/tmp/many-c.txt', data: new Blob(['ccc']) },
    { path: 'many/ünïcødé 文件.txt', data: 'ü' },
  ]);
  assert.deepEqual(
    res.map((r) => [r.name, r.path, r.type]),
    [
      ['a.txt', '/home/user/many/a.txt', 'file'],
      ['b.bin', '/home/user/many/deep/b.bin', 'file'],
      ['many-c.txt', '/tmp/many-c.txt', 'file'],
      ['ünïcødé 文件.txt', '/home/user/many/ünïcødé 文件.txt', 'file'],
    ],
  );
  assert.equal(await sbx.files.read('many/ünïcødé 文件.txt'), 'ü');
  assert.ok((await sbx.files.list('many')).some((e) => e.name === 'ünïcødé 文件.txt'));
  assert.equal(await sbx.files.read('many/a.txt'), 'a');
  assert.equal(sha256(Buffer.from(await sbx.files.read('many/deep/b.bin', { format: 'bytes' }))), sha256(bytes));
  assert.equal(await sbx.files.read('/tmp/many-c.txt'), 'ccc');
  // Parents were made for the user.
  assert.equal((await run('stat -c %U /home/user/many/deep')).trim(), 'user');
  // Also through the octet-stream path (one request per file).
  const res2 = await sbx.files.write([{ path: 'many/o1', data: 'o1' }, { path: 'many/o2', data: 'o2' }], { useOctetStream: true });
  assert.deepEqual(res2.map((r) => r.path), ['/home/user/many/o1', '/home/user/many/o2']);
});

test('list with depth: envd order, fields, links not followed', async () => {
  await run('mkdir -p /home/user/tree/a/sub && echo x > /home/user/tree/a/x.txt && echo deep > /home/user/tree/a/sub/d.txt'
    + ' && echo bb > /home/user/tree/b.txt && ln -s a /home/user/tree/link && chown -R user:user /home/user/tree');
  const names = async (p, depth) => (await sbx.files.list(p, depth ? { depth } : undefined)).map((e) => e.path);
  assert.deepEqual(await names('/home/user/tree'), ['/home/user/tree/a', '/home/user/tree/b.txt', '/home/user/tree/link']);
  assert.deepEqual(await names('tree', 2), [
    '/home/user/tree/a', '/home/user/tree/a/sub', '/home/user/tree/a/x.txt', '/home/user/tree/b.txt', '/home/user/tree/link',
  ]);
  assert.deepEqual(await names('tree', 5), [
    '/home/user/tree/a', '/home/user/tree/a/sub', '/home/user/tree/a/sub/d.txt', '/home/user/tree/a/x.txt',
    '/home/user/tree/b.txt', '/home/user/tree/link',
  ]);
  const [a, b, link] = await sbx.files.list('tree');
  assert.equal(a.type, 'dir');
  assert.equal(a.permissions, 'drwxr-xr-x');
  assert.equal(b.type, 'file');
  assert.equal(b.size, 3);
  assert.equal(b.mode, 0o644);
  assert.equal(b.owner, 'user');
  assert.equal(b.group, 'user');
  assert.ok(b.modifiedTime instanceof Date && Math.abs(b.modifiedTime - Date.now()) < 120_000);
  assert.equal(link.type, 'dir'); // the target's type (trap 18)
  assert.equal(link.permissions, 'Lrwxrwxrwx');
  assert.equal(link.symlinkTarget, '/home/user/tree/a');
  // Listing through the link keeps the requested path.
  assert.deepEqual(await names('tree/link'), ['/home/user/tree/link/sub', '/home/user/tree/link/x.txt']);
  await assert.rejects(sbx.files.list('tree', { depth: 0 }), InvalidArgumentError);
  await assert.rejects(sbx.files.list('tree/b.txt'), InvalidArgumentError);
  await assert.rejects(sbx.files.list('tree/none'), FileNotFoundError);
});

test('exists and getInfo, symlinks included', async () => {
  assert.equal(await sbx.files.exists('/home/user/hello.txt'), true);
  assert.equal(await sbx.files.exists('/home/user/nope'), false);
  assert.equal(await sbx.files.exists('/home/user/hello.txt/below-a-file'), false);
  const info = await sbx.files.getInfo('hello.txt');
  assert.equal(info.name, 'hello.txt');
  assert.equal(info.path, '/home/user/hello.txt');
  assert.equal(info.type, 'file');
  assert.equal(info.size, Buffer.byteLength('héllo wörld ✓ 𝄞 — \u0000 nul and\r\nCRLF\n'));
  assert.equal(info.permissions, '-rw-r--r--');
  assert.equal(info.symlinkTarget, undefined);
  await run('ln -sf /home/user/hello.txt /tmp/hello-link && ln -sf /nowhere /tmp/broken-link');
  const link = await sbx.files.getInfo('/tmp/hello-link');
  assert.equal(link.type, 'file');
  assert.equal(link.symlinkTarget, '/home/user/hello.txt');
  assert.equal(link.permissions, 'Lrwxrwxrwx');
  assert.equal(link.mode, 0o644);
  const broken = await sbx.files.getInfo('/tmp/broken-link');
  assert.equal(broken.type, undefined);
  await assert.rejects(sbx.files.getInfo('/home/user/nope'), (e) => e instanceof FileNotFoundError && e instanceof NotFoundError);
  const root = await sbx.files.getInfo('/');
  assert.equal(root.type, 'dir');
  assert.equal(root.name, '/');
});

test('makeDir: parents for the user; false when it exists; error over a file', async () => {
  assert.equal(await sbx.files.makeDir('/home/user/made/a/b'), true);
  assert.equal(await sbx.files.makeDir('made/a/b'), false);
  assert.equal((await run('stat -c %U:%G /home/user/made /home/user/made/a/b')).trim(), 'user:user\nuser:user');
  await assert.rejects(sbx.files.makeDir('hello.txt'), InvalidArgumentError);
  assert.equal(await sbx.files.makeDir('/root/as-root', { user: 'root' }), true);
  assert.equal((await run('stat -c %U /root/as-root')).trim(), 'root');
});

test('rename: entry of the destination, parents made, missing source is FileNotFoundError', async () => {
  await sbx.files.write('mv-src.txt', 'move me');
  const e = await sbx.files.rename('mv-src.txt', '/home/user/moved/deeper/dst.txt');
  assert.equal(e.path, '/home/user/moved/deeper/dst.txt');
  assert.equal(e.name, 'dst.txt');
  assert.equal(e.size, 7);
  assert.equal(await sbx.files.exists('mv-src.txt'), false);
  assert.equal(await sbx.files.read('moved/deeper/dst.txt'), 'move me');
  await sbx.files.rename('moved', 'moved2');
  assert.equal(await sbx.files.read('moved2/deeper/dst.txt'), 'move me');
  await assert.rejects(sbx.files.rename('no-such-file', 'x'), FileNotFoundError);
});

test('remove: recursive, links removed not followed, missing is fine', async () => {
  await run('mkdir -p /home/user/rm/d && echo f > /home/user/rm/d/f && ln -s /etc /home/user/rm/etc && ln -s / /home/user/rm/root');
  await sbx.files.remove('/home/user/rm');
  assert.equal(await sbx.files.exists('/home/user/rm'), false);
  assert.equal(await sbx.files.exists('/etc/passwd'), true);
  await sbx.files.remove('/home/user/rm');
  await sbx.files.remove('hello-copy-that-never-existed');
});

test('metadata: X-Metadata-* become user.e2b.* xattrs, replaced on rewrite, shown by getInfo and list', async () => {
  const w = await sbx.files.write('meta.txt', 'm', { metadata: { team: 'infra', 'Build-Id': '42' } });
  assert.deepEqual(w.metadata, { team: 'infra', 'build-id': '42' });
  assert.deepEqual((await sbx.files.getInfo('meta.txt')).metadata, { team: 'infra', 'build-id': '42' });
  const listed = (await sbx.files.list('/home/user')).find((e) => e.name === 'meta.txt');
  assert.deepEqual(listed.metadata, { team: 'infra', 'build-id': '42' });
  await sbx.files.write('meta.txt', 'n');
  assert.equal((await sbx.files.getInfo('meta.txt')).metadata, undefined);
  await sbx.files.write('meta.txt', 'o', { metadata: { k: 'v' }, useOctetStream: true });
  assert.deepEqual((await sbx.files.getInfo('meta.txt')).metadata, { k: 'v' });
  await assert.rejects(sbx.files.write('meta.txt', 'p', { metadata: { k: 'x'.repeat(5000) } }), InvalidArgumentError);
});

test('users: root writes to /root, relative paths resolve in each user\'s home', async () => {
  const e = await sbx.files.write('rel.txt', 'r', { user: 'root' });
  assert.equal(e.path, '/root/rel.txt');
  assert.equal((await run('stat -c %U /root/rel.txt')).trim(), 'root');
  assert.equal(await sbx.files.read('rel.txt', { user: 'root' }), 'r');
  assert.equal((await sbx.files.getInfo('rel.txt', { user: 'root' })).owner, 'root');
  await assert.rejects(sbx.files.read('/root/rel.txt', { user: 'ghost' }), AuthenticationError);
  await assert.rejects(sbx.files.list('/', { user: 'ghost' }), AuthenticationError);
});

test('error classes: missing file, directory, parent that is a file', async () => {
  await assert.rejects(sbx.files.read('/home/user/missing.txt'), (e) => e instanceof FileNotFoundError && /does not exist/.test(e.message));
  await assert.rejects(sbx.files.read('/home/user'), InvalidArgumentError);
  await assert.rejects(sbx.files.write('/home/user/hello.txt/x', 'x'), InvalidArgumentError);
  await assert.rejects(sbx.files.write('/home/user', 'x'), InvalidArgumentError);
});

/** Collects watch events until pred says stop (or a timeout). */
async function collect(dir, act, opts, until) {
  const events = [];
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  const handle = await sbx.files.watchDir(dir, (e) => {
    events.push(e);
    if (until(events)) resolveDone();
  }, opts);
  try {
    await act();
    await within(10_000, done, `events in ${dir}`).catch((e) => {
      throw new Error(`${e.message}; got ${JSON.stringify(events.map((x) => [x.type, x.name]))}`);
    });
  } finally {
    await handle.stop();
  }
  return events;
}

test('watchDir: create, write, chmod, rename, remove in order', async () => {
  await run('mkdir -p /home/user/w && chown user /home/user/w');
  const events = await collect('/home/user/w', async () => {
    await run('cd /home/user/w && printf x > f && chmod 600 f && mv f g && rm g');
  }, undefined, (ev) => ev.some((e) => e.type === 'remove' && e.name === 'g'));
  assert.deepEqual(events.map((e) => [e.type, e.name]), [
    ['create', 'f'], ['write', 'f'], ['chmod', 'f'], ['rename', 'f'], ['create', 'g'], ['remove', 'g'],
  ]);
  assert.ok(events.every((e) => e.entry === undefined));
});

test('watchDir recursive: new directories are followed, mkdir -p is reported level by level', async () => {
  await run('mkdir -p /home/user/wr');
  const events = await collect('/home/user/wr', async () => {
    await run('mkdir -p /home/user/wr/a/b/c');
    await sleep(200);
    await run('printf deep > /home/user/wr/a/b/c/f.txt');
  }, { recursive: true }, (ev) => ev.some((e) => e.name === 'a/b/c/f.txt' && e.type === 'write'));
  const creates = events.filter((e) => e.type === 'create').map((e) => e.name);
  assert.deepEqual(creates, ['a', 'a/b', 'a/b/c', 'a/b/c/f.txt']);
  // Not recursive: below the top level nothing is seen.
  const flat = await collect('/home/user/wr', async () => {
    await run('touch /home/user/wr/a/b/c/hidden && touch /home/user/wr/top');
  }, {}, (ev) => ev.some((e) => e.name === 'top'));
  assert.ok(!flat.some((e) => e.name.includes('hidden')), JSON.stringify(flat));
});

test('watchDir includeEntry: entries on create/write/chmod only', async () => {
  await run('mkdir -p /home/user/we');
  const events = await collect('/home/user/we', async () => {
    await sbx.files.write('/home/user/we/e.txt', 'entry');
    await sbx.files.remove('/home/user/we/e.txt');
  }, { includeEntry: true }, (ev) => ev.some((e) => e.type === 'remove'));
  const create = events.find((e) => e.type === 'create');
  assert.equal(create.entry.name, 'e.txt');
  assert.equal(create.entry.path, '/home/user/we/e.txt');
  assert.equal(create.entry.type, 'file');
  assert.equal(events.find((e) => e.type === 'remove').entry, undefined);
});

test('watchDir: timeout ends with onExit(error); missing dir is FileNotFoundError; a file is InvalidArgumentError', async () => {
  let exitErr = null;
  const exited = new Promise((resolve) => {
    sbx.files.watchDir('/home/user', () => {}, { timeoutMs: 1000, onExit: (e) => { exitErr = e; resolve(); } });
  });
  await within(10_000, exited, 'watch timeout');
  assert.ok(exitErr instanceof SandboxError, String(exitErr));
  await assert.rejects(sbx.files.watchDir('/home/user/nope', () => {}), FileNotFoundError);
  await assert.rejects(sbx.files.watchDir('/home/user/hello.txt', () => {}), InvalidArgumentError);
});

test('hostile: special files, /proc, magic links are refused; links to host paths resolve inside', async () => {
  await run('mkfifo /tmp/fifo');
  const t0 = Date.now();
  await assert.rejects(sbx.files.read('/tmp/fifo'), InvalidArgumentError);
  await assert.rejects(sbx.files.write('/tmp/fifo', 'x'), InvalidArgumentError);
  assert.ok(Date.now() - t0 < 5000);
  await assert.rejects(sbx.files.read('/proc/self/environ'), InvalidArgumentError);
  await assert.rejects(sbx.files.write('/proc/self/comm', 'pwned'), InvalidArgumentError);
  await assert.rejects(sbx.files.read('/proc/1/root/etc/passwd'), SandboxError);
  await assert.rejects(sbx.files.read('/dev/zero'), InvalidArgumentError);
  // A link to the host's state dir is just a path inside the sandbox.
  await run(`ln -s ${server.stateDir} /tmp/host-state && ln -s ${server.stateDir}/api-key /tmp/host-key`);
  await assert.rejects(sbx.files.read('/tmp/host-key'), FileNotFoundError);
  await assert.rejects(sbx.files.read('/tmp/host-state/api-key'), FileNotFoundError);
  await assert.rejects(sbx.files.write('/tmp/host-state/planted', 'x'), SandboxError);
  await assert.rejects(sbx.files.write('/tmp/host-key', 'x'), SandboxError);
  await sbx.files.remove('/tmp/host-state');
  assert.equal(fs.existsSync(path.join(server.stateDir, 'planted')), false);
  assert.ok(fs.existsSync(path.join(server.stateDir, 'api-key')));
  // `..` stops at the sandbox root.
  assert.equal(await sbx.files.read('../../../../../../etc/passwd'), await run('cat /etc/passwd'));
  // Long names are an argument error, not a crash.
  await assert.rejects(sbx.files.write('n'.repeat(300), 'x'), InvalidArgumentError);
  await assert.rejects(sbx.files.getInfo('x/'.repeat(3000)), InvalidArgumentError);
});

test('signed URLs of a secured sandbox: token or signature required, expiry honoured', { timeout: 120 * SECOND }, async (t) => {
  // SDK 2.51 no longer sends `secure`; ask the API for a secured sandbox directly.
  const res = await fetch(`${server.url}/v2/sandboxes`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-API-Key': server.apiKey },
    body: JSON.stringify({ templateID: 'busybox', timeout: 120, secure: true }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  const created = await res.json();
  server.sandboxIds.add(created.sandboxID);
  t.after(() => Sandbox.kill(created.sandboxID).catch(() => {}));
  if (!created.envdAccessToken) {
    t.skip('the daemon returned no envdAccessToken for secure:true');
    return;
  }
  const secured = await Sandbox.connect(created.sandboxID);
  await secured.files.write('/tmp/s.txt', 'secret');
  assert.equal(await secured.files.read('/tmp/s.txt'), 'secret');
  // URLs built with E2B_SANDBOX_URL carry no sandbox id (trap 12): route with the headers.
  const route = { 'E2b-Sandbox-Id': created.sandboxID, 'E2b-Sandbox-Port': '49983' };
  const down = await secured.downloadUrl('/tmp/s.txt');
  assert.match(down, /signature=v1_/);
  let r = await fetch(down, { headers: route });
  assert.equal(r.status, 200);
  assert.equal(await r.text(), 'secret');
  const up = await secured.uploadUrl('/tmp/up.txt', { useSignatureExpiration: 60 });
  const form = new FormData();
  form.append('file', new Blob(['uploaded']), '/tmp/up.txt');
  r = await fetch(up, { method: 'POST', headers: route, body: form });
  assert.equal(r.status, 200, await r.clone().text());
  assert.equal(await secured.files.read('/tmp/up.txt'), 'uploaded');
  // Tampered, expired, or absent: 401.
  const tampered = new URL(down);
  tampered.searchParams.set('path', '/etc/passwd');
  r = await fetch(tampered, { headers: route });
  assert.equal(r.status, 401);
  const expired = await secured.downloadUrl('/tmp/s.txt', { useSignatureExpiration: -10 });
  r = await fetch(expired, { headers: route });
  assert.equal(r.status, 401);
  assert.match((await r.json()).message, /expired/);
  r = await fetch(`${server.url}/files?path=/tmp/s.txt`, { headers: route });
  assert.equal(r.status, 401);
});

test('teardown: kill the sandbox', async () => {
  assert.equal(await sbx.kill(), true);
});
