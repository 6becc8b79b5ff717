// Sandbox lifecycle through the official SDK: create, getInfo, list (pagination,
// metadata and state filters), connect, setTimeout, expiry, kill, isRunning,
// create-time envs and API errors (protocol.md §2).
import assert from 'node:assert/strict';
import {
  Sandbox,
  SandboxError,
  NotFoundError,
  SandboxNotFoundError,
  AuthenticationError,
} from 'e2b';
import { spawnSync } from 'node:child_process';
import { setupServer, sleep } from './helpers/server.mjs';

const { server, test, sandbox } = setupServer();

const SECOND = 1000;

function assertNear(actualMs, expectedMs, slackMs, what) {
  assert.ok(
    Math.abs(actualMs - expectedMs) <= slackMs,
    `${what}: ${new Date(actualMs).toISOString()} is not within ${slackMs} ms of ${new Date(expectedMs).toISOString()}`,
  );
}

async function listAll(opts) {
  const pager = Sandbox.list(opts);
  const pages = [];
  while (pager.hasNext) pages.push(await pager.nextItems());
  return pages;
}

test('create busybox: getInfo reports what was asked', async (t) => {
  const metadata = { suite: 'lifecycle', 'owner name': 'Jane Doe', q: 'x=1&y=2' };
  const before = Date.now();
  const sbx = await sandbox(t, 'busybox', { metadata, timeoutMs: 60 * SECOND });
  const after = Date.now();
  assert.match(sbx.sandboxId, /^[a-z0-9]+$/, 'sandbox ids must not contain "-" (protocol.md §1.4)');

  for (const info of [await sbx.getInfo(), await Sandbox.getInfo(sbx.sandboxId)]) {
    assert.equal(info.sandboxId, sbx.sandboxId);
    assert.ok(
      info.templateId === 'busybox' || info.name === 'busybox',
      `templateId ${info.templateId} / name ${info.name}: neither names the template busybox`,
    );
    assert.deepEqual(info.metadata, metadata);
    assert.ok(info.startedAt instanceof Date && !isNaN(info.startedAt), `startedAt ${info.startedAt}`);
    assert.ok(info.endAt instanceof Date && !isNaN(info.endAt), `endAt ${info.endAt}`);
    // RFC 3339 may carry whole seconds only: allow one second each side.
    assert.ok(info.startedAt.getTime() >= before - 1000 && info.startedAt.getTime() <= after + 1000,
      `startedAt ${info.startedAt.toISOString()} outside the create call`);
    assertNear(info.endAt.getTime(), info.startedAt.getTime() + 60 * SECOND, 2 * SECOND, 'endAt = startedAt + timeout');
    assert.equal(info.state, 'running');
    assert.ok(Number.isInteger(info.cpuCount) && info.cpuCount >= 1, `cpuCount ${info.cpuCount}`);
    assert.ok(Number.isInteger(info.memoryMB) && info.memoryMB >= 64, `memoryMB ${info.memoryMB}`);
    assert.match(info.envdVersion, /^\d+\.\d+\.\d+/);
  }
  assert.equal(await sbx.isRunning(), true);
  const r = await sbx.commands.run('echo ok');
  assert.equal(r.stdout, 'ok\n');
});

test('create base: Debian with python3 and user "user"', { timeout: 90 * SECOND }, async (t) => {
  const sbx = await sandbox(t, 'base', { timeoutMs: 60 * SECOND });
  const info = await sbx.getInfo();
  assert.ok(info.templateId === 'base' || info.name === 'base', `templateId ${info.templateId} / name ${info.name}`);
  assert.equal(info.state, 'running');
  const r = await sbx.commands.run('. /etc/os-release && echo $ID; python3 -c "print(6*7)"; id -un');
  assert.equal(r.stdout, 'debian\n42\nuser\n');
  assert.equal(r.exitCode, 0);
});

