// One `nestbox serve` per test file, driven through the official e2b SDK.
//
// setupServer() registers before/after hooks that start the daemon on a free
// port with a fresh state dir, point the SDK at it (E2B_API_URL,
// E2B_SANDBOX_URL, E2B_API_KEY), and at the end stop it (SIGTERM, then SIGKILL)
// and check that nothing of the file's sandboxes is left on the host:
// processes whose cwd/root is under the state dir or whose cgroup names one of
// its sandboxes, mounts under the state dir, cgroup dirs named after a sandbox.
// A test that fails gets the daemon's log lines written during that test as
// diagnostics (node's spec reporter prints them under the failure).
//
// Environment: NESTBOX_BIN (default <repo>/build/nestbox), NESTBOX_TEMPLATE_DIR
// (default /var/lib/nestbox/templates), NESTBOX_E2E_KEEP=1 keeps the state dir.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test as nodeTest, before, after } from 'node:test';
import { Sandbox } from 'e2b';

export { Sandbox };

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const NESTBOX_BIN = process.env.NESTBOX_BIN || path.join(REPO, 'build/nestbox');
export const TEMPLATE_DIR = process.env.NESTBOX_TEMPLATE_DIR || '/var/lib/nestbox/templates';

const LOG_LINES_ON_FAILURE = 200;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Rejects with a clear message when `promise` takes longer than `ms`. */
export async function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function readlinkOrNull(p) {
  try {
    return fs.readlinkSync(p);
  } catch {
    return null;
  }
}

function readOrNull(p) {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}

function listPids() {
  return fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number);
}

/** Host pids (among `pids`, default all) whose environment contains `needle`, e.g. a
 *  marker env var given to a command. Narrow `pids` down (hostPidsOfSandbox) where you
 *  can: reading environ takes the task's mm lock, slow on tasks thrashing elsewhere. */
export function hostPidsWithEnv(needle, pids = listPids()) {
  const out = [];
  for (const pid of pids) {
    let env;
    try {
      env = fs.readFileSync(`/proc/${pid}/environ`);
    } catch {
      continue;
    }
    if (env.includes(needle)) out.push(pid);
  }
  return out;
}

/** Host pids whose cgroup path (any hierarchy) names the sandbox. */
export function hostPidsOfSandbox(id) {
  return listPids().filter((pid) => {
    const cg = readOrNull(`/proc/${pid}/cgroup`);
    return cg !== null && cg.split('\n').some((l) => l.split('/').some((part) => part.includes(id)));
  });
}

/** Cgroup roots where nestbox puts its sandboxes: /sys/fs/cgroup/<ctrl>/nestbox (v1 and the
 *  v2 hybrid mount) and /sys/fs/cgroup/nestbox (pure v2). */
export function nestboxCgroupRoots() {
  const roots = [];
  const base = '/sys/fs/cgroup';
  if (fs.existsSync(path.join(base, 'nestbox'))) roots.push(path.join(base, 'nestbox'));
  let entries = [];
  try {
    entries = fs.readdirSync(base, { withFileTypes: true });
  } catch {
    return roots;
  }
  for (const e of entries) {
    const p = path.join(base, e.name, 'nestbox');
    if (e.isDirectory() && !e.isSymbolicLink() && fs.existsSync(p)) roots.push(p);
  }
  return roots;
}

/** Cgroup dirs (at most 4 levels under the nestbox roots) whose name contains the sandbox id. */
export function cgroupDirsOfSandbox(id) {
  const found = [];
  const walk = (dir, depth) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = path.join(dir, e.name);
      if (e.name.includes(id)) found.push(p);
      if (depth < 4) walk(p, depth + 1);
    }
  };
  for (const root of nestboxCgroupRoots()) walk(root, 1);
  return found;
}

