// Commands through the official SDK (protocol.md §3.4): output bytes, exit codes,
// event order, background processes, stdin, connect by pid, users, cwd, envs,
// timeouts, big and multi-byte output, and reaping.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  Sandbox,
  CommandExitError,
  TimeoutError,
  NotFoundError,
  InvalidArgumentError,
  AuthenticationError,
} from 'e2b';
import { setupServer, within, sleep } from './helpers/server.mjs';

const { server, test } = setupServer();
const SECOND = 1000;

let bb; // one busybox sandbox for most tests
let base; // one base sandbox for python and users

test('setup: one busybox and one base sandbox', { timeout: 120 * SECOND }, async () => {
  [bb, base] = await Promise.all([
    server.create('busybox', { timeoutMs: 600 * SECOND }),
    server.create('base', { timeoutMs: 600 * SECOND }),
  ]);
});

test('echo hello -> stdout "hello\\n", exit 0', async () => {
  const r = await bb.commands.run('echo hello');
  assert.deepEqual({ stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode, error: r.error }, {
    stdout: 'hello\n',
    stderr: '',
    exitCode: 0,
    error: undefined,
  });
});

test('exit 3 -> CommandExitError with exitCode 3, stdout and stderr', async () => {
  const err = await bb.commands.run('echo out; echo err >&2; exit 3').then(() => null, (e) => e);
  assert.ok(err instanceof CommandExitError, `got ${err?.name}: ${err?.message}`);
  assert.equal(err.exitCode, 3);
  assert.equal(err.stdout, 'out\n');
  assert.equal(err.stderr, 'err\n');
  assert.equal(err.error, 'exit status 3');
  assert.equal(err.message, 'exit status 3');
});

test('stdout/stderr callbacks arrive in the order written', async () => {
  const events = [];
  const r = await bb.commands.run(
    'echo o1; sleep 0.2; echo e1 >&2; sleep 0.2; echo o2; sleep 0.2; echo e2 >&2; sleep 0.2; printf o3',
    { onStdout: (d) => events.push(['out', d]), onStderr: (d) => events.push(['err', d]) },
  );
  assert.deepEqual(events, [
    ['out', 'o1\n'],
    ['err', 'e1\n'],
    ['out', 'o2\n'],
    ['err', 'e2\n'],
    ['out', 'o3'],
  ]);
  assert.equal(r.stdout, 'o1\no2\no3');
  assert.equal(r.stderr, 'e1\ne2\n');
});

test('python3 on base: print(1+1) -> "2\\n"', async () => {
  const r = await base.commands.run('python3 -c "print(1+1)"');
  assert.equal(r.stdout, '2\n');
  assert.equal(r.stderr, '');
});

test('background command: list shows it, kill ends it with "signal: killed"', async () => {
  const h1 = await bb.commands.run('sleep 30', { background: true });
  const h2 = await bb.commands.run('sleep 31', { background: true, envs: { NB_LIST: 'yes' }, cwd: '/tmp' });
  assert.ok(Number.isInteger(h1.pid) && h1.pid > 0, `pid ${h1.pid}`);
  assert.equal(h1.exitCode, undefined);

  const listed = await bb.commands.list();
  const p1 = listed.find((p) => p.pid === h1.pid);
  const p2 = listed.find((p) => p.pid === h2.pid);
  assert.ok(p1, `pid ${h1.pid} not in ${JSON.stringify(listed)}`);
  assert.equal(p1.cmd, '/bin/bash');
  assert.deepEqual(p1.args, ['-l', '-c', 'sleep 30']);
  assert.ok(p2, `pid ${h2.pid} not listed`);
  assert.deepEqual(p2.args, ['-l', '-c', 'sleep 31']);
  assert.equal(p2.envs.NB_LIST, 'yes');
  assert.equal(p2.cwd, '/tmp');

  assert.equal(await h1.kill(), true);
  const err = await within(10 * SECOND, h1.wait().then(() => null, (e) => e), 'wait() after kill');
  assert.ok(err instanceof CommandExitError, `got ${err?.name}: ${err?.message}`);
  assert.equal(err.exitCode, -1);
  assert.equal(err.error, 'signal: killed');

  assert.equal(await bb.commands.kill(h2.pid), true);
  await within(10 * SECOND, h2.wait().catch(() => {}), 'wait() after commands.kill');
  const after = await bb.commands.list();
  assert.deepEqual(after.filter((p) => p.pid === h1.pid || p.pid === h2.pid), []);
  assert.equal(await bb.commands.kill(h1.pid), false, 'killing an exited pid');
});

