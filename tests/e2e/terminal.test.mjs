// `nestbox sandbox terminal` (and `create --terminal`) driven like a person
// would, inside tmux: a detached session of a fixed size runs a local shell,
// send-keys types, capture-pane reads the screen. Checks: a prompt appears,
// input reaches the sandbox's shell, the PTY has the local size and follows
// tmux resizes, `exit 3` ends the CLI with status 3, and every exit path
// (exit, SIGTERM) leaves the local terminal in cooked mode (icanon, echo) and
// no shell behind in the sandbox. The CLI reads E2B_API_URL, E2B_SANDBOX_URL
// and E2B_API_KEY, which setupServer() exports.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { Sandbox } from 'e2b';
import { setupServer, sleep, NESTBOX_BIN } from './helpers/server.mjs';
import { Tmux, assertCooked, hasTmux } from './helpers/tmux.mjs';

const { server, test, sandbox } = setupServer();
const SECOND = 1000;

// Until the binary links libnestbox, say so instead of failing every test.
const hasSandboxCli = spawnSync(NESTBOX_BIN, ['sandbox', '--help']).status === 0;
const noCli = !hasSandboxCli && `${NESTBOX_BIN} has no 'sandbox' command`;
const noTerm = noCli || (!hasTmux && 'no tmux');

// The terminal's shell: bash when `test -x /bin/bash` holds (busybox's bash applet
// counts), else sh; both with -i -l like the SDK's pty.create.
const isPtyShell = (p) => /^\/bin\/(ba)?sh -i -l$/.test(p);

/** The processes envd lists in the sandbox, as "cmd args". */
async function processes(sbx) {
  return (await sbx.commands.list()).map((p) => [p.cmd, ...(p.args ?? [])].join(' '));
}