test('list: pagination, metadata filter with spaces, "=" and "&", state filter, order', async (t) => {
  const suite = `list ${Date.now()}`;
  const tricky = 'a=b&c=d e%20f';
  const a = await sandbox(t, 'busybox', { metadata: { suite, tricky, 'owner name': 'Jane Doe' } });
  const b = await sandbox(t, 'busybox', { metadata: { suite, tricky } });
  const c = await sandbox(t, 'busybox', { metadata: { suite, tricky: 'other value' } });
  const ids = (items) => items.map((s) => s.sandboxId);

  // Pagination: 3 matches with limit 2 -> a first page of 2, then the rest, no repeats.
  const pages = await listAll({ query: { metadata: { suite } }, limit: 2 });
  assert.equal(pages[0].length, 2, `first page has ${pages[0].length} items`);
  const all = pages.flat();
  assert.deepEqual(ids(all).sort(), [a, b, c].map((s) => s.sandboxId).sort());
  for (const s of all) {
    assert.equal(s.state, 'running');
    assert.equal(s.metadata.suite, suite);
    assert.ok(s.startedAt instanceof Date && !isNaN(s.startedAt));
    assert.ok(s.endAt instanceof Date && !isNaN(s.endAt));
  }
  // Default order: newest first (desc by start time); order:'asc' reverses it.
  const starts = all.map((s) => s.startedAt.getTime());
  assert.deepEqual(starts, [...starts].sort((x, y) => y - x), 'default order is desc by startedAt');
  const asc = (await listAll({ query: { metadata: { suite } }, order: 'asc' })).flat();
  const ascStarts = asc.map((s) => s.startedAt.getTime());
  assert.deepEqual(ascStarts, [...ascStarts].sort((x, y) => x - y), 'order asc');
  assert.equal(asc.length, 3);

  const byTricky = (await listAll({ query: { metadata: { suite, tricky } } })).flat();
  assert.deepEqual(ids(byTricky).sort(), [a, b].map((s) => s.sandboxId).sort());
  assert.deepEqual(byTricky.find((s) => s.sandboxId === a.sandboxId).metadata, { suite, tricky, 'owner name': 'Jane Doe' });

  const byTwo = (await listAll({ query: { metadata: { tricky, 'owner name': 'Jane Doe' } } })).flat();
  assert.deepEqual(ids(byTwo), [a.sandboxId]);

  const none = (await listAll({ query: { metadata: { suite, tricky: 'a=b' } } })).flat();
  assert.deepEqual(ids(none), []);

  const running = (await listAll({ query: { metadata: { suite }, state: ['running'] } })).flat();
  assert.equal(running.length, 3);
  const paused = (await listAll({ query: { metadata: { suite }, state: ['paused'] } })).flat();
  assert.deepEqual(ids(paused), []);

  // A killed sandbox leaves the list.
  assert.equal(await c.kill(), true);
  const afterKill = (await listAll({ query: { metadata: { suite } } })).flat();
  assert.deepEqual(ids(afterKill).sort(), [a, b].map((s) => s.sandboxId).sort());
});

test('kill: true, then false; unknown id: false; a killed sandbox is gone', async (t) => {
  const sbx = await sandbox(t, 'busybox');
  assert.equal(await sbx.isRunning(), true);
  assert.equal(await Sandbox.kill(sbx.sandboxId), true);
  assert.equal(await Sandbox.kill(sbx.sandboxId), false);
  assert.equal(await sbx.kill(), false);
  assert.equal(await Sandbox.kill('nosuchsandbox0000000'), false);
  assert.equal(await sbx.isRunning(), false);
  await assert.rejects(Sandbox.getInfo(sbx.sandboxId), SandboxNotFoundError);
  await assert.rejects(sbx.commands.run('echo never'), SandboxNotFoundError);
  await assert.rejects(Sandbox.connect(sbx.sandboxId), SandboxNotFoundError);
  await assert.rejects(sbx.setTimeout(30 * SECOND), SandboxNotFoundError);
});

test('connect to a running sandbox', async (t) => {
  const sbx = await sandbox(t, 'busybox', { timeoutMs: 60 * SECOND });
  await sbx.commands.run('echo from-first > /tmp/mark');
  const endBefore = (await sbx.getInfo()).endAt.getTime();

  // connect without timeoutMs: the server default (300 s, protocol.md §7 d3), only extending.
  const again = await Sandbox.connect(sbx.sandboxId);
  assert.equal(again.sandboxId, sbx.sandboxId);
  const r = await again.commands.run('cat /tmp/mark');
  assert.equal(r.stdout, 'from-first\n');
  const endDefault = (await sbx.getInfo()).endAt.getTime();
  assertNear(endDefault, Date.now() + 300 * SECOND, 3 * SECOND, 'endAt after connect() with the default timeout');
  assert.ok(endDefault > endBefore);

  // A shorter timeout never shortens the end time; a longer one extends it.
  await Sandbox.connect(sbx.sandboxId, { timeoutMs: 10 * SECOND });
  const endShorter = (await sbx.getInfo()).endAt.getTime();
  assert.ok(endShorter >= endDefault - 1000, `connect(10 s) shortened endAt to ${new Date(endShorter).toISOString()}`);
  await Sandbox.connect(sbx.sandboxId, { timeoutMs: 600 * SECOND });
  const endLonger = (await sbx.getInfo()).endAt.getTime();
  assertNear(endLonger, Date.now() + 600 * SECOND, 3 * SECOND, 'endAt after connect(600 s)');
});

test('setTimeout moves endAt (extend and reduce)', async (t) => {
  const sbx = await sandbox(t, 'busybox', { timeoutMs: 30 * SECOND });
  const info0 = await sbx.getInfo();
  assertNear(info0.endAt.getTime(), info0.startedAt.getTime() + 30 * SECOND, 2 * SECOND, 'initial endAt');

  await sbx.setTimeout(300 * SECOND);
  const info1 = await sbx.getInfo();
  assertNear(info1.endAt.getTime(), Date.now() + 300 * SECOND, 3 * SECOND, 'endAt after setTimeout(300 s)');
  assert.ok(info1.endAt > info0.endAt);
  assert.equal(info1.startedAt.getTime(), info0.startedAt.getTime(), 'startedAt must not move');

  await Sandbox.setTimeout(sbx.sandboxId, 120 * SECOND);
  const info2 = await sbx.getInfo();
  assertNear(info2.endAt.getTime(), Date.now() + 120 * SECOND, 3 * SECOND, 'endAt after setTimeout(120 s)');
  assert.equal(await sbx.isRunning(), true);
});

