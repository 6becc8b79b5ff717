// Isolation probes run from inside sandboxes (STYLE.md §8), each checked from
// the host too: host processes, files and loopback are invisible; root inside
// is not root outside; a fork bomb stays inside its pids limit and a memory hog
// inside its memory limit while the daemon and the other sandboxes go on; two
// sandboxes cannot see each other's files or processes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { CommandExitError } from 'e2b';
import {
  setupServer,
  within,
  sleep,
  hostPidsWithEnv,
  hostPidsOfSandbox,
  cgroupDirsOfSandbox,
  sandboxPidsCgroup,
  sandboxMemoryCgroup,
} from './helpers/server.mjs';

const { server, test, sandbox } = setupServer();
const SECOND = 1000;
const rand = () => randomBytes(8).toString('hex');

async function healthy() {
  const res = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(5000) });
  return res.status;
}

test('host processes are invisible: ps inside shows only the sandbox', async (t) => {
  const sbx = await sandbox(t, 'busybox');
  const r = await sbx.commands.run('ps -o pid,args', { user: 'root' });
  const lines = r.stdout.trim().split('\n').slice(1);
  const procs = lines.map((l) => l.trim().split(/\s+/, 2));
  assert.ok(procs.some(([pid]) => pid === '1'), `no pid 1 inside:\n${r.stdout}`);
  assert.ok(procs.length <= 8, `${procs.length} processes visible inside:\n${r.stdout}`);
  for (const needle of ['isolation.test', server.stateDir, 'node ', 'nestbox serve'])
    assert.ok(!r.stdout.includes(needle), `"${needle}" visible inside:\n${r.stdout}`);
  // The host's pid of this test process means nothing inside.
  const own = await sbx.commands.run(`cat /proc/${process.pid}/cmdline 2>/dev/null | tr '\\0' ' '; true`);
  assert.ok(!own.stdout.includes('isolation.test'), own.stdout);
  const hostInit = fs.readFileSync('/proc/1/cmdline', 'utf8');
  const init = await sbx.commands.run("tr '\\0' ' ' < /proc/1/cmdline", { user: 'root' });
  assert.notEqual(init.stdout.trim(), hostInit.replaceAll('\0', ' ').trim(), 'pid 1 inside is the host init');
});

test('host files are invisible: a marker in the host /root is absent inside', async (t) => {
  const name = `nestbox-e2e-marker-${rand()}`;
  const secret = `secret-${rand()}`;
  fs.writeFileSync(`/root/${name}`, secret, { mode: 0o644 });
  t.after(() => fs.rmSync(`/root/${name}`, { force: true }));
  const sbx = await sandbox(t, 'busybox');
  for (const user of ['root', undefined]) {
    const r = await sbx.commands.run(
      `ls -a /root 2>&1; cat /root/${name} 2>&1; find / -xdev -name '${name}' 2>/dev/null; echo end`,
      { user },
    );
    assert.ok(!r.stdout.includes(secret), `host file readable inside (user ${user}):\n${r.stdout}`);
    assert.ok(!r.stdout.includes(`/${name}\n`), `host file found inside:\n${r.stdout}`);
  }
  // The host's state dir (other sandboxes' roots, the catalog, the API key) is not reachable.
  const st = await sbx.commands.run(`ls ${server.stateDir} 2>&1; cat ${server.stateDir}/api-key 2>&1; echo end`, { user: 'root' });
  assert.ok(!st.stdout.includes(server.apiKey), 'the API key is readable inside');
});

