// Reads the result lines of peers.sh and sdk.mjs and prints the table: every
// nestbox figure beside its peers from the same run, the ratios, and the goals.
//   node bench/report.mjs peers.jsonl [nestbox.jsonl] [--nestbox-note "why it is missing"]
import fs from 'node:fs';

const args = process.argv.slice(2);
let note = '';
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--nestbox-note') note = args[++i];
  else files.push(args[i]);
}
const rows = new Map();
for (const f of files) {
  if (!fs.existsSync(f)) continue;
  for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const o = JSON.parse(line);
      rows.set(o.key, o);
    } catch {
      /* not a result line */
    }
  }
}

const fmt = (o) => (o ? `${o.p50} / ${o.p90} / ${o.p99}` : '-');
const one = (o) => (o ? `${o.p50}${o.noise_mib !== undefined ? ` ± ${o.noise_mib}` : ''}` : '-');
const ratio = (peer, ours) => (peer && ours && ours.p50 > 0 ? `${(peer.p50 / ours.p50).toFixed(2)}x` : '-');
const goal = (ok, text) => (ok === null ? `${text}: not measured` : `${text}: ${ok ? 'MET' : 'MISSED'}`);

const get = (k) => rows.get(k);
const info = [...rows.values()].filter((o) => o.key.startsWith('info.')).map((o) => `${o.key.slice(5)}: ${o.value}`);

const table = [
  ['figure', 'nestbox p50/p90/p99', 'crun p50/p90/p99', 'bwrap p50/p90/p99', 'crun/nestbox', 'bwrap/nestbox'],
  ...['', '.busy'].flatMap((sfx) => [
    [`(a) create -> first output, ${sfx ? 'back to back' : 'idle host'}, ms`, fmt(get(`a.nestbox${sfx}`)),
      fmt(get(`a.crun${sfx}`)), fmt(get(`a.bwrap${sfx}`)),
      ratio(get(`a.crun${sfx}`), get(`a.nestbox${sfx}`)), ratio(get(`a.bwrap${sfx}`), get(`a.nestbox${sfx}`))],
    ['    peers run the same command, ms', fmt(get(`a.nestbox${sfx}`)), fmt(get(`a.crun.sdkcmd${sfx}`)),
      fmt(get(`a.bwrap.sdkcmd${sfx}`)), ratio(get(`a.crun.sdkcmd${sfx}`), get(`a.nestbox${sfx}`)),
      ratio(get(`a.bwrap.sdkcmd${sfx}`), get(`a.nestbox${sfx}`))],
    ['    of which create() returned, ms', fmt(get(`a.nestbox.create${sfx}`)), '', '', '', ''],
    ['    the SDK alone (server answers at once), ms', fmt(get(`a.sdkalone${sfx}`)), '', '', '', ''],
  ]).filter((r) => !r[0].includes('back to back') || get('a.nestbox.busy')),
  ['(b) run `true` round trip, ms', fmt(get('b.nestbox')), fmt(get('b.crun')), fmt(get('b.bwrap')),
    ratio(get('b.crun'), get('b.nestbox')), ratio(get('b.bwrap'), get('b.nestbox'))],
  ['(c) idle MiB each, cgroups', one(get('c.nestbox.cgroup')), one(get('c.crun.cgroup')), '', ratio(get('c.crun.cgroup'), get('c.nestbox.cgroup')), ''],
  ['(c) idle MiB each, MemAvailable', one(get('c.nestbox.memavailable')), one(get('c.crun.memavailable')), '',
    ratio(get('c.crun.memavailable'), get('c.nestbox.memavailable')), ''],
];
const widths = table[0].map((_, c) => Math.max(...table.map((r) => String(r[c]).length)));
const lines = table.map((r) => r.map((cell, c) => String(cell).padEnd(widths[c])).join('  ').trimEnd());
lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));

