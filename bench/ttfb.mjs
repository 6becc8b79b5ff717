// Times a command as a client sees it: from just before spawn() to the first byte
// on its stdout (mode first-byte) or to its exit (mode exit). "{i}" in an argument
// is replaced by the run number, so each run can name its own container. Checks
// exit status 0 and, with --expect, the whole stdout.
//   node ttfb.mjs --key a.crun --runs 50 --warmup 3 --mode first-byte --expect 'hi\n' -- crun run ...
//     runs N times in a row and prints one result line (stats.mjs).
//   node ttfb.mjs --serve --mode first-byte --expect 'hi\n' KEY='["cmd","arg"]' ...
//     reads one KEY per line on stdin, runs that command once and answers
//     {"key","ms"} (or {"key","error"}) on stdout: sdk.mjs interleaves these runs
//     with its own, so host noise falls on nestbox and its peers alike.
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { emit, nowMs } from './stats.mjs';

/** One timed run of args; resolves to milliseconds. */
export function timeOnce(args, { mode = 'first-byte', expect } = {}) {
  return new Promise((resolve, reject) => {
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
      if (mode === 'first-byte' && first === null) return reject(new Error(`${args.join(' ')}: no output`));
      resolve((mode === 'first-byte' ? first : end) - t0);
    });
  });
}

const withRun = (cmd, i) => cmd.map((a) => a.replaceAll('{i}', String(i)));

async function serve(opts, commands) {
  let run = 0;
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    const key = line.trim();
    if (!key) continue;
    const cmd = commands.get(key);
    let reply;
    if (!cmd) reply = { key, error: `no peer command '${key}'` };
    else {
      try {
        reply = { key, ms: await timeOnce(withRun(cmd, run++), opts) };
      } catch (e) {
        reply = { key, error: e.message };
      }
    }
    process.stdout.write(JSON.stringify(reply) + '\n');
  }
}

async function main() {
  const argv = process.argv.slice(2);
  const opts = { key: 'run', runs: '20', warmup: '2', mode: 'first-byte', expect: undefined };
  const commands = new Map();
  let serving = false;
  let cmd = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      cmd = argv.slice(i + 1);
      break;
    }
    if (a === '--serve') serving = true;
    else if (a.startsWith('--')) opts[a.slice(2)] = argv[++i];
    else if (serving && a.includes('=')) commands.set(a.slice(0, a.indexOf('=')), JSON.parse(a.slice(a.indexOf('=') + 1)));
    else throw new Error(`ttfb.mjs: unexpected argument '${a}'`);
  }
  const timing = { mode: opts.mode, expect: opts.expect?.replace(/\\n/g, '\n') };
  if (serving) return serve(timing, commands);
  if (!cmd?.length) {
    console.error('usage: ttfb.mjs --key K --runs N [--warmup W] [--mode first-byte|exit] [--expect S] -- cmd args...');
    process.exit(2);
  }
  const samples = [];
  const warmup = Number(opts.warmup);
  const runs = Number(opts.runs);
  for (let i = 0; i < warmup + runs; i++) {
    const ms = await timeOnce(withRun(cmd, i), timing);
    if (i >= warmup) samples.push(ms);
  }
  emit(opts.key, 'ms', samples, { mode: opts.mode, cmd: cmd.join(' ') });
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