test('host loopback is unreachable (test listener and the daemon port)', async (t) => {
  const secret = `loopback-${rand()}`;
  let connections = 0;
  const srv = net.createServer((c) => {
    connections++;
    c.end(`HTTP/1.0 200 OK\r\nContent-Length: ${secret.length + 1}\r\n\r\n${secret}\n`);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => srv.close());
  const { port } = srv.address();
  const sbx = await sandbox(t, 'busybox');
  const probe = (p) =>
    `nc -w 2 127.0.0.1 ${p} </dev/null; echo "nc=$?"; ` +
    `wget -q -T 2 -O - http://127.0.0.1:${p}/ 2>&1; echo "wget=$?"; ` +
    `wget -q -T 2 -O - http://localhost:${p}/ 2>&1; echo "wget-localhost=$?"`;
  const r = await sbx.commands.run(probe(port), { user: 'root', timeoutMs: 30 * SECOND });
  assert.ok(!r.stdout.includes(secret), `reached the host's 127.0.0.1:${port}:\n${r.stdout}`);
  assert.equal(connections, 0, 'the host listener saw a connection from inside');
  assert.match(r.stdout, /wget=[1-9]/);

  const d = await sbx.commands.run(`wget -q -T 2 -O - http://127.0.0.1:${server.port}/health 2>&1; echo "rc=$?"`, {
    user: 'root',
    timeoutMs: 30 * SECOND,
  });
  assert.match(d.stdout, /rc=[1-9]/, `the daemon's port answered from inside:\n${d.stdout}`);
});

test('root inside is not root outside (host Uid/Gid of the sandbox processes)', async (t) => {
  const sbx = await sandbox(t, 'busybox');
  const marker = `NB_UIDPROBE_${rand()}`;
  const inside = await sbx.commands.run('id -u; id -g', { user: 'root' });
  assert.equal(inside.stdout, '0\n0\n');
  const h = await sbx.commands.run('sleep 30', { background: true, user: 'root', envs: { [marker]: '1' } });
  t.after(() => h.kill().catch(() => {}));
  let pids = [];
  for (let i = 0; i < 20 && pids.length === 0; i++) {
    const inCgroup = hostPidsOfSandbox(sbx.sandboxId);
    pids = hostPidsWithEnv(`${marker}=1`, inCgroup.length ? inCgroup : undefined);
    if (!pids.length) await sleep(100);
  }
  assert.ok(pids.length > 0, 'the probe process was not found on the host');
  const all = new Set([...pids, ...hostPidsOfSandbox(sbx.sandboxId)]);
  for (const pid of all) {
    let status;
    try {
      status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      continue;
    }
    const uids = status.match(/^Uid:\s+(.*)$/m)[1].split(/\s+/).map(Number);
    const gids = status.match(/^Gid:\s+(.*)$/m)[1].split(/\s+/).map(Number);
    assert.ok(uids.every((u) => u !== 0), `host pid ${pid} runs with host uids ${uids}`);
    assert.ok(gids.every((g) => g !== 0), `host pid ${pid} runs with host gids ${gids}`);
    const capEff = status.match(/^CapEff:\s+(\S+)$/m)[1];
    // Capabilities inside a user namespace are fine; what matters is the uid. Note for the report.
    t.diagnostic(`host pid ${pid}: Uid ${uids.join(' ')} CapEff ${capEff}`);
  }
  // The user namespace of the sandbox is not the host's.
  const hostUserNs = fs.readlinkSync('/proc/self/ns/user');
  for (const pid of pids) assert.notEqual(fs.readlinkSync(`/proc/${pid}/ns/user`), hostUserNs);
});

test('a fork bomb is held by its sandbox; daemon, other sandboxes and host go on; kill removes it', { timeout: 120 * SECOND }, async (t) => {
  const witness = await sandbox(t, 'busybox');
  const bomb = await sandbox(t, 'busybox');
  const pids = sandboxPidsCgroup(bomb.sandboxId);
  const mem = sandboxMemoryCgroup(bomb.sandboxId);
  assert.ok(pids, `no pids cgroup named after ${bomb.sandboxId} (${cgroupDirsOfSandbox(bomb.sandboxId).join(', ') || 'none'})`);
  assert.ok(Number.isFinite(pids.max) && pids.max > 0, `pids.max of ${pids.dir} is ${pids.max}: no pids limit`);
  assert.ok(mem && Number.isFinite(mem.limit), `no memory limit for ${bomb.sandboxId}`);

  // The classic exponential bomb. Whichever limit binds first (pids.max, or memory: a
  // busybox shell costs ~130 KiB with its kernel side), it must stay in this sandbox.
  await bomb.commands.run('b() { b | b & }; b', { background: true, user: 'root', timeoutMs: 0 });
  let peak = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < 6 * SECOND) {
    peak = Math.max(peak, pids.current());
    await sleep(20);
  }
  assert.ok(peak <= pids.max, `pids.current reached ${peak} > pids.max ${pids.max}`);
  assert.ok(peak > 100, `the bomb never took off (${peak} pids)`);
  t.diagnostic(`bomb: ${peak} pids (pids.max ${pids.max}), memory ${Math.round(mem.usage() / 2 ** 20)} of ${Math.round(mem.limit / 2 ** 20)} MiB, ${mem.hits()} limit hits`);

  const h0 = Date.now();
  assert.equal(await healthy(), 200, 'daemon /health during the bomb');
  assert.equal((await within(10 * SECOND, witness.commands.run('echo alive'), 'witness during the bomb')).stdout, 'alive\n');
  assert.equal(spawnSync('true').status, 0, 'the host cannot fork');
  t.diagnostic(`daemon and witness answered in ${Date.now() - h0} ms during the bomb`);

  // Kill in the middle of the bomb: must answer and leave nothing behind, promptly.
  const k0 = Date.now();
  assert.equal(await within(30 * SECOND, bomb.kill(), 'kill during a fork bomb'), true);
  const killMs = Date.now() - k0;
  let left = [];
  for (let i = 0; i < 50; i++) {
    left = [...hostPidsOfSandbox(bomb.sandboxId).map((p) => `pid ${p}`), ...cgroupDirsOfSandbox(bomb.sandboxId)];
    if (left.length === 0) break;
    await sleep(200);
  }
  assert.deepEqual(left.slice(0, 8), [], `kill returned after ${killMs} ms, and 10 s later this is still on the host`);
  t.diagnostic(`kill during the bomb: answered in ${killMs} ms, host clean after ${Date.now() - k0} ms`);
  assert.equal((await witness.commands.run('echo after')).stdout, 'after\n');
});

