// Times a command run N times in a row, as a client sees it: from just before
// spawn() to the first byte on its stdout (--mode first-byte) or to its exit
// (--mode exit). "{i}" in an argument is replaced by the run number, so each
// run can name its own container. Checks exit status 0 and, with --expect, the
// whole stdout. Prints one result line (stats.mjs).
//   node ttfb.mjs --key a.crun --runs 50 --warmup 3 --mode first-byte --expect 'hi\n' -- crun run ...
import { spawn } from 'node:child_process';
import { emit, nowMs } from './stats.mjs';

const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
if (sep < 0) {
  console.error('usage: ttfb.mjs --key K --runs N [--warmup W] [--mode first-byte|exit] [--expect S] -- cmd args...');
  process.exit(2);
}
const opts = { key: 'run', runs: '20', warmup: '2', mode: 'first-byte', expect: undefined };
for (let i = 0; i < sep; i += 2) opts[argv[i].replace(/^--/, '')] = argv[i + 1];
const cmd = argv.slice(sep + 1);
const expect = opts.expect === undefined ? undefined : opts.expect.replace(/\\n/g, '\n');

function once(i) {
  return new Promise((resolve, reject) => {
    const args = cmd.map((a) => a.replaceAll('{i}', String(i)));
    let first = null;
    let out = '';
    let err = '';
    const t0 = nowMs();
    const child = spawn(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => {
      if (first === null) first = nowMs();
      out += d;
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const end = nowMs();
      if (code !== 0) return reject(new Error(`${args.join(' ')}: exit ${code ?? signal}: ${err.trim()}`));
      if (expect !== undefined && out !== expect)
        return reject(new Error(`${args.join(' ')}: stdout ${JSON.stringify(out)}, expected ${JSON.stringify(expect)}`));
      if (opts.mode === 'first-byte' && first === null) return reject(new Error(`${args.join(' ')}: no output`));
      resolve((opts.mode === 'first-byte' ? first : end) - t0);
    });
  });
}

const samples = [];
const warmup = Number(opts.warmup);
const runs = Number(opts.runs);
for (let i = 0; i < warmup + runs; i++) {
  const ms = await once(i);
  if (i >= warmup) samples.push(ms);
}
emit(opts.key, 'ms', samples, { mode: opts.mode, cmd: cmd.join(' ') });