test('terminal: prompt, input, size, resize, exit status and a restored tty', { skip: noTerm, timeout: 120 * SECOND }, async (t) => {
  const sbx = await sandbox(t, 'busybox', { timeoutMs: 300 * SECOND });
  const endBefore = (await Sandbox.getInfo(sbx.sandboxId)).endAt.getTime();
  const tmux = new Tmux('basic', 100, 30);
  t.after(() => tmux.kill());

  await tmux.waitFor(/^local\$ ?$/m, 'local prompt');
  tmux.type(`${NESTBOX_BIN} sandbox terminal ${sbx.sandboxId}; echo CLI-EXIT=$?`);
  // busybox sh's prompt ends in "$ " (or "# " for root), on a line of its own.
  const start = tmux.screen().indexOf('CLI-EXIT=$?');
  await tmux.waitFor(/^[^\n]*[$#] ?$/m, 'the sandbox shell prompt', 20 * SECOND, start);

  let from = tmux.mark();
  tmux.type('echo hi-$((1+2))');
  await tmux.waitFor(/^hi-3$/m, 'echo output', 10 * SECOND, from);

  from = tmux.mark();
  tmux.type('stty size');
  await tmux.waitFor(/^30 100$/m, 'stty size = the tmux size', 10 * SECOND, from);

  tmux.run('resize-window', '-t', tmux.target, '-x', '120', '-y', '40');
  // SIGWINCH -> Update is asynchronous: ask until the new size shows.
  let seen = false;
  for (let i = 0; i < 20 && !seen; i++) {
    from = tmux.mark();
    tmux.type('stty size');
    seen = await tmux.waitFor(/^(\d+ \d+)$/m, 'stty size after resize', 10 * SECOND, from).then((m) => m[1] === '40 120');
    if (!seen) await sleep(250);
  }
  assert.ok(seen, `stty size never reported 40 120:\n${tmux.screen()}`);

  // While attached the keepalive must never shorten the sandbox's life.
  const endDuring = (await Sandbox.getInfo(sbx.sandboxId)).endAt.getTime();
  assert.ok(endDuring >= endBefore - 1000, `endAt went from ${new Date(endBefore)} to ${new Date(endDuring)}`);

  tmux.type('exit 3');
  await tmux.waitFor(/^CLI-EXIT=3$/m, 'the CLI exit status 3', 15 * SECOND);
  await assertCooked(tmux);
  assert.ok(await Sandbox.getInfo(sbx.sandboxId).then((i) => i.state === 'running'), 'the sandbox outlives the terminal');
});

test('terminal: SIGTERM restores the tty, exits 143 and kills the remote shell', { skip: noTerm, timeout: 120 * SECOND }, async (t) => {
  const sbx = await sandbox(t, 'busybox', { timeoutMs: 300 * SECOND });
  const tmux = new Tmux('sigterm', 80, 24);
  t.after(() => tmux.kill());

  await tmux.waitFor(/^local\$ ?$/m, 'local prompt');
  tmux.type(`${NESTBOX_BIN} sandbox terminal ${sbx.sandboxId}; echo CLI-EXIT=$?`);
  const start = tmux.screen().indexOf('CLI-EXIT=$?');
  await tmux.waitFor(/^[^\n]*[$#] ?$/m, 'the sandbox shell prompt', 20 * SECOND, start);
  const procs = await processes(sbx);
  assert.ok(procs.some(isPtyShell), `a PTY shell runs in the sandbox: ${JSON.stringify(procs)}\n${tmux.screen()}`);

  const pid = tmux.cliPid();
  assert.ok(pid, 'found the CLI process');
  process.kill(pid, 'SIGTERM');
  await tmux.waitFor(/^CLI-EXIT=143$/m, 'the CLI exit status 143', 15 * SECOND);
  await assertCooked(tmux);
  let left = [];
  for (let i = 0; i < 20; i++) {
    left = (await processes(sbx)).filter(isPtyShell);
    if (left.length === 0) break;
    await sleep(100);
  }
  assert.deepEqual(left, [], 'the remote shell was killed');
});

test('terminal: bash where the template has it (base)', { skip: noTerm, timeout: 120 * SECOND }, async (t) => {
  const sbx = await sandbox(t, 'base', { timeoutMs: 300 * SECOND });
  const tmux = new Tmux('bash', 100, 30);
  t.after(() => tmux.kill());

  await tmux.waitFor(/^local\$ ?$/m, 'local prompt');
  tmux.type(`${NESTBOX_BIN} sandbox terminal ${sbx.sandboxId}; echo CLI-EXIT=$?`);
  const start = tmux.screen().indexOf('CLI-EXIT=$?');
  await tmux.waitFor(/^[^\n]*[$#] ?$/m, 'the sandbox shell prompt', 20 * SECOND, start);
  const from = tmux.mark();
  tmux.type('echo "shell=$0 term=$TERM bash=${BASH_VERSION:+yes}"');
  await tmux.waitFor(/^shell=\/bin\/bash term=xterm-256color bash=yes$/m, 'bash with TERM like the SDK', 10 * SECOND, from);
  tmux.type('exit');
  await tmux.waitFor(/^CLI-EXIT=0$/m, 'the CLI exit status 0', 15 * SECOND);
  await assertCooked(tmux);
});

test('create --terminal: attached sandbox, killed on exit like E2B\'s CLI', { skip: noTerm, timeout: 120 * SECOND }, async (t) => {
  const tmux = new Tmux('create', 90, 25);
  t.after(() => tmux.kill());

  await tmux.waitFor(/^local\$ ?$/m, 'local prompt');
  tmux.type(`${NESTBOX_BIN} sandbox create --terminal busybox; echo CLI-EXIT=$?`);
  const m = await tmux.waitFor(/Terminal connecting to sandbox ([a-z0-9]+)/, 'the sandbox id', 60 * SECOND);
  const id = m[1];
  server.sandboxIds.add(id);
  t.after(() => Sandbox.kill(id).catch(() => {}));
  const start = tmux.screen().indexOf('Terminal connecting');
  await tmux.waitFor(/^[^\n]*[$#] ?$/m, 'the sandbox shell prompt', 20 * SECOND, start);
  const from = tmux.mark();
  tmux.type('stty size');
  await tmux.waitFor(/^25 90$/m, 'stty size', 10 * SECOND, from);
  tmux.type('exit 0');
  await tmux.waitFor(/^CLI-EXIT=0$/m, 'the CLI exit status 0', 15 * SECOND);
  await assertCooked(tmux);
  const running = await Sandbox.list({ query: { state: ['running'] } }).nextItems();
  assert.ok(!running.some((s) => s.sandboxId === id), 'the sandbox was killed when the terminal closed');
});

// The rest of `nestbox sandbox` (no tty needed): the same library, the same server.
function cli(args, input) {
  const r = spawnSync(NESTBOX_BIN, ['sandbox', ...args], { encoding: 'utf8', input, timeout: 60 * SECOND });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('sandbox exec: stdout, stderr, stdin and the exit status pass through', { skip: noCli, timeout: 60 * SECOND }, async (t) => {
  const sbx = await sandbox(t, 'busybox', { timeoutMs: 120 * SECOND });
  assert.deepEqual(cli(['exec', sbx.sandboxId, '--', 'sh', '-c', 'echo out; echo err >&2; exit 7']), {
    status: 7,
    stdout: 'out\n',
    stderr: 'err\n',
  });
  assert.deepEqual(cli(['exec', sbx.sandboxId, '--', 'sh', '-c', 'tr a-z A-Z; exit 5'], 'piped stdin\n'), {
    status: 5,
    stdout: 'PIPED STDIN\n',
    stderr: '',
  });
  assert.equal(cli(['exec', sbx.sandboxId, '--', 'sh', '-c', 'kill -9 $$']).status, 137);
  const missing = cli(['exec', 'nosuchsandbox', '--', 'true']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /Sandbox nosuchsandbox wasn't found/);
});

test('sandbox create/list/info/kill through the CLI', { skip: noCli, timeout: 60 * SECOND }, async () => {
  const created = cli(['create', '--timeout', '120', 'busybox']);
  assert.equal(created.status, 0, created.stderr);
  const id = created.stdout.trim();
  assert.match(id, /^[a-z0-9]+$/);
  server.sandboxIds.add(id);
  const info = await Sandbox.getInfo(id);
  assert.equal(info.templateId, 'busybox');
  assert.ok(info.endAt.getTime() - Date.now() <= 121 * SECOND, 'the --timeout was sent');

  const list = cli(['list', '--json']);
  assert.equal(list.status, 0, list.stderr);
  assert.ok(JSON.parse(list.stdout).some((s) => s.sandboxID === id && s.state === 'running'));
  const shown = cli(['info', '--json', id]);
  assert.equal(JSON.parse(shown.stdout).sandboxID, id);
  assert.match(cli(['info', id]).stdout, new RegExp(`^Sandbox ID: +${id}$`, 'm'));

  assert.deepEqual(cli(['kill', id]), { status: 0, stdout: `Sandbox ${id} has been killed\n`, stderr: '' });
  const again = cli(['kill', id]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /wasn't found/);
  const gone = cli(['info', id]);
  assert.equal(gone.status, 1);
  assert.match(gone.stderr, /wasn't found/);
});

test('sandbox CLI errors read like the SDK\'s', { skip: noCli, timeout: 30 * SECOND }, async () => {
  const r = spawnSync(NESTBOX_BIN, ['sandbox', 'list'], {
    encoding: 'utf8',
    env: { ...process.env, E2B_API_KEY: 'e2b_wrong' },
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^nestbox: Unauthorized, please check your credentials\. - /);
  const nokey = spawnSync(NESTBOX_BIN, ['sandbox', 'list'], {
    encoding: 'utf8',
    env: { ...process.env, E2B_API_KEY: '' },
  });
  assert.equal(nokey.status, 1);
  assert.match(nokey.stderr, /API key is required/);
});
