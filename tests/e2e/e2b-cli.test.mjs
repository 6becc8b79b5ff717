// The official E2B CLI (@e2b/cli, pinned) against nestbox: it speaks the v1
// endpoints (POST /sandboxes with secure:true, POST /sandboxes/{id}/connect) and
// drives a PTY for its terminal, so this is what developer-environment tools see.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Sandbox } from 'e2b';
import { setupServer, sleep, REPO } from './helpers/server.mjs';
import { Tmux, assertCooked, hasTmux } from './helpers/tmux.mjs';

const { test } = setupServer();
const SECOND = 1000;
const E2B = path.join(REPO, 'tests/e2e/node_modules/.bin/e2b');

/** Runs the E2B CLI with the server's env; returns { status, stdout, stderr }. */
function e2b(args, input) {
  const r = spawnSync(E2B, args, { encoding: 'utf8', input, timeout: 60 * SECOND, env: process.env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const SANDBOX_ID = /\b([a-z0-9]{20})\b/;

test('e2b sandbox create --detach, list, info, exec, kill', { timeout: 120 * SECOND }, async () => {
  const created = e2b(['sandbox', 'create', 'busybox', '--detach']);
  assert.equal(created.status, 0, created.stderr);
  const id = created.stdout.match(SANDBOX_ID)?.[1];
  assert.ok(id, `a sandbox id in: ${created.stdout}`);

  // v1 create: secure:true gives the sandbox an envd access token.
  const info = await Sandbox.getInfo(id);
  assert.equal(info.state, 'running');
  assert.equal(info.templateId, 'busybox');

  const list = e2b(['sandbox', 'list']);
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${id}\\s+busybox`));

  const shown = e2b(['sandbox', 'info', id]);
  assert.equal(shown.status, 0, shown.stderr);
  assert.match(shown.stdout, new RegExp(id));

  const exec = e2b(['sandbox', 'exec', id, '--', 'sh', '-c', 'echo from-cli; echo oops >&2; exit 2']);
  assert.equal(exec.status, 2);
  assert.equal(exec.stdout, 'from-cli\n');
  assert.match(exec.stderr, /oops/);

  const killed = e2b(['sandbox', 'kill', id]);
  assert.equal(killed.status, 0, killed.stderr);
  assert.match(killed.stdout, /has been killed/);
  await assert.rejects(Sandbox.getInfo(id), (e) => e.constructor.name.includes('NotFound'));
  const again = e2b(['sandbox', 'kill', id]);
  assert.match(again.stdout + again.stderr, /wasn't found|not found/);
});

test('e2b sandbox pause, list -s paused, resume, metrics, logs, kill --all', { timeout: 120 * SECOND }, async () => {
  const sbx = await Sandbox.create('busybox', { metadata: { workspace: 'cli-test' } });
  const id = sbx.sandboxId;
  await sbx.commands.run('echo before > /tmp/kept');

  const paused = e2b(['sandbox', 'pause', id]);
  assert.equal(paused.status, 0, paused.stderr);
  assert.match(paused.stdout, new RegExp(`Sandbox ${id} has been paused`));
  const listed = e2b(['sandbox', 'list', '-s', 'paused', '-f', 'json']);
  assert.equal(listed.status, 0, listed.stderr);
  const rows = JSON.parse(listed.stdout);
  assert.deepEqual(rows.map((r) => [r.sandboxId, r.state, r.metadata.workspace]), [[id, 'paused', 'cli-test']]);

  const resumed = e2b(['sandbox', 'resume', id]);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`Sandbox ${id} has been resumed`));
  assert.equal((await Sandbox.getInfo(id)).state, 'running');
  assert.equal((await sbx.commands.run('cat /tmp/kept')).stdout, 'before\n');

  const metrics = e2b(['sandbox', 'metrics', id]);
  assert.equal(metrics.status, 0, metrics.stderr);
  assert.match(metrics.stdout, /CPU:\s+[\d.]+% \/\s+1 Core/);
  assert.match(metrics.stdout, /Memory:\s+\d+ \/ 256\s+MiB/);
  assert.match(metrics.stdout, /Disk:\s+\d+ \/ 512\s+MiB/);

  const logs = e2b(['sandbox', 'logs', id]);
  assert.equal(logs.status, 0, logs.stderr);
  assert.match(logs.stdout, /Process \d+ started: \/bin\/bash -l -c echo before > \/tmp\/kept/);
  assert.match(logs.stdout, /INFO/);

  const killed = e2b(['sandbox', 'kill', '--all']);
  assert.equal(killed.status, 0, killed.stderr);
  assert.match(killed.stdout, new RegExp(`Sandbox ${id} has been killed`));
  await assert.rejects(Sandbox.getInfo(id), (e) => e.constructor.name.includes('NotFound'));
});

test('e2b template list shows the prepared templates', async () => {
  const r = e2b(['template', 'list']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\bbase\b/);
  assert.match(r.stdout, /\bbusybox\b/);
});

test('e2b sandbox create opens a terminal; exit closes it and the sandbox dies', { skip: !hasTmux && 'no tmux', timeout: 120 * SECOND }, async () => {
  const tmux = new Tmux('e2bcli', 100, 30);
  try {
    tmux.type(`${E2B} sandbox create base; echo "CLI-EXIT:$?"`);
    const m = await tmux.waitFor(/sandbox ID ([a-z0-9]{20})/, 'the CLI names the sandbox', 30 * SECOND);
    const id = m[1];
    await tmux.waitFor(/user@[^:]*:~\$ $/m, 'a bash prompt as user', 30 * SECOND);
    let from = tmux.mark();
    tmux.type('echo hi-$((40+2)); stty size');
    await tmux.waitFor(/^hi-42$/m, 'command output', 15 * SECOND, from);
    await tmux.waitFor(/^30 100$/m, 'the PTY has the tmux size', 15 * SECOND, from);
    from = tmux.mark();
    tmux.type('exit');
    await tmux.waitFor(/^CLI-EXIT:0$/m, 'the CLI exits 0', 30 * SECOND, from);
    await assertCooked(tmux);
    // E2B's CLI sets the timeout to 1 s on exit; the reaper then kills it.
    let gone = false;
    for (let i = 0; i < 40 && !gone; i++) {
      await sleep(250);
      gone = await Sandbox.getInfo(id).then(() => false, () => true);
    }
    assert.ok(gone, `sandbox ${id} was still alive 10 s after its terminal closed`);
  } finally {
    tmux.kill();
  }
});
