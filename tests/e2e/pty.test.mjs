// sandbox.pty through the official SDK (issue 5): size at create, echo of input,
// resize, disconnect and reconnect by pid, kill, exit codes, 20 PTYs at once.
import assert from 'node:assert/strict';
import { CommandExitError } from 'e2b';
import { setupServer, sleep } from './helpers/server.mjs';

const { test, sandbox } = setupServer();
const SECOND = 1000;
const enc = new TextEncoder();

/** Collects a PTY's bytes as text and waits for a pattern in what arrived after `from`. */
class Screen {
  constructor() {
    this.text = '';
    this.decoder = new TextDecoder();
    this.onData = (bytes) => {
      this.text += this.decoder.decode(bytes, { stream: true });
    };
  }

  mark() {
    return this.text.length;
  }

  async waitFor(re, what, from = 0, ms = 10 * SECOND) {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.text.slice(from).match(re);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`${what}: not seen within ${ms} ms; got:\n${this.text.slice(from)}`);
      await sleep(20);
    }
  }
}

const type = (sbx, pid, line) => sbx.pty.sendInput(pid, enc.encode(line + '\n'));

test('pty: size at create, input echoed, resize seen by stty, exit code on wait', { timeout: 60 * SECOND }, async (t) => {
  const sbx = await sandbox(t, 'base');
  const screen = new Screen();
  const pty = await sbx.pty.create({ cols: 91, rows: 27, onData: screen.onData, timeoutMs: 0 });
  assert.ok(pty.pid > 0);

  let from = screen.mark();
  await type(sbx, pty.pid, 'stty size');
  await screen.waitFor(/stty size/, 'the typed input is echoed', from);
  await screen.waitFor(/^27 91\r?$/m, 'stty reports the create size', from);

  await sbx.pty.resize(pty.pid, { cols: 120, rows: 40 });
  from = screen.mark();
  await type(sbx, pty.pid, 'stty size');
  await screen.waitFor(/^40 120\r?$/m, 'stty reports the new size', from);

  // The shell sees the resize as SIGWINCH: a trap prints it.
  from = screen.mark();
  await type(sbx, pty.pid, "trap 'echo WINCH-$(tput cols)' WINCH");
  await sleep(200);
  await sbx.pty.resize(pty.pid, { cols: 100, rows: 30 });
  await type(sbx, pty.pid, 'true');
  await screen.waitFor(/WINCH-100/, 'SIGWINCH reaches the shell', from);

  await type(sbx, pty.pid, 'exit 7');
  await assert.rejects(pty.wait(), (e) => e instanceof CommandExitError && e.exitCode === 7);
});

test('pty: TERM, envs and cwd as given; the shell is a session leader with a tty', { timeout: 60 * SECOND }, async (t) => {
  const sbx = await sandbox(t, 'base');
  const screen = new Screen();
  const pty = await sbx.pty.create({ cols: 80, rows: 24, onData: screen.onData, envs: { FOO: 'bar' }, cwd: '/tmp', timeoutMs: 0 });
  const from = screen.mark();
  await type(sbx, pty.pid, 'echo "T=$TERM F=$FOO D=$PWD"; tty; ps -o sid= -p $$ | tr -d " "; echo $$');
  const m = await screen.waitFor(/T=(\S+) F=(\S+) D=(\S+)\r?\n(\/dev\/pts\/\d+)\r?\n(\d+)\r?\n(\d+)\r?\n/, 'env, tty and session', from);
  assert.equal(m[1], 'xterm-256color');
  assert.equal(m[2], 'bar');
  assert.equal(m[3], '/tmp');
  assert.equal(m[5], m[6], 'the shell leads its own session');
  await sbx.pty.kill(pty.pid);
});

test('pty: Ctrl-C interrupts the foreground job, not the shell', { timeout: 60 * SECOND }, async (t) => {
  const sbx = await sandbox(t, 'base');
  const screen = new Screen();
  const pty = await sbx.pty.create({ cols: 80, rows: 24, onData: screen.onData, timeoutMs: 0 });
  await type(sbx, pty.pid, 'sleep 30');
  await sleep(300);
  let from = screen.mark();
  await sbx.pty.sendInput(pty.pid, new Uint8Array([3]));
  await screen.waitFor(/\^C/, 'the tty echoes ^C', from);
  from = screen.mark();
  await type(sbx, pty.pid, 'echo SLEEP-RC=$?');
  await screen.waitFor(/^SLEEP-RC=130\r?$/m, 'sleep ended by SIGINT (130)', from);
  from = screen.mark();
  await type(sbx, pty.pid, 'echo still-$((2*21))');
  await screen.waitFor(/still-42/, 'the shell is still there', from);
  await sbx.pty.kill(pty.pid);
});

test('pty: disconnect keeps it running; connect by pid gets later output; kill ends it', { timeout: 60 * SECOND }, async (t) => {
  const sbx = await sandbox(t, 'base');
  const first = new Screen();
  const pty = await sbx.pty.create({ cols: 80, rows: 24, onData: first.onData, timeoutMs: 0 });
  await type(sbx, pty.pid, 'echo one');
  await first.waitFor(/^one\r?$/m, 'first output');
  await pty.disconnect();

  // Output produced while nobody is attached is not replayed; what comes later is.
  await type(sbx, pty.pid, 'echo while-away');
  await sleep(300);
  const second = new Screen();
  const again = await sbx.pty.connect(pty.pid, { onData: second.onData, timeoutMs: 0 });
  assert.equal(again.pid, pty.pid);
  await type(sbx, pty.pid, 'echo two-$((1+1))');
  await second.waitFor(/^two-2\r?$/m, 'output after reconnect');
  assert.ok(!first.text.includes('two-2'), 'the disconnected handle got nothing more');

  const listed = await sbx.commands.list();
  assert.ok(listed.some((p) => p.pid === pty.pid), 'the PTY is listed while it runs');
  assert.equal(await sbx.pty.kill(pty.pid), true);
  await assert.rejects(again.wait(), (e) => e instanceof CommandExitError && e.exitCode === -1 && /signal: killed/.test(e.error));
  assert.equal(await sbx.pty.kill(pty.pid), false, 'a second kill finds nothing');
});

test('pty: 20 PTYs at once in one sandbox, each with its own output', { timeout: 120 * SECOND }, async (t) => {
  const sbx = await sandbox(t, 'base');
  const screens = Array.from({ length: 20 }, () => new Screen());
  const ptys = await Promise.all(screens.map((s, i) => sbx.pty.create({ cols: 60 + i, rows: 20, onData: s.onData, timeoutMs: 0 })));
  assert.equal(new Set(ptys.map((p) => p.pid)).size, 20);
  await Promise.all(ptys.map((p, i) => type(sbx, p.pid, `echo pty-$((${i}*1000)); stty size`)));
  await Promise.all(screens.map((s, i) => s.waitFor(new RegExp(`^pty-${i * 1000}\\r?\\n20 ${60 + i}\\r?$`, 'm'), `pty ${i}`)));
  await Promise.all(ptys.map((p) => type(sbx, p.pid, 'exit 0')));
  const results = await Promise.all(ptys.map((p) => p.wait()));
  for (const r of results) assert.equal(r.exitCode, 0);
});
