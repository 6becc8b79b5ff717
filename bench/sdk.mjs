// The nestbox side of the bench, through the official SDK against a fresh
// `nestbox serve` (the e2e helper starts it and checks the host afterwards):
//   (a) Sandbox.create() -> first stdout byte of commands.run('echo hi'); with
//       BENCH_PEERS_ROOTFS set, beside the peers (peers.sh in its serve-a phase), the
//       tools taking turns in blocks (BLOCK_A) so noise on a busy host hits all alike;
//       from an idle host and back to back (REGIMES_A); and the same SDK calls against
//       instant-e2b.mjs, a server that answers at once: the SDK's own share
//   (b) commands.run('true') round trip in one sandbox
//   (c) idle memory per sandbox over BENCH_IDLE sandboxes: sum of their memory
//       cgroups, and the drop of MemAvailable (which includes the daemon's growth)
// Prints result lines (stats.mjs) on stdout, progress on stderr.
// Env: BENCH_TEMPLATE (base), BENCH_RUNS_A (50, per regime), BENCH_WARMUP_A (20), BENCH_SETTLE_MS (25),
// BENCH_BLOCK_A (5),
// BENCH_RUNS_B (200), BENCH_IDLE (200), NESTBOX_BIN, NESTBOX_TEMPLATE_DIR.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { Server, Sandbox, cgroupDirsOfSandbox, sleep } from '../tests/e2e/helpers/server.mjs';
import { emit, emitValue, nowMs } from './stats.mjs';
import { sampleMemAvailable } from './memavailable.mjs';

const template = process.env.BENCH_TEMPLATE || 'base';
const runsA = Number(process.env.BENCH_RUNS_A || 50);
// Unmeasured (a) runs first: node's JIT compiles the SDK's paths, and every peer's
// files are in the page cache, before anything counts.
const warmupA = Number(process.env.BENCH_WARMUP_A ?? 20);
// (a) is measured twice. "idle": a pause before every run, nestbox's and each peer's,
// as when a sandbox is asked of a host that was doing nothing; what the previous run
// left to the kernel's workers (namespaces, cgroups and mounts are torn down after the
// process is gone) is finished by then. "busy": runs back to back, as in a loop of
// creates. On this kind of host (a VM whose idle vCPUs sleep) the two differ a lot
// for crun and little for nestbox, so both are reported.
// Within a regime the tools take turns in blocks: a lead-in run, unmeasured, then
// BLOCK_A measured runs of the same tool, then the next tool. Each run thus follows a
// run of its own tool, and pays for what that one left to the kernel (a network
// namespace, cgroups and mounts are torn down by kernel workers after the last process
// is gone), not for another tool's; the turns spread host noise over all of them.
const BLOCK_A = Number(process.env.BENCH_BLOCK_A ?? 5);
const REGIMES_A = [
  { name: 'idle', suffix: '', settleMs: Number(process.env.BENCH_SETTLE_MS ?? 25), what: 'from an idle host' },
  { name: 'busy', suffix: '.busy', settleMs: 0, what: 'back to back' },
];

/** Sum of the run time (ns) of every thread of pid, from schedstat. */
function cpuNs(pid) {
  let sum = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      sum += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      /* the thread ended */
    }
  }
  return sum;
}

/** Resolves once the daemon has used no CPU for 3 ms in a row (at most 500 ms). */
async function daemonQuiet(pid) {
  const end = nowMs() + 500;
  let last = cpuNs(pid);
  let still = 0;
  while (still < 3 && nowMs() < end) {
    await sleep(1);
    const now = cpuNs(pid);
    still = now === last ? still + 1 : 0;
    last = now;
  }
}
const runsB = Number(process.env.BENCH_RUNS_B || 200);
const idle = Number(process.env.BENCH_IDLE || 200);
const log = (m) => process.stderr.write(`sdk: ${m}\n`);
const MiB = 1024 * 1024;

const rss = (pid) => Number(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)/m)?.[1] ?? 0) * 1024;