const a = get('a.nestbox');
const ac = get('a.crun');
const acs = get('a.crun.sdkcmd');
const ab = get('a.nestbox.busy');
const acsb = get('a.crun.sdkcmd.busy');
const b = get('b.nestbox');
const cm = get('c.nestbox.cgroup');
const cma = get('c.nestbox.memavailable');
const goals = [
  goal(a ? a.p50 <= 20 : null, '(a) p50 <= 20 ms'),
  goal(a && acs ? acs.p50 / a.p50 >= 1.5 : null, '(a) >= 1.5x faster than crun run of the same command, create on an idle host'),
  goal(a && ac ? ac.p50 / a.p50 >= 1.5 : null, '(a) >= 1.5x faster than crun run of a bare `echo hi`, create on an idle host'),
  goal(b ? b.p50 <= 5 : null, '(b) p50 <= 5 ms'),
  goal(cm && cma ? Math.max(cm.p50, cma.p50) <= 1.5 : null, '(c) <= 1.5 MiB per sandbox (both measures)'),
];

const counts = ['a.nestbox', 'a.crun', 'b.nestbox', 'b.crun']
  .filter((k) => get(k))
  .map((k) => `${k} n=${get(k).n}`);
const idle = get('c.nestbox.memavailable') ?? get('c.crun.memavailable');
process.stdout.write(
  [
    '',
    'nestbox bench: nestbox (official SDK, HTTP) beside crun and bubblewrap, same run, same rootfs',
    ...info.map((i) => `  ${i}`),
    `  samples: ${counts.join(', ')}${idle ? `; idle: ${idle.sandboxes ?? idle.containers} each` : ''}`,
    get('c.nestbox.memavailable')?.daemon_rss_growth_mib !== undefined
      ? `  daemon RSS growth over the idle sandboxes: ${get('c.nestbox.memavailable').daemon_rss_growth_mib} MiB`
      : '',
    '',
    ...lines,
    '',
    'ratios: peer p50 / nestbox p50 (above 1 = nestbox faster or smaller)',
    "(a): the SDK has the sandbox run `/bin/bash -l -c 'echo hi'` as user 1000; the first row's peers run",
    "  a bare `echo hi` (less work), the second's run that same bash command as uid 1000 in /home/user.",
    get('a.crun')?.interleaved ? `  The tools take turns in blocks of ${get('a.crun').block ?? '?'} runs after an unmeasured lead-in, so each run follows one of its own` : '',
    get('a.crun')?.interleaved ? '  tool and host noise falls on all alike; the peers start once the daemon is quiet (its warm pool refilled).' : '',
    get('a.crun')?.interleaved ? '  Idle host: a 25 ms pause before every run, as when a sandbox is asked of a host doing nothing; back to' : '',
    get('a.crun')?.interleaved ? '  back: no pause, a loop of creates, whose pace the warm pool (refilled in quiet moments) cannot hide.' : '',
    get('a.sdkalone') ? '"the SDK alone": the same SDK calls against bench/instant-e2b.mjs, which answers at once: what' : '',
    get('a.sdkalone') ? '  the official client costs on this machine (node, HTTP, framing), included in every nestbox figure.' : '',
    'MemAvailable: median of 5 reads before and after, ± their spread per sandbox (host noise); cgroups: sum of',
    '  the sandboxes\' (containers\') memory cgroups, which misses kernel memory charged to the daemon (crun)',
    note ? `nestbox not measured: ${note}` : '',
    'goals:',
    ...goals.map((g) => `  ${g}`),
    ab && acsb ? 'also measured, beside the goals:' : '',
    ab && acsb
      ? `  (a) back to back, a loop of creates that leaves the warm pool no quiet moment to refill in: ${(acsb.p50 / ab.p50).toFixed(2)}x` +
        ` crun run of the same command${get('a.crun.busy') ? `, ${(get('a.crun.busy').p50 / ab.p50).toFixed(2)}x of a bare \`echo hi\`` : ''}`
      : '',
    '',
  ]
    .filter((l, i, arr) => l !== '' || arr[i - 1] !== '')
    .join('\n') + '\n',
);