test('commands.kill of an unknown pid -> false', async () => {
  assert.equal(await bb.commands.kill(999999), false);
});

test('stdin: sendStdin then closeStdin reaches cat exactly', async () => {
  const h = await bb.commands.run('cat; echo " [eof]"', { background: true, stdin: true });
  await h.sendStdin('abc\n');
  await bb.commands.sendStdin(h.pid, 'déf 日本\n');
  await h.sendStdin(new Uint8Array([0x78, 0x79, 0x7a]));
  await h.closeStdin();
  const r = await within(10 * SECOND, h.wait(), 'cat after closeStdin');
  assert.equal(r.stdout, 'abc\ndéf 日本\nxyz [eof]\n');
  assert.equal(r.exitCode, 0);
});

test('without stdin:true, stdin is empty (/dev/null)', async () => {
  const r = await bb.commands.run('cat; echo "rc=$?"');
  assert.equal(r.stdout, 'rc=0\n');
});

test('connect to a background command by pid gets the later output', async () => {
  const early = [];
  const h = await bb.commands.run('echo early; sleep 2; echo late; echo late-err >&2; exit 4', {
    background: true,
    onStdout: (d) => early.push(d),
  });
  await sleep(300);
  await h.disconnect();
  const out = [];
  const h2 = await bb.commands.connect(h.pid, { onStdout: (d) => out.push(d) });
  assert.equal(h2.pid, h.pid);
  const err = await within(10 * SECOND, h2.wait().then(() => null, (e) => e), 'connected wait()');
  assert.ok(err instanceof CommandExitError, `got ${err?.name}: ${err?.message}`);
  assert.equal(err.exitCode, 4);
  assert.equal(err.stdout, 'late\n', 'connect must deliver only output produced after it (no replay)');
  assert.equal(err.stderr, 'late-err\n');
  assert.deepEqual(out, ['late\n']);
  assert.deepEqual(early, ['early\n']);
});

test('connect to an unknown pid -> NotFoundError', async () => {
  await assert.rejects(bb.commands.connect(999999), NotFoundError);
});

test('cwd, envs, and a missing cwd', async () => {
  assert.equal((await bb.commands.run('pwd', { cwd: '/tmp' })).stdout, '/tmp\n');
  assert.equal((await bb.commands.run('pwd', { cwd: '/' })).stdout, '/\n');
  const r = await bb.commands.run('echo "$A|$B|$C"', { envs: { A: '1', B: 'two words', C: 'x=y;$HOME' } });
  assert.equal(r.stdout, '1|two words|x=y;$HOME\n');
  await assert.rejects(bb.commands.run('pwd', { cwd: '/no/such/dir' }), InvalidArgumentError);
});

test('pip install works on base as on E2B: as user into ~/.local, then importable', { timeout: 60 * SECOND }, async () => {
  // No network in tests: a package of our own, built with what python3-pip brings.
  const make = [
    'mkdir -p /tmp/nbpkg/nbpkg',
    'echo "X = 42" > /tmp/nbpkg/nbpkg/__init__.py',
    'printf \'[build-system]\\nrequires = ["setuptools"]\\nbuild-backend = "setuptools.build_meta"\\n' +
      '[project]\\nname = "nbpkg"\\nversion = "1.0"\\n\' > /tmp/nbpkg/pyproject.toml',
  ].join(' && ');
  assert.equal((await base.commands.run(make)).exitCode, 0);
  const pip = await base.commands.run('pip install --no-index --no-build-isolation -q /tmp/nbpkg', { timeoutMs: 50 * SECOND });
  assert.equal(pip.exitCode, 0, pip.stderr);
  assert.doesNotMatch(pip.stderr, /externally-managed/);
  const r = await base.commands.run('python3 -c "import nbpkg, os; print(nbpkg.X, nbpkg.__file__.startswith(os.path.expanduser(\'~/.local/\')))"');
  assert.equal(r.stdout, '42 True\n');
  assert.equal((await base.commands.run('python3 -m venv /tmp/venv && /tmp/venv/bin/python -c "print(1)"')).stdout, '1\n');
});

