// Pause and resume (cgroup freezer): files and processes survive, state and
// errors as the SDK expects, autoPause at the end time, autoResume on traffic.
import assert from 'node:assert/strict';
import { Sandbox } from 'e2b';
import { setupServer, sleep } from './helpers/server.mjs';

const { test, sandbox } = setupServer();
const SECOND = 1000;

test('pause keeps files and processes; connect resumes them', { timeout: 60 * SECOND }, async (t) => {
  const sbx = await sandbox(t, 'busybox');
  await sbx.commands.run('echo kept > /tmp/marker');
  const bg = await sbx.commands.run('i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done', {
    background: true,
    timeoutMs: 0,
  });

  assert.equal(await sbx.pause(), true);
  const info = await Sandbox.getInfo(sbx.sandboxId);
  assert.equal(info.state, 'paused');
  assert.equal(await sbx.isRunning(), false, 'a paused sandbox does not answer /health');
  const paused = await Sandbox.list({ query: { state: ['paused'] } }).nextItems();
  assert.ok(paused.some((s) => s.sandboxId === sbx.sandboxId), 'listed as paused');
  assert.equal(await sbx.pause(), false, 'pausing twice answers 409 -> false');

  const resumed = await Sandbox.connect(sbx.sandboxId);
  assert.equal((await Sandbox.getInfo(sbx.sandboxId)).state, 'running');
  assert.equal((await resumed.commands.run('cat /tmp/marker')).stdout, 'kept\n');
  const a = Number((await resumed.commands.run('cat /tmp/count')).stdout);
  await sleep(300);
  const b = Number((await resumed.commands.run('cat /tmp/count')).stdout);
  assert.ok(b > a, `the background loop runs again after resume (${a} -> ${b})`);
  assert.ok((await resumed.commands.list()).some((p) => p.pid === bg.pid), 'the background command survived');
  await resumed.commands.kill(bg.pid);
});

test('a paused sandbox can be killed; nothing of it remains', { timeout: 60 * SECOND }, async (t) => {
  const sbx = await Sandbox.create('busybox');
  await sbx.pause();
  assert.equal(await Sandbox.kill(sbx.sandboxId), true);
  await assert.rejects(Sandbox.getInfo(sbx.sandboxId));
});

test('autoPause: at its end time the sandbox is paused, not killed; connect brings it back', { timeout: 60 * SECOND }, async (t) => {
  const sbx = await sandbox(t, 'busybox', { timeoutMs: 2 * SECOND, lifecycle: { onTimeout: 'pause' } });
  await sbx.commands.run('echo before > /tmp/f');
  let state;
  for (let i = 0; i < 40 && state !== 'paused'; i++) {
    await sleep(200);
    state = (await Sandbox.getInfo(sbx.sandboxId)).state;
  }
  assert.equal(state, 'paused');
  const back = await Sandbox.connect(sbx.sandboxId, { timeoutMs: 60 * SECOND });
  assert.equal((await back.commands.run('cat /tmp/f')).stdout, 'before\n');
  const info = await Sandbox.getInfo(sbx.sandboxId);
  assert.ok(info.endAt.getTime() > Date.now() + 30 * SECOND, 'resumed with the lifetime connect asked for');
});

test('autoResume: traffic to a paused sandbox resumes it', { timeout: 60 * SECOND }, async (t) => {
  const sbx = await sandbox(t, 'busybox', { lifecycle: { onTimeout: 'pause', autoResume: true } });
  await sbx.pause();
  assert.equal((await Sandbox.getInfo(sbx.sandboxId)).state, 'paused');
  assert.equal((await sbx.commands.run('echo awake')).stdout, 'awake\n');
  assert.equal((await Sandbox.getInfo(sbx.sandboxId)).state, 'running');
});