/** Bytes charged to the sandbox: its top-most cgroup dir that has a memory usage file. */
function sandboxMemory(id) {
  const dirs = cgroupDirsOfSandbox(id).sort((a, b) => a.length - b.length);
  for (const d of dirs) {
    for (const f of ['memory.current', 'memory.usage_in_bytes']) {
      const p = path.join(d, f);
      if (fs.existsSync(p)) return Number(fs.readFileSync(p, 'utf8'));
    }
  }
  return null;
}

/**
 * instant-e2b.mjs, a server that answers at once: run() times one (a) against it, the
 * official SDK's own share of every nestbox run.
 */
async function startInstant() {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'instant-e2b.mjs')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const { value } = await lines.next();
  const url = `http://127.0.0.1:${Number(value)}`;
  const opts = { apiUrl: url, sandboxUrl: url };
  const run = async () => {
    const t0 = nowMs();
    const sbx = await Sandbox.create('base', opts);
    let first = null;
    const r = await sbx.commands.run('echo hi', { onStdout: () => first ?? (first = nowMs()) });
    if (r.stdout !== 'hi\n' || first === null) throw new Error(`instant server: echo hi gave ${JSON.stringify(r.stdout)}`);
    await sbx.kill();
    return first - t0;
  };
  const stop = () => child.stdin.end();
  return { run, stop };
}

/**
 * peers.sh in its serve-a phase: run(key) has it time one run of that peer.
 * Its info lines are passed through to our stdout for the report.
 */
async function startPeers(rootfs) {
  const child = spawn(path.join(import.meta.dirname, 'peers.sh'), [rootfs], {
    env: { ...process.env, BENCH_PEERS_PHASES: 'serve-a' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve(code ?? sig)));
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`peers.sh exited (${await exited}) before answering`);
    return JSON.parse(value);
  };
  const run = async (key) => {
    child.stdin.write(`${key}\n`);
    for (;;) {
      const o = await next();
      if (o.key?.startsWith('info.')) {
        process.stdout.write(JSON.stringify(o) + '\n');
        continue;
      }
      if (o.error) throw new Error(`peer ${key}: ${o.error}`);
      return o.ms;
    }
  };
  const keys = ['a.crun', 'a.bwrap', 'a.crun.sdkcmd', 'a.bwrap.sdkcmd'];
  for (const k of keys) await run(k); // warm-up, and proof that every peer runs
  const stop = async () => {
    child.stdin.end();
    for (;;) {
      const { value, done } = await lines.next();
      if (done) break;
      if (value.includes('"info.')) process.stdout.write(value + '\n');
    }
    const code = await exited;
    if (code !== 0) throw new Error(`peers.sh (serve-a) exited ${code}`);
  };
  return { keys, run, stop };
}