/** pids.max / pids.current of the sandbox's pids cgroup (v1 pids controller or v2), or null. */
export function sandboxPidsCgroup(id) {
  for (const dir of cgroupDirsOfSandbox(id)) {
    const max = readOrNull(path.join(dir, 'pids.max'));
    const cur = readOrNull(path.join(dir, 'pids.current'));
    if (max !== null && cur !== null) {
      return {
        dir,
        max: max.trim() === 'max' ? Infinity : Number(max),
        current: () => Number(readOrNull(path.join(dir, 'pids.current')) ?? NaN),
      };
    }
  }
  return null;
}

/** The sandbox's memory cgroup (v1 or v2): limit, usage, peak and how often the limit
 *  was hit (v1 failcnt, v2 memory.events max+oom), or null. */
export function sandboxMemoryCgroup(id) {
  const num = (dir, f) => {
    const v = readOrNull(path.join(dir, f));
    return v === null ? null : v.trim() === 'max' ? Infinity : Number(v);
  };
  for (const dir of cgroupDirsOfSandbox(id)) {
    if (num(dir, 'memory.limit_in_bytes') !== null) {
      return {
        dir,
        limit: num(dir, 'memory.limit_in_bytes'),
        usage: () => num(dir, 'memory.usage_in_bytes'),
        peak: () => num(dir, 'memory.max_usage_in_bytes'),
        hits: () => num(dir, 'memory.failcnt'),
      };
    }
    if (num(dir, 'memory.max') !== null) {
      const events = () => {
        const e = readOrNull(path.join(dir, 'memory.events')) ?? '';
        const get = (k) => Number(e.match(new RegExp(`^${k} (\\d+)`, 'm'))?.[1] ?? 0);
        return get('max') + get('oom');
      };
      return {
        dir,
        limit: num(dir, 'memory.max'),
        usage: () => num(dir, 'memory.current'),
        peak: () => num(dir, 'memory.peak'),
        hits: events,
      };
    }
  }
  return null;
}

function mountsUnder(dir) {
  const unescape = (s) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  return (readOrNull('/proc/self/mountinfo') ?? '')
    .split('\n')
    .filter(Boolean)
    .map((l) => unescape(l.split(' ')[4]))
    .filter((mp) => mp === dir || mp.startsWith(dir + '/'));
}

/** One daemon: start(), create(), stop() (kills leftovers, checks the host). Also used by bench/. */
export class Server {
  /** serveArgs: extra `nestbox serve` options, e.g. ['--domain', 'sandboxes.test']. */
  constructor({ serveArgs = [] } = {}) {
    this.serveArgs = serveArgs;
    this.proc = null;
    this.port = 0;
    this.url = '';
    this.apiKey = '';
    this.stateDir = '';
    this.log = [];
    this.sandboxIds = new Set();
    this.exited = null;
  }

  async start() {
    if (!fs.existsSync(NESTBOX_BIN))
      throw new Error(`${NESTBOX_BIN} does not exist: build it (make) or set NESTBOX_BIN`);
    if (!fs.existsSync(TEMPLATE_DIR))
      throw new Error(`template dir ${TEMPLATE_DIR} does not exist: run scripts/prepare-templates.sh ${TEMPLATE_DIR} or set NESTBOX_TEMPLATE_DIR`);
    this.stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nestbox-e2e-'));
    // mkdtemp makes it 0700; sandbox uids (not root on the host) may need to traverse it.
    fs.chmodSync(this.stateDir, 0o711);
    this.port = await freePort();
    await this.spawnAndWait();
  }

  /** Stops the daemon with `signal` (SIGKILL = a crash) and starts a new one on the same
   *  state dir and port: what a restart after kill -9 looks like to sandboxes. */
  async restart(signal = 'SIGKILL') {
    process.off('exit', this.onExit);
    process.off('SIGTERM', this.onSignal);
    process.off('SIGINT', this.onSignal);
    this.proc.kill(signal);
    await this.exited;
    await this.spawnAndWait();
  }