test('users on base: default "user", root, user; HOME and default cwd follow', async () => {
  assert.equal((await base.commands.run('id -un; echo $HOME; pwd')).stdout, 'user\n/home/user\n/home/user\n');
  assert.equal((await base.commands.run('id -un; id -u; echo $HOME', { user: 'root' })).stdout, 'root\n0\n/root\n');
  assert.equal((await base.commands.run('id -un; echo $HOME', { user: 'user' })).stdout, 'user\n/home/user\n');
  assert.equal((await base.commands.run('touch /tmp/by-user && stat -c %U /tmp/by-user', { user: 'user' })).stdout, 'user\n');
  await assert.rejects(base.commands.run('id', { user: 'nosuchuser' }), AuthenticationError);
});

test('timeoutMs 200 on sleep 5 -> TimeoutError, and the process is gone', async () => {
  const t0 = Date.now();
  const err = await bb.commands.run('sleep 5', { timeoutMs: 200 }).then(() => null, (e) => e);
  const took = Date.now() - t0;
  assert.ok(err instanceof TimeoutError, `got ${err?.name}: ${err?.message}`);
  assert.ok(took < 3000, `took ${took} ms`);
  await sleep(300);
  const left = (await bb.commands.list()).filter((p) => p.args?.includes('sleep 5'));
  assert.deepEqual(left, [], 'the timed-out process must be killed by the sandbox, not only abandoned');
  const ps = await bb.commands.run("ps -o args | grep -c '^sleep 5' || true");
  assert.equal(ps.stdout, '0\n');
});

test('5 MB of stdout arrives whole (sha256)', { timeout: 60 * SECOND }, async () => {
  const n = 800000;
  const expected = Array.from({ length: n }, (_, i) => i + 1).join('\n') + '\n';
  const sha = createHash('sha256').update(expected).digest('hex');
  let chunks = 0;
  let streamed = '';
  const r = await bb.commands.run(`seq 1 ${n}`, {
    onStdout: (d) => {
      chunks++;
      streamed += d;
    },
  });
  assert.ok(expected.length > 5 * 1024 * 1024, `expected ${expected.length} bytes`);
  assert.equal(r.stdout.length, expected.length);
  assert.equal(createHash('sha256').update(r.stdout).digest('hex'), sha);
  assert.equal(streamed, r.stdout);
  assert.ok(chunks > 1, 'output should arrive in several chunks');
  const inside = await bb.commands.run(`seq 1 ${n} | sha256sum`);
  assert.equal(inside.stdout, `${sha}  -\n`);
});

test('unicode output is exact, also when chunks split characters', async () => {
  const s = 'héllo wörld — 日本語 🎉 ∑ Ω';
  assert.equal((await bb.commands.run(`printf '%s\\n' '${s}'`)).stdout, `${s}\n`);
  assert.equal((await bb.commands.run(`printf '%s' '${s}' >&2`)).stderr, s);
  // 22-byte lines: 32 KiB pipe chunks end inside 3-byte characters.
  const r = await bb.commands.run('yes 日本語テキスト | head -n 20000');
  assert.equal(r.stdout, '日本語テキスト\n'.repeat(20000));
});

test('300 sequential runs leave no zombie, inside or on the host', { timeout: 150 * SECOND }, async () => {
  // The process count comes from the shell itself (no pipeline whose members may or may
  // not have started yet when the glob is expanded).
  const count = 'grep -l "^State:.*Z" /proc/[0-9]*/status 2>/dev/null | wc -l; set -- /proc/[0-9]*; echo $#';
  const before = (await bb.commands.run(count)).stdout.split('\n');
  for (let i = 0; i < 300; i++) {
    const r = await bb.commands.run(i % 2 ? 'true' : 'echo x');
    assert.equal(r.exitCode, 0);
  }
  // A process of an earlier test may still be on its way out: wait until the count settles.
  let after;
  for (let i = 0; i < 25; i++) {
    await sleep(200);
    after = (await bb.commands.run(count)).stdout.split('\n');
    if (after[0].trim() === '0' && after[1].trim() === before[1].trim()) break;
  }
  assert.equal(after[0].trim(), '0', 'zombies inside the sandbox');
  assert.equal(after[1].trim(), before[1].trim(), 'process count inside the sandbox changed');
  const { readdirSync, readFileSync } = await import('node:fs');
  const zombies = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (state === 'Z' && Number(ppid) === server.proc.pid) zombies.push(pid);
  }
  assert.deepEqual(zombies, [], 'zombie children of nestbox serve on the host');
});

test('teardown: kill both sandboxes', async () => {
  assert.equal(await bb.kill(), true);
  assert.equal(await base.kill(), true);
  assert.equal(await Sandbox.kill(bb.sandboxId), false);
});
