// File transfer through the official SDK (issue 4): a 100 MiB upload and
// download against a fresh `nestbox serve`, beside `cat` of the same file on
// the same disk (the state dir, where sandbox upper dirs live), same run.
//   upload:   files.write(path, Blob from disk)  (multipart), ReadableStream of the file
//             (octet-stream), and a ReadableStream of 8 MiB chunks already in memory
//   download: files.read(path, {format:'stream'})              and  {format:'bytes'}
//   peers:    cat F > /dev/null  (read)   and  cat F > G  (copy = read + write)
// Prints result lines (stats.mjs) on stdout, then a table on stderr.
// Env: BENCH_TEMPLATE (base, else busybox), BENCH_FILES_MIB (100), BENCH_FILES_RUNS (5),
// NESTBOX_BIN, NESTBOX_TEMPLATE_DIR. The goal: >= 500 MiB/s each way.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Server, TEMPLATE_DIR, hostPidsOfSandbox } from '../tests/e2e/helpers/server.mjs';
import { emit, nowMs } from './stats.mjs';

const MiB = 1024 * 1024;
const sizeMiB = Number(process.env.BENCH_FILES_MIB || 100);
const runs = Number(process.env.BENCH_FILES_RUNS || 5);
const GOAL = 500;
const log = (m) => process.stderr.write(`files: ${m}\n`);
const template =
  process.env.BENCH_TEMPLATE || (fs.existsSync(path.join(TEMPLATE_DIR, 'base')) ? 'base' : 'busybox');

/** CPU milliseconds (user + system) a process has used so far, 0 if it is gone. */
function cpuMs(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * (1000 / 100);
  } catch {
    return 0;
  }
}

let pids = {}; // name -> pid whose CPU is split out per transfer

/** MiB/s samples of fn() moving `bytes`, after one warm-up run; CPU ms per 100 MiB on the side. */
async function measure(name, bytes, fn) {
  const rates = [];
  const cpu = Object.fromEntries(Object.keys(pids).map((k) => [k, 0]));
  for (let i = 0; i < runs + 1; i++) {
    const c0 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuMs(p)]));
    const t0 = nowMs();
    await fn(i);
    const ms = nowMs() - t0;
    if (i === 0) continue;
    rates.push(bytes / MiB / (ms / 1000));
    for (const [k, p] of Object.entries(pids)) cpu[k] += cpuMs(p) - c0[k];
  }
  const per100 = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, Math.round((v / runs) * (100 * MiB / bytes))]));
  log(`${name}: ${rates.map((r) => r.toFixed(0)).join(' ')} MiB/s; CPU ms per 100 MiB ${JSON.stringify(per100)}`);
  rates.cpu = per100;
  return rates;
}

function catRate(args, bytes) {
  return measure(`cat ${args.join(' ')}`, bytes, () => {
    const r = spawnSync('sh', ['-c', `cat ${args.join(' ')}`]);
    if (r.status !== 0) throw new Error(`cat failed: ${r.stderr}`);
  });
}