test('a thread bomb stops at pids.max; the sandbox goes on', { timeout: 60 * SECOND }, async (t) => {
  // Threads count against pids.max like processes but cost ~40 KiB, so the pids limit,
  // not memory, is what stops them (python on base).
  const sbx = await sandbox(t, 'base');
  const pids = sandboxPidsCgroup(sbx.sandboxId);
  assert.ok(pids && Number.isFinite(pids.max), `no pids limit for ${sbx.sandboxId}`);
  const cap = Math.min(2 * pids.max, 20000); // bounded even if the limit did not hold
  const py = [
    'import threading, time',
    'threading.stack_size(65536)',
    'n = 0',
    'try:',
    `    while n < ${cap}:`,
    '        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()',
    '        n += 1',
    'except RuntimeError as e:',
    '    print("refused", e)',
    'print(n)',
  ].join('\n');
  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, pids.current());
      await sleep(10);
    }
  })();
  const r = await sbx.commands.run(`python3 -c '${py}'`, { user: 'root', timeoutMs: 50 * SECOND });
  sampling = false;
  await sampler;
  const lines = r.stdout.trim().split('\n');
  const n = Number(lines.at(-1));
  assert.match(lines[0], /^refused can't start new thread/, r.stdout);
  assert.ok(n < pids.max && n >= pids.max - 64, `${n} threads started with pids.max ${pids.max}`);
  assert.ok(peak <= pids.max, `pids.current reached ${peak} > pids.max ${pids.max}`);
  t.diagnostic(`thread bomb: ${n} threads, peak ${peak} of pids.max ${pids.max}`);
  assert.equal((await sbx.commands.run('echo recovered')).stdout, 'recovered\n');
});

test('a memory hog is killed inside its own memory limit; another sandbox keeps answering', { timeout: 150 * SECOND }, async (t) => {
  const witness = await sandbox(t, 'busybox');
  const hog = await sandbox(t, 'busybox');
  const { memoryMB } = await hog.getInfo();
  // The limit must be in the kernel, not only in the API's answer.
  let limit = null;
  for (const dir of cgroupDirsOfSandbox(hog.sandboxId)) {
    for (const f of ['memory.max', 'memory.limit_in_bytes']) {
      try {
        const v = fs.readFileSync(`${dir}/${f}`, 'utf8').trim();
        if (v !== 'max' && Number(v) < 2 ** 60) limit = Number(v);
      } catch {
        /* not this controller */
      }
    }
  }
  assert.ok(limit, `no memory limit found in the cgroups of ${hog.sandboxId}`);
  const mib = 1024 * 1024;
  assert.ok(limit >= memoryMB * mib && limit <= memoryMB * mib * 1.1,
    `cgroup limit ${limit} bytes does not match getInfo memoryMB ${memoryMB}`);
  // dd allocates its block in one go and fills it from /dev/zero: one bounded allocation.
  const bs = memoryMB + 256;
  assert.ok(bs <= 2000, `memoryMB ${memoryMB}: the hog is sized for limits up to 1744 MB`);
  const started = Date.now();
  const hogRun = hog.commands.run(`dd if=/dev/zero of=/dev/null bs=${bs}M count=1`, { user: 'root', timeoutMs: 90 * SECOND });
  const during = await witness.commands.run('echo alive; head -c 1000000 /dev/zero | wc -c');
  assert.equal(during.stdout, 'alive\n1000000\n');
  const err = await within(100 * SECOND, hogRun.then(() => null, (e) => e), 'the memory hog to end');
  assert.ok(err instanceof CommandExitError, `hog ended with ${err ? `${err.name}: ${err.message}` : 'success: no memory limit?'}`);
  assert.ok(
    err.exitCode === 137 || (err.exitCode === -1 && err.error === 'signal: killed'),
    `hog exit ${err.exitCode} (${err.error}), expected SIGKILL by the OOM killer; stderr: ${err.stderr}`,
  );
  t.diagnostic(`hog killed after ${Date.now() - started} ms (limit ${memoryMB} MB)`);
  assert.equal((await witness.commands.run('echo still')).stdout, 'still\n');
  assert.equal((await hog.commands.run('echo survived')).stdout, 'survived\n', 'the hog sandbox itself goes on');
  assert.equal(await healthy(), 200);
});

