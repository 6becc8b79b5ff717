// tmux driven like a person would: a detached session of a fixed size on a
// private socket (other tmux users are never touched), send-keys to type,
// capture-pane to read the screen.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { sleep } from './server.mjs';

const SECOND = 1000;
export const LOCAL_PROMPT = 'local$ ';
export const hasTmux = spawnSync('tmux', ['-V']).status === 0;

/** One tmux server on a private socket, so other tmux users are never touched. */
export class Tmux {
  constructor(name, cols, rows) {
    this.socket = `nestbox-e2e-${process.pid}-${name}`;
    this.target = 't';
    const env = ['E2B_API_URL', 'E2B_SANDBOX_URL', 'E2B_API_KEY'].map((k) => `${k}=${process.env[k]}`);
    this.run(
      'new-session', '-d', '-s', this.target, '-x', String(cols), '-y', String(rows),
      'env', ...env, `PS1=${LOCAL_PROMPT}`, 'TERM=xterm-256color',
      'bash', '--norc', '--noprofile', '-i',
    );
    // Fixed size: the window must not follow any (absent) client.
    this.run('set-option', '-t', this.target, 'window-size', 'manual');
  }

  run(...args) {
    const r = spawnSync('tmux', ['-L', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tmux ${args[0]} failed: ${r.stderr}`);
    return r.stdout;
  }

  type(text) {
    // -l: literal, so nothing in text is read as a key name.
    this.run('send-keys', '-t', this.target, '-l', text);
    this.run('send-keys', '-t', this.target, 'Enter');
  }

  screen() {
    return this.run('capture-pane', '-p', '-J', '-t', this.target, '-S', '-200');
  }

  /** Where new output will start: the screen's length without its blank tail. */
  mark() {
    return this.screen().trimEnd().length;
  }

  /** Waits until the pane matches re (tested on the text after `from` chars); returns the match. */
  async waitFor(re, what, ms = 15 * SECOND, from = 0) {
    const deadline = Date.now() + ms;
    let text = '';
    for (;;) {
      text = this.screen();
      const m = text.slice(from).match(re);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`${what}: not on screen within ${ms} ms; screen:\n${text}`);
      await sleep(100);
    }
  }

  /** Pid of the process running in the pane's shell (the CLI), or null. */
  cliPid() {
    const shell = Number(this.run('list-panes', '-t', this.target, '-F', '#{pane_pid}').trim());
    for (const task of fs.readdirSync(`/proc/${shell}/task`)) {
      const kids = fs.readFileSync(`/proc/${shell}/task/${task}/children`, 'utf8').trim();
      if (kids) return Number(kids.split(/\s+/)[0]);
    }
    return null;
  }

  kill() {
    spawnSync('tmux', ['-L', this.socket, 'kill-server']);
  }
}

/** The local shell's tty is cooked again: `stty -a` lists icanon and echo, not -icanon / -echo. */
export async function assertCooked(tmux) {
  const from = tmux.mark();
  tmux.type(`echo "FLAGS:$(stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo)' | tr '\\n' ' ')"`);
  const m = await tmux.waitFor(/^FLAGS:(.*)$/m, 'stty -a flags', 10 * SECOND, from);
  const flags = m[1].trim().split(/\s+/).sort();
  assert.deepEqual(flags, ['echo', 'icanon'], `local tty not restored: ${m[1]}`);
}