  async spawnAndWait() {
    const listen = `127.0.0.1:${this.port}`;
    this.proc = spawn(
      NESTBOX_BIN,
      ['serve', '--listen', listen, '--state-dir', this.stateDir, '--template-dir', TEMPLATE_DIR, ...this.serveArgs],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    this.proc.on('error', (e) => this.log.push(`[spawn error] ${e.message}`));
    let stdout = '';
    const collect = (stream, tag) => {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        if (tag === 'stdout') stdout += chunk;
        const lines = (partial + chunk).split('\n');
        partial = lines.pop();
        for (const l of lines) this.log.push(tag === 'stderr' ? l : `[stdout] ${l}`);
      });
      stream.on('end', () => partial && this.log.push(partial));
    };
    collect(this.proc.stdout, 'stdout');
    collect(this.proc.stderr, 'stderr');
    // Never leave the daemon behind if this test process ends abruptly.
    this.onExit = () => this.proc.exitCode === null && this.proc.kill('SIGKILL');
    process.on('exit', this.onExit);
    // node --test sends SIGTERM to a file that ran out of time: kill its sandboxes and
    // stop the daemon before going (sandboxes outlive the daemon by design).
    this.onSignal = async (sig) => {
      process.stderr.write(`# ${sig}: stopping nestbox serve and its sandboxes\n`);
      const res = await within(60_000, this.stop(), 'cleanup after ' + sig).catch((e) => ({ problems: [e.message], notes: [] }));
      for (const p of res.problems) process.stderr.write(`# ${p}\n`);
      process.exit(1);
    };
    process.once('SIGTERM', this.onSignal);
    process.once('SIGINT', this.onSignal);