const server = new Server();
let failed = false;
try {
  await server.start();
  const bytes = sizeMiB * MiB;
  const src = path.join(server.stateDir, 'bench-src.bin');
  const copy = path.join(server.stateDir, 'bench-copy.bin');
  {
    const fd = fs.openSync(src, 'w');
    for (let i = 0; i < sizeMiB; i++) fs.writeSync(fd, randomBytes(MiB));
    fs.closeSync(fd);
  }
  const want = createHash('sha256').update(fs.readFileSync(src)).digest('hex');
  log(`${sizeMiB} MiB, ${runs} runs each, template ${template}, disk of ${server.stateDir}`);

  const sbx = await server.create(template, { timeoutMs: 900_000 });
  const target = '/tmp/bench.bin';
  const agent = hostPidsOfSandbox(sbx.sandboxId).find((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('nestbox-agent');
    } catch {
      return false;
    }
  });
  pids = { node: process.pid, daemon: server.proc.pid, ...(agent ? { agent } : {}) };

  const upBlob = await measure('upload Blob (multipart)', bytes, async () => {
    await sbx.files.write(target, await fs.openAsBlob(src));
  });
  const check = (await sbx.commands.run(`sha256sum ${target}`)).stdout.split(' ')[0];
  if (check !== want) throw new Error(`uploaded file hash ${check}, want ${want}`);
  const upStream = await measure('upload ReadableStream (octet-stream)', bytes, async () => {
    await sbx.files.write(target, Readable.toWeb(fs.createReadStream(src, { highWaterMark: MiB })));
  });
  // The same transfer from memory: what the SDK, the daemon and the agent move when the
  // client does not have to read a file first (Node's file and Blob readers cost it
  // 200-700 ms of CPU per 100 MiB, see the CPU column).
  const data = fs.readFileSync(src);
  const upMemory = await measure('upload ReadableStream from memory, 8 MiB chunks (octet-stream)', bytes, async () => {
    await sbx.files.write(target, new ReadableStream({
      start(c) {
        for (let o = 0; o < data.length; o += 8 * MiB) c.enqueue(data.subarray(o, o + 8 * MiB));
        c.close();
      },
    }));
  });
  const checkMemory = (await sbx.commands.run(`sha256sum ${target}`)).stdout.split(' ')[0];
  if (checkMemory !== want) throw new Error(`uploaded file hash ${checkMemory}, want ${want}`);

  const downStream = await measure('download stream', bytes, async (i) => {
    let n = 0;
    // The warm-up run checks the bytes; timed runs only count them (hashing is client CPU).
    const h = i === 0 ? createHash('sha256') : null;
    for await (const c of await sbx.files.read(target, { format: 'stream' })) {
      n += c.length;
      h?.update(c);
    }
    if (n !== bytes || (h && h.digest('hex') !== want)) throw new Error(`download gave ${n} bytes or a wrong hash`);
  });
  const downBytes = await measure('download bytes', bytes, async () => {
    const b = await sbx.files.read(target, { format: 'bytes' });
    if (b.length !== bytes) throw new Error(`download gave ${b.length} bytes`);
  });
  await sbx.kill();

  pids = {};
  const catRead = await catRate([src, '> /dev/null'], bytes);
  const catCopy = await catRate([src, '>', copy], bytes);
  fs.rmSync(src, { force: true });
  fs.rmSync(copy, { force: true });

  const extra = { size_mib: sizeMiB, template };
  const lines = [
    emit('files.upload.nestbox', 'MiB/s', upBlob, { ...extra, mode: 'Blob, multipart', cpu_ms_per_100mib: upBlob.cpu }),
    emit('files.upload.nestbox.stream', 'MiB/s', upStream,
      { ...extra, mode: 'ReadableStream, octet-stream', cpu_ms_per_100mib: upStream.cpu }),
    emit('files.upload.nestbox.memory', 'MiB/s', upMemory,
      { ...extra, mode: 'ReadableStream from memory, 8 MiB chunks, octet-stream', cpu_ms_per_100mib: upMemory.cpu }),
    emit('files.download.nestbox', 'MiB/s', downStream, { ...extra, mode: "format 'stream'", cpu_ms_per_100mib: downStream.cpu }),
    emit('files.download.nestbox.bytes', 'MiB/s', downBytes,
      { ...extra, mode: "format 'bytes'", cpu_ms_per_100mib: downBytes.cpu }),
    emit('files.cat.read', 'MiB/s', catRead, { ...extra, mode: 'cat F > /dev/null' }),
    emit('files.cat.copy', 'MiB/s', catCopy, { ...extra, mode: 'cat F > G' }),
  ];
  const rows = [['figure (MiB/s)', 'p50', 'min', 'max', 'vs cat', 'CPU ms/100 MiB node/daemon/agent']];
  const peer = { upload: lines[6], download: lines[5] };
  for (const l of lines) {
    const kind = l.key.includes('upload') ? 'upload' : l.key.includes('download') ? 'download' : null;
    const vs = kind ? `${((l.p50 / peer[kind].p50) * 100).toFixed(0)}% of ${peer[kind].mode}` : '';
    const c = l.cpu_ms_per_100mib;
    const cpuCell = c ? `${c.node}/${c.daemon}/${c.agent ?? '?'}` : '';
    rows.push([`${l.key} (${l.mode})`, l.p50.toFixed(0), l.min.toFixed(0), l.max.toFixed(0), vs, cpuCell]);
  }
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  process.stderr.write(rows.map((r) => r.map((x, c) => x.padEnd(w[c])).join('  ').trimEnd()).join('\n') + '\n');
  // The goal is read on the best SDK mode each way; the CPU column says who is the bottleneck.
  for (const [dir, ...modes] of [['upload', lines[0], lines[1], lines[2]], ['download', lines[3], lines[4]]]) {
    const best = modes.reduce((x, y) => (y.p50 > x.p50 ? y : x));
    process.stderr.write(`goal ${dir} >= ${GOAL} MiB/s: ${best.p50 >= GOAL ? 'MET' : 'MISSED'} ` +
      `(best: ${best.p50.toFixed(0)} MiB/s, ${best.mode})\n`);
  }
} catch (e) {
  failed = true;
  log(`failed: ${e.stack ?? e}`);
}
const { problems } = await server.stop();
for (const p of problems) log(`host check: ${p}`);
process.exit(failed || problems.length ? 1 : 0);
