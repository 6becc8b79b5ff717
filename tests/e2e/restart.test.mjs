// Sandboxes do not belong to the daemon's process: after kill -9 of `nestbox serve`
// a new one on the same state dir re-adopts every sandbox (running and paused),
// their processes and files go on, and warm-pool sandboxes of the dead daemon are
// removed rather than leaked.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Sandbox } from 'e2b';
import { setupServer, sleep } from './helpers/server.mjs';

const { server, test } = setupServer();
const SECOND = 1000;

test('kill -9 of the daemon: a new one re-adopts running and paused sandboxes', { timeout: 120 * SECOND }, async () => {
  const a = await Sandbox.create('busybox', { metadata: { who: 'a' } });
  const b = await Sandbox.create('busybox');
  await a.commands.run('echo kept > /tmp/f');
  const bg = await a.commands.run('i=0; while true; do i=$((i+1)); echo $i > /tmp/tick; sleep 0.05; done', { background: true, timeoutMs: 0 });
  await b.pause();
  const endBefore = (await Sandbox.getInfo(a.sandboxId)).endAt.getTime();

  await server.restart('SIGKILL');

  const infoA = await Sandbox.getInfo(a.sandboxId);
  assert.equal(infoA.state, 'running');
  assert.deepEqual(infoA.metadata, { who: 'a' });
  assert.equal(infoA.endAt.getTime(), endBefore, 'the end time survives the restart');
  assert.equal((await Sandbox.getInfo(b.sandboxId)).state, 'paused');

  const a2 = await Sandbox.connect(a.sandboxId);
  assert.equal((await a2.commands.run('cat /tmp/f')).stdout, 'kept\n');
  assert.ok((await a2.commands.list()).some((p) => p.pid === bg.pid), 'the background command survived');
  const t1 = (await a2.commands.run('cat /tmp/tick')).stdout;
  await sleep(200);
  assert.notEqual((await a2.commands.run('cat /tmp/tick')).stdout, t1, 'and it still runs');

  const b2 = await Sandbox.connect(b.sandboxId);
  assert.equal((await b2.commands.run('echo resumed')).stdout, 'resumed\n');

  // Only the two sandboxes (and the new daemon's own warm pool) have dirs: the dead
  // daemon's warm sandboxes were removed at start.
  const dirs = fs.readdirSync(path.join(server.stateDir, 'sandboxes'));
  const listed = new Set([a.sandboxId, b.sandboxId]);
  const others = dirs.filter((d) => !listed.has(d));
  const templates = 3; // busybox, base, code-interpreter-v1
  const poolPerTemplate = 2; // nestbox serve's default --pool
  assert.ok(others.length <= templates * poolPerTemplate, `leftover sandbox dirs: ${others.join(' ')}`);

  assert.equal(await Sandbox.kill(a.sandboxId), true);
  assert.equal(await Sandbox.kill(b.sandboxId), true);
});
