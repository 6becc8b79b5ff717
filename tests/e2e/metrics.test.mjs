// Sandbox metrics through the official SDK (getMetrics, Sandbox.getMetrics) and the
// raw GET /sandboxes/metrics: shapes, limits from the template, cpu and disk that follow
// what the sandbox does, time filters, and errors.
import assert from 'node:assert/strict';
import { Sandbox, SandboxNotFoundError } from 'e2b';
import { setupServer, sleep } from './helpers/server.mjs';

const { server, test, sandbox } = setupServer();
const SECOND = 1000;
const MiB = 1024 * 1024;
const BUSYBOX_DISK_MB = 512; // scripts/templates/busybox/template.json

function assertMetricShape(m, info) {
  assert.ok(m.timestamp instanceof Date && !Number.isNaN(m.timestamp.getTime()), 'timestamp is a date');
  assert.ok(Math.abs(m.timestamp.getTime() - Date.now()) < 120 * SECOND, `timestamp ${m.timestamp.toISOString()} is recent`);
  assert.equal(m.cpuCount, info.cpuCount);
  assert.equal(m.memTotal, info.memoryMB * MiB);
  assert.equal(m.diskTotal, BUSYBOX_DISK_MB * MiB, 'the template\'s diskSizeMB (the SDK\'s getInfo does not carry it)');
  assert.ok(m.cpuUsedPct >= 0 && m.cpuUsedPct <= 100, `cpuUsedPct ${m.cpuUsedPct} within 0..100`);
  assert.ok(m.memUsed > 0 && m.memUsed < m.memTotal, `memUsed ${m.memUsed} within (0, ${m.memTotal})`);
  assert.ok(m.memCache >= 0, 'memCache is a byte count');
  assert.ok(m.diskUsed >= 0 && Number.isInteger(m.diskUsed), 'diskUsed is a byte count');
}

test('getMetrics right after create answers one sample shaped as E2B\'s SandboxMetric', async (t) => {
  const sbx = await sandbox(t, 'busybox');
  const info = await sbx.getInfo();
  const metrics = await sbx.getMetrics();
  assert.ok(metrics.length >= 1, 'a fresh sandbox already has a sample');
  for (const m of metrics) assertMetricShape(m, info);
  const byId = await Sandbox.getMetrics(sbx.sandboxId);
  assert.ok(byId.length >= metrics.length);
  assertMetricShape(byId.at(-1), info);
});

test('cpu and disk samples follow what the sandbox does; start/end filter them', { timeout: 60 * SECOND }, async (t) => {
  const sbx = await sandbox(t, 'busybox');
  const info = await sbx.getInfo();
  const before = (await sbx.getMetrics()).at(-1);
  // One busy loop for 7 s (at least one whole 5 s interval), and 24 MiB written.
  await sbx.commands.run('timeout 7 sh -c "while :; do :; done"', { background: true });
  await sbx.commands.run('dd if=/dev/zero of=/home/user/blob bs=1M count=24 2>/dev/null && sync');
  let samples = [];
  for (let i = 0; i < 40; i++) {
    await sleep(SECOND);
    samples = await sbx.getMetrics();
    if (samples.some((m) => m.cpuUsedPct > 20) && samples.at(-1).diskUsed >= 24 * MiB) break;
  }
  for (const m of samples) assertMetricShape(m, info);
  const busiest = Math.max(...samples.map((m) => m.cpuUsedPct));
  assert.ok(busiest > 20, `a busy loop on a 1-cpu sandbox shows (busiest sample ${busiest}%)`);
  assert.ok(samples.at(-1).diskUsed >= 24 * MiB, `24 MiB written shows as disk use (${samples.at(-1).diskUsed})`);
  assert.ok(samples.at(-1).diskUsed > before.diskUsed);
  for (let i = 1; i < samples.length; i++)
    assert.ok(samples[i].timestamp >= samples[i - 1].timestamp, 'oldest first');

  const future = await sbx.getMetrics({ start: new Date(Date.now() + 3600 * SECOND) });
  assert.deepEqual(future, [], 'nothing starts after the future');
  const past = await sbx.getMetrics({ end: new Date(Date.now() - 3600 * SECOND) });
  assert.deepEqual(past, [], 'nothing ended an hour ago');
  const last = samples.at(-1).timestamp;
  const fromLast = await sbx.getMetrics({ start: new Date(Math.floor(last.getTime() / 1000) * 1000) });
  assert.ok(fromLast.length >= 1 && fromLast.every((m) => m.timestamp.getTime() >= Math.floor(last.getTime() / 1000) * 1000));
});

test('GET /sandboxes/metrics gives the newest sample of each listed sandbox', async (t) => {
  const a = await sandbox(t, 'busybox');
  const b = await sandbox(t, 'busybox');
  const res = await fetch(`${server.url}/sandboxes/metrics?sandbox_ids=${a.sandboxId},${b.sandboxId},nosuchsandbox`, {
    headers: { 'X-API-KEY': server.apiKey },
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.deepEqual(Object.keys(body.sandboxes).sort(), [a.sandboxId, b.sandboxId].sort());
  assert.equal(body.sandboxes[a.sandboxId].cpuCount, 1);
  assert.equal(typeof body.sandboxes[a.sandboxId].timestampUnix, 'number');

  const missing = await fetch(`${server.url}/sandboxes/metrics`, { headers: { 'X-API-KEY': server.apiKey } });
  assert.equal(missing.status, 400);
  assert.equal((await missing.json()).code, 400);
});

test('metrics of a killed or unknown sandbox: SandboxNotFoundError; bad times: 400', async (t) => {
  const sbx = await Sandbox.create('busybox');
  await sbx.kill();
  await assert.rejects(sbx.getMetrics(), SandboxNotFoundError);
  await assert.rejects(Sandbox.getMetrics('nosuchsandbox0000000'), SandboxNotFoundError);

  const alive = await sandbox(t, 'busybox');
  const res = await fetch(`${server.url}/sandboxes/${alive.sandboxId}/metrics?start=yesterday`, {
    headers: { 'X-API-KEY': server.apiKey },
  });
  assert.equal(res.status, 400);
  assert.match((await res.json()).message, /unix times in seconds/);
});

test('a paused sandbox keeps its samples and gets no new ones', { timeout: 30 * SECOND }, async (t) => {
  const sbx = await sandbox(t, 'busybox');
  await sbx.getMetrics();
  await sbx.pause();
  const during = await Sandbox.getMetrics(sbx.sandboxId);
  assert.ok(during.length >= 1, 'history survives the pause');
  await sleep(6 * SECOND);
  const later = await Sandbox.getMetrics(sbx.sandboxId);
  assert.equal(later.length, during.length, 'no samples while paused');
});