test("two sandboxes cannot see each other's files or processes", async (t) => {
  const a = await sandbox(t, 'busybox');
  const b = await sandbox(t, 'busybox');
  const secret = `only-a-${rand()}`;
  await a.commands.run(`echo ${secret} > /tmp/only-a; echo ${secret} > /only-a-root; mkdir -p /home/shared; echo ${secret} > /home/shared/f`, { user: 'root' });
  const marker = `NB_SEEME_${rand()}`;
  const h = await a.commands.run('sleep 30', { background: true, envs: { [marker]: '1' } });
  t.after(() => h.kill().catch(() => {}));

  const r = await b.commands.run(
    `cat /tmp/only-a /only-a-root /home/shared/f 2>&1; echo FIND; find / -xdev -name 'only-a*' 2>/dev/null; ` +
      `echo PROC; grep -l ${marker} /proc/[0-9]*/environ 2>/dev/null; echo END`,
    { user: 'root' },
  );
  assert.ok(!r.stdout.includes(secret), `b read a's file:\n${r.stdout}`);
  const found = r.stdout.slice(r.stdout.indexOf('FIND\n') + 5, r.stdout.indexOf('PROC\n'));
  assert.equal(found, '', `b found a's files:\n${r.stdout}`);
  const procs = r.stdout.slice(r.stdout.indexOf('PROC\n') + 5, r.stdout.indexOf('END\n'));
  assert.equal(procs, '', `b sees a's process:\n${r.stdout}`);

  await b.commands.run('echo from-b > /tmp/only-a', { user: 'root' });
  assert.equal((await a.commands.run('cat /tmp/only-a')).stdout, `${secret}\n`);
  assert.equal((await b.commands.run('cat /tmp/only-a')).stdout, 'from-b\n');
  // Killing one leaves the other intact.
  assert.equal(await b.kill(), true);
  assert.equal((await a.commands.run('cat /only-a-root')).stdout, `${secret}\n`);
});

test('a sandbox that fills its disk gets ENOSPC at its template\'s size; it and the others go on', { timeout: 120 * SECOND }, async (t) => {
  const [full, other] = await Promise.all([sandbox(t, 'busybox'), sandbox(t, 'busybox')]);
  const MiB = 1024 * 1024;
  // busybox's template.json: diskSizeMB 512. Its root is that disk, not the host's.
  const df = await full.commands.run("df -k / | tail -1 | awk '{print $2}'");
  const sizeKiB = Number(df.stdout.trim());
  assert.ok(sizeKiB > 400 * 1024 && sizeKiB <= 512 * 1024, `df says ${sizeKiB} KiB`);
  const fill = await full.commands.run('dd if=/dev/zero of=/tmp/fill bs=1M count=700 2>&1; echo rc=$?', { timeoutMs: 100 * SECOND });
  assert.match(fill.stdout, /No space left on device/);
  assert.match(fill.stdout, /rc=1\n$/);
  const written = Number((await full.commands.run('stat -c %s /tmp/fill')).stdout.trim());
  assert.ok(written > 400 * MiB && written <= 512 * MiB, `${written} bytes written`);
  // Uploads to the full disk fail as E2B's do (507, the SDK's NotEnoughSpaceError).
  await assert.rejects(full.files.write('/tmp/more', 'x'.repeat(MiB)), (e) => {
    assert.equal(e.name, 'NotEnoughSpaceError', `${e.name}: ${e.message}`);
    return true;
  });
  // The others write as before; the full one writes again once it frees space.
  await other.files.write('/tmp/x', 'still room here');
  assert.equal(await other.files.read('/tmp/x'), 'still room here');
  await full.commands.run('rm /tmp/fill');
  await full.files.write('/tmp/after', 'room again');
  assert.equal(await full.files.read('/tmp/after'), 'room again');
  const m = (await full.getMetrics()).at(-1);
  assert.equal(m.diskTotal, 512 * MiB);
});