/** Runs fn over items with at most `width` in flight. */
async function pool(items, width, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

const server = new Server({ serveArgs: (process.env.BENCH_SERVE_ARGS || '').split(' ').filter(Boolean) });
let failed = false;
try {
  await server.start();
  log(`nestbox serve on ${server.url}, template ${template}`);

  // (a) create -> first output, in two regimes, in blocks (see BLOCK_A)
  const peers = process.env.BENCH_PEERS_ROOTFS ? await startPeers(process.env.BENCH_PEERS_ROOTFS) : null;
  const instant = await startInstant();
  const nestboxRun = async () => {
    const t0 = nowMs();
    const sbx = await server.create(template);
    const t1 = nowMs();
    let first = null;
    const r = await sbx.commands.run('echo hi', { onStdout: () => first ?? (first = nowMs()) });
    if (r.stdout !== 'hi\n' || first === null) throw new Error(`echo hi gave ${JSON.stringify(r.stdout)}`);
    await sbx.kill();
    return { first: first - t0, create: t1 - t0 };
  };
  const tools = [
    { key: 'a.nestbox', run: nestboxRun },
    ...(peers?.keys ?? []).map((k) => ({ key: k, run: async () => ({ first: await peers.run(k) }), peer: true })),
    { key: 'a.sdkalone', run: async () => ({ first: await instant.run() }) },
  ];
  for (const tool of tools) for (let i = 0; i < warmupA; i++) await tool.run();
  for (const regime of REGIMES_A) {
    log(`(a) ${regime.what}: ${tools.map((t) => t.key).join(', ')}, x${runsA} each, in blocks of ${BLOCK_A}`);
    const samples = new Map(tools.map((t) => [t.key, []]));
    const createOnly = [];
    for (let round = 0; round * BLOCK_A < runsA; round++) {
      for (const tool of tools) {
        // The warm pool refills after claims, and that work is ours: not a peer's.
        if (tool.peer) await daemonQuiet(server.proc.pid);
        for (let j = 0; j <= BLOCK_A; j++) {
          if (regime.settleMs) await sleep(regime.settleMs);
          const ms = await tool.run();
          if (j === 0) continue; // the lead-in: it pays for what the previous tool left behind
          samples.get(tool.key).push(ms.first);
          if (ms.create !== undefined) createOnly.push(ms.create);
        }
      }
    }
    const extra = { regime: regime.name, settle_ms: regime.settleMs, block: BLOCK_A };
    emit(`a.nestbox${regime.suffix}`, 'ms', samples.get('a.nestbox'), { mode: 'first-byte', template, ...extra });
    emit(`a.nestbox.create${regime.suffix}`, 'ms', createOnly, { mode: 'create() returned', template, ...extra });
    for (const tool of tools.slice(1))
      emit(`${tool.key}${regime.suffix}`, 'ms', samples.get(tool.key), {
        mode: tool.peer ? 'first-byte' : 'first-byte, server answering at once',
        interleaved: true,
        ...extra,
      });
  }
  if (peers) await peers.stop();
  instant.stop();

  // (b) round trip
  log(`(b) commands.run('true') x${runsB}`);
  {
    const sbx = await server.create(template);
    const rt = [];
    for (let i = 0; i < runsB + 5; i++) {
      const t0 = nowMs();
      const r = await sbx.commands.run('true');
      const t1 = nowMs();
      if (r.exitCode !== 0) throw new Error(`true exited ${r.exitCode}`);
      if (i >= 5) rt.push(t1 - t0);
    }
    await sbx.kill();
    emit('b.nestbox', 'ms', rt, { template });
  }

  // (c) idle memory
  log(`(c) ${idle} idle sandboxes`);
  await sleep(3000);
  const before = await sampleMemAvailable();
  const rssBefore = rss(server.proc.pid);
  const t0 = nowMs();
  const sbxs = await pool(Array.from({ length: idle }), 8, () =>
    server.create(template, { timeoutMs: 900_000, metadata: { bench: 'idle' } }),
  );
  const startMs = nowMs() - t0;
  await sleep(5000);
  const after = await sampleMemAvailable();
  const rssAfter = rss(server.proc.pid);
  const usages = sbxs.map((s) => sandboxMemory(s.sandboxId));
  const missing = usages.filter((u) => u === null).length;
  const total = usages.reduce((a, u) => a + (u ?? 0), 0);
  if (missing) log(`${missing} sandboxes have no memory cgroup found under the nestbox cgroup roots`);
  emitValue('c.nestbox.cgroup', 'MiB', total / idle / MiB, {
    sandboxes: idle,
    total_mib: +(total / MiB).toFixed(1),
    without_cgroup: missing,
    template,
  });
  emitValue('c.nestbox.memavailable', 'MiB', (before.median - after.median) / idle / MiB, {
    noise_mib: +((before.spread + after.spread) / idle / MiB).toFixed(3),
    sandboxes: idle,
    daemon_rss_growth_mib: +((rssAfter - rssBefore) / MiB).toFixed(1),
    start_ms_each: +(startMs / idle).toFixed(2),
    template,
  });
  log(`(c) killing ${idle} sandboxes`);
  const killed = await pool(sbxs, 8, (s) => s.kill().catch((e) => e));
  const bad = killed.filter((k) => k !== true);
  if (bad.length) throw new Error(`${bad.length} kills did not return true: ${bad[0]?.message ?? bad[0]}`);
} catch (e) {
  failed = true;
  log(`failed: ${e.stack ?? e}`);
  log(`nestbox serve log:\n${server.logTail(60)}`);
} finally {
  const { problems, notes } = await server.stop();
  for (const n of notes) log(n);
  for (const p of problems) log(`cleanup problem: ${p}`);
  if (problems.length) failed = true;
}
process.exit(failed ? 1 : 0);