test('a sandbox with timeoutMs 2000 disappears after its end time', { timeout: 60 * SECOND }, async (t) => {
  const sbx = await sandbox(t, 'busybox', { timeoutMs: 2000, metadata: { expiry: 'yes' } });
  const info = await sbx.getInfo();
  assertNear(info.endAt.getTime(), info.startedAt.getTime() + 2 * SECOND, 1500, 'endAt = startedAt + 2 s');
  assert.equal((await sbx.commands.run('echo alive')).stdout, 'alive\n');

  let goneAt = null;
  const limit = info.endAt.getTime() + 10 * SECOND;
  while (Date.now() < limit) {
    try {
      await Sandbox.getInfo(sbx.sandboxId);
    } catch (e) {
      assert.ok(e instanceof SandboxNotFoundError, `getInfo threw ${e.name}: ${e.message}`);
      assert.ok(e instanceof NotFoundError);
      goneAt = Date.now();
      break;
    }
    await sleep(200);
  }
  assert.ok(goneAt !== null, `still there 10 s after its end time ${info.endAt.toISOString()}`);
  assert.ok(goneAt >= info.endAt.getTime() - 1000, `gone at ${new Date(goneAt).toISOString()}, before its end time`);
  assert.equal(await sbx.isRunning(), false);
  assert.equal(await sbx.kill(), false);
  const listed = (await listAll({ query: { metadata: { expiry: 'yes' } } })).flat();
  assert.deepEqual(listed.map((s) => s.sandboxId), []);
});

test('envs given at create are seen by commands; per-command envs win', async (t) => {
  const sbx = await sandbox(t, 'busybox', { envs: { NB_E2E_A: 'x y', NB_E2E_B: 'from-create' } });
  const r = await sbx.commands.run('echo "$NB_E2E_A|$NB_E2E_B"');
  assert.equal(r.stdout, 'x y|from-create\n');
  const r2 = await sbx.commands.run('echo "$NB_E2E_A|$NB_E2E_B"', { envs: { NB_E2E_B: 'from-run' } });
  assert.equal(r2.stdout, 'x y|from-run\n');
});

test('wrong API key -> AuthenticationError on every control call', async () => {
  const apiKey = 'e2b_0000000000000000000000000000000000000000';
  await assert.rejects(Sandbox.create('busybox', { apiKey }), AuthenticationError);
  await assert.rejects(Sandbox.list({ apiKey }).nextItems(), AuthenticationError);
  await assert.rejects(Sandbox.kill('nosuchsandbox0000000', { apiKey }), AuthenticationError);
  await assert.rejects(Sandbox.getInfo('nosuchsandbox0000000', { apiKey }), AuthenticationError);
  await assert.rejects(Sandbox.connect('nosuchsandbox0000000', { apiKey }), AuthenticationError);
});

test('unknown template -> SandboxError (400/404) naming the template', async () => {
  const name = 'no-such-template-e2e';
  const err = await Sandbox.create(name).then(
    (s) => {
      server.sandboxIds.add(s.sandboxId);
      return null;
    },
    (e) => e,
  );
  assert.ok(err, 'create with an unknown template succeeded');
  assert.ok(err instanceof SandboxError, `${err.name}: ${err.message}`);
  assert.ok(!(err instanceof AuthenticationError));
  assert.ok([400, 404].includes(err.statusCode), `statusCode ${err.statusCode}: ${err.message}`);
  assert.ok(err.message.startsWith(`${err.statusCode}: `), err.message);
  assert.ok(err.message.includes(name), `message does not name the template: ${err.message}`);
});

test('by default getHost() names <port>-<id>.localhost:<daemon port>, which curl and fetch reach', { timeout: 60 * SECOND }, async (t) => {
  const sbx = await sandbox(t, 'base');
  const daemonPort = new URL(server.url).port;
  const host = sbx.getHost(8000);
  assert.equal(host, `8000-${sbx.sandboxId}.localhost:${daemonPort}`);
  await sbx.files.write('/home/user/www/index.html', 'served by the sandbox\n');
  await sbx.commands.run('cd /home/user/www && exec python3 -m http.server 8000', { background: true });
  // curl resolves *.localhost to the loopback itself, as browsers do.
  let out = '';
  for (let i = 0; i < 50 && out !== 'served by the sandbox\n'; i++) {
    const r = spawnSync('curl', ['-s', '--max-time', '2', `http://${host}/index.html`], { encoding: 'utf8' });
    out = r.stdout;
    if (out !== 'served by the sandbox\n') await sleep(100);
  }
  assert.equal(out, 'served by the sandbox\n');
  // node's fetch asks glibc, which resolves it through nss-myhostname (make run installs it).
  const res = await fetch(`http://${host}/index.html`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'served by the sandbox\n');
});