    const deadline = Date.now() + 30_000;
    let lastErr = '';
    for (;;) {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null)
        throw new Error(`nestbox serve exited during start-up (${this.proc.exitCode ?? this.proc.signalCode}):\n${this.logTail(50)}`);
      if (Date.now() > deadline)
        throw new Error(`nestbox serve not healthy within 30 s (${lastErr}):\n${this.logTail(50)}`);
      try {
        const res = await fetch(`http://${listen}/health`, { signal: AbortSignal.timeout(1000) });
        if (res.status === 200) break;
        lastErr = `GET /health -> ${res.status}`;
      } catch (e) {
        lastErr = `GET /health: ${e.cause?.code ?? e.message}`;
      }
      await sleep(50);
    }

    // The key: printed as `export E2B_API_KEY=...` and stored in <state>/api-key (0600).
    const keyFile = path.join(this.stateDir, 'api-key');
    const st = fs.statSync(keyFile);
    if ((st.mode & 0o777) !== 0o600)
      throw new Error(`${keyFile} has mode ${(st.mode & 0o777).toString(8)}, expected 600`);
    this.apiKey = fs.readFileSync(keyFile, 'utf8').trim();
    const exports = Object.fromEntries(
      [...stdout.matchAll(/^export (E2B_[A-Z_]+)=(.*)$/gm)].map((m) => [m[1], m[2].replace(/^(['"])(.*)\1$/, '$2')]),
    );
    this.url = `http://${listen}`;
    const want = { E2B_API_URL: this.url, E2B_SANDBOX_URL: this.url, E2B_API_KEY: this.apiKey };
    for (const [k, v] of Object.entries(want)) {
      if (exports[k] !== v)
        throw new Error(`nestbox serve printed ${k}=${exports[k] ?? '(nothing)'}, expected ${v}; stdout was:\n${stdout}`);
      process.env[k] = v;
    }
    delete process.env.E2B_DOMAIN;
    delete process.env.E2B_DEBUG;
  }

  logTail(n, from = 0) {
    const lines = this.log.slice(from);
    return lines.slice(-n).join('\n');
  }

  /** Sandbox.create through the SDK, remembering the id for the leftover check. */
  async create(template, opts) {
    const sbx = await Sandbox.create(template, opts);
    this.sandboxIds.add(sbx.sandboxId);
    return sbx;
  }

  /** Kills what tests left running, stops the daemon, checks and cleans the host. */
  stop() {
    this.stopping ??= this.stopOnce();
    return this.stopping;
  }

  async stopOnce() {
    const problems = [];
    const notes = [];
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      try {
        const leaked = [];
        const pager = Sandbox.list({ query: { state: ['running', 'paused'] } });
        while (pager.hasNext) leaked.push(...(await pager.nextItems()));
        for (const s of leaked) {
          this.sandboxIds.add(s.sandboxId);
          notes.push(`a test left sandbox ${s.sandboxId} (${s.state}) behind; killing it`);
          await Sandbox.kill(s.sandboxId).catch((e) => problems.push(`kill ${s.sandboxId}: ${e.message}`));
        }
      } catch (e) {
        notes.push(`could not list leftover sandboxes: ${e.message}`);
      }
    }
    try {
      for (const n of fs.readdirSync(path.join(this.stateDir, 'sandboxes'))) if (/^[a-z0-9]+$/.test(n)) this.sandboxIds.add(n);
    } catch {
      /* no sandboxes dir */
    }
    if (this.proc) {
      if (this.proc.exitCode === null && this.proc.signalCode === null) {
        this.proc.kill('SIGTERM');
        const res = await within(10_000, this.exited, 'SIGTERM').catch(() => null);
        // A clean stop exits 0; a sanitizer build exits non-zero on a leak or memory error.
        if (res && (res.code !== 0 || res.signal))
          problems.push(`nestbox serve exited with ${res.code ?? res.signal} after SIGTERM:\n${this.logTail(80)}`);
        if (res === null) {
          problems.push('nestbox serve ignored SIGTERM for 10 s; sent SIGKILL');
          this.proc.kill('SIGKILL');
          await this.exited;
        }
      } else {
        problems.push(`nestbox serve died before the end of the tests (${this.proc.exitCode ?? this.proc.signalCode})`);
      }
      process.off('exit', this.onExit);
      process.off('SIGTERM', this.onSignal);
      process.off('SIGINT', this.onSignal);
    }

    // Sandbox teardown must be complete when DELETE answered and the daemon exited;
    // allow 2 s for the kernel to finish tearing down namespaces.
    let left;
    for (let i = 0; i < 20; i++) {
      left = this.leftovers();
      if (left.length === 0) break;
      await sleep(100);
    }
    if (left.length) {
      problems.push(`left on the host after the daemon stopped:\n  ${left.map((l) => l.what).join('\n  ')}`);
      await this.cleanLeftovers(left);
    }
    if (process.env.NESTBOX_E2E_KEEP === '1') {
      notes.push(`state dir kept: ${this.stateDir}`);
    } else if (mountsUnder(this.stateDir).length === 0) {
      spawnSync('rm', ['-rf', '--one-file-system', this.stateDir]);
    } else {
      problems.push(`state dir ${this.stateDir} kept: mounts remain under it`);
    }
    return { problems, notes };
  }

  leftovers() {
    const out = [];
    const under = (p) => p !== null && (p === this.stateDir || p.startsWith(this.stateDir + '/'));
    for (const pid of listPids()) {
      if (pid === process.pid) continue;
      const cwd = readlinkOrNull(`/proc/${pid}/cwd`);
      const root = readlinkOrNull(`/proc/${pid}/root`);
      if (under(cwd) || under(root)) {
        // comm, not cmdline: reading cmdline takes the task's mm lock, which a task
        // thrashing at its memory limit can hold for minutes.
        const cmd = (readOrNull(`/proc/${pid}/comm`) ?? '').trim();
        out.push({ kind: 'pid', pid, what: `process ${pid} (${cmd}) cwd=${cwd} root=${root}` });
      }
    }
    for (const id of this.sandboxIds) {
      for (const pid of hostPidsOfSandbox(id)) {
        if (out.some((o) => o.pid === pid)) continue;
        const cmd = (readOrNull(`/proc/${pid}/comm`) ?? '').trim();
        out.push({ kind: 'pid', pid, what: `process ${pid} (${cmd}) in a cgroup of sandbox ${id}` });
      }
    }
    for (const mp of mountsUnder(this.stateDir)) out.push({ kind: 'mount', mp, what: `mount ${mp}` });
    for (const id of this.sandboxIds)
      for (const dir of cgroupDirsOfSandbox(id)) out.push({ kind: 'cgroup', dir, what: `cgroup ${dir}` });
    return out;
  }

  // Only things found under this file's own state dir or sandbox ids: started by our daemon.
  async cleanLeftovers(left) {
    // A sandbox cgroup at its memory limit (a fork bomb) can keep SIGKILLed tasks
    // thrashing for minutes: lift its memory and cpu limits first, then kill every task.
    const dirs = left.filter((x) => x.kind === 'cgroup').map((x) => x.dir);
    const tryWrite = (f, v) => {
      try {
        fs.writeFileSync(f, v);
      } catch {
        /* not this controller, or already gone */
      }
    };
    // (Seen: 4000 SIGKILLed shells stayed runnable for minutes under cpu.cfs_quota_us =
    // one CPU with memory at its limit, and died in seconds once both were lifted.)
    for (const d of dirs) {
      tryWrite(path.join(d, 'memory.memsw.limit_in_bytes'), '-1'); // v1: memsw >= limit, so first
      tryWrite(path.join(d, 'memory.limit_in_bytes'), '-1');
      tryWrite(path.join(d, 'memory.max'), 'max');
      tryWrite(path.join(d, 'memory.swap.max'), 'max');
      tryWrite(path.join(d, 'cpu.cfs_quota_us'), '-1');
      tryWrite(path.join(d, 'cpu.cfs_quota_us'), '4000000');
      tryWrite(path.join(d, 'cpu.max'), 'max');
      tryWrite(path.join(d, 'cgroup.kill'), '1');
    }
    for (let round = 0; round < 20; round++) {
      const pids = new Set(left.filter((l) => l.kind === 'pid').map((l) => l.pid));
      for (const d of dirs) for (const p of (readOrNull(path.join(d, 'cgroup.procs')) ?? '').split('\n')) if (p) pids.add(Number(p));
      if (round > 0 && pids.size === 0) break;
      for (const p of pids) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      left = left.filter((l) => l.kind !== 'pid');
      await sleep(250);
    }
    for (const l of left.filter((x) => x.kind === 'mount').reverse()) spawnSync('umount', ['-l', l.mp]);
    dirs.sort((a, b) => b.length - a.length);
    for (const d of dirs) spawnSync('find', [d, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']);
  }
}

/**
 * Registers the file's server hooks (options as for new Server()). Returns { server, test, sandbox }:
 *  - server: the Server (fields valid once the before hook ran);
 *  - test(name, [opts], fn): node:test's test(), printing the daemon's log of that test on failure;
 *  - sandbox(t, template, opts): Sandbox.create, killed when test t ends.
 */
export function setupServer(options) {
  const server = new Server(options);
  let failed = false;
  before(async () => {
    await server.start();
  });
  after(async () => {
    const { problems, notes } = await server.stop();
    for (const n of notes) process.stderr.write(`# ${n}\n`);
    if (failed || problems.length) {
      process.stderr.write(`# nestbox serve log (last ${LOG_LINES_ON_FAILURE} lines):\n${server.logTail(LOG_LINES_ON_FAILURE)}\n`);
    }
    if (problems.length) throw new Error(problems.join('\n'));
  });

  const test = (name, opts, fn) => {
    if (typeof opts === 'function') [fn, opts] = [opts, {}];
    return nodeTest(name, opts, async (t) => {
      const from = server.log.length;
      try {
        await fn(t);
      } catch (e) {
        failed = true;
        const tail = server.logTail(LOG_LINES_ON_FAILURE, from);
        t.diagnostic(`nestbox serve log during this test:\n${tail || '(nothing)'}`);
        throw e;
      }
    });
  };

  const sandbox = async (t, template, opts) => {
    const sbx = await server.create(template, opts);
    t.after(async () => {
      await Sandbox.kill(sbx.sandboxId).catch(() => {});
    });
    return sbx;
  };

  return { server, test, sandbox };
}
