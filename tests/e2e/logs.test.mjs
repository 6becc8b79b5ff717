// A sandbox's logs (what its agent logged: start-up, each process started and
// ended) through GET /sandboxes/{id}/logs (v1, the CLI's) and /v2/sandboxes/{id}/logs.
import assert from 'node:assert/strict';
import { setupServer } from './helpers/server.mjs';

const { server, test, sandbox } = setupServer();

async function api(path) {
  const res = await fetch(`${server.url}${path}`, { headers: { 'X-API-KEY': server.apiKey } });
  return { status: res.status, body: await res.json() };
}

test('v1 logs list the processes a sandbox ran, oldest first, in the CLI\'s shape', async (t) => {
  const sbx = await sandbox(t, 'busybox');
  await sbx.commands.run('echo logged-ok');
  await assert.rejects(sbx.commands.run('exit 3'));
  const { status, body } = await api(`/sandboxes/${sbx.sandboxId}/logs`);
  assert.equal(status, 200);
  assert.equal(body.logs.length, body.logEntries.length);
  const messages = body.logEntries.map((e) => e.message);
  const started = messages.findIndex((m) => /^Process \d+ started: \/bin\/bash -l -c echo logged-ok$/.test(m));
  assert.ok(started >= 0, `a start line for the first command in ${JSON.stringify(messages)}`);
  const pid = messages[started].match(/^Process (\d+)/)[1];
  assert.ok(messages.indexOf(`Process ${pid} ended: exit status 0`) > started, 'its end follows its start');
  assert.ok(messages.some((m) => /^Process \d+ ended: exit status 3$/.test(m)), 'the failing command ended with status 3');
  for (const [i, e] of body.logEntries.entries()) {
    assert.ok(['debug', 'info', 'warn', 'error'].includes(e.level));
    assert.equal(e.fields.logger, 'nestbox-agent');
    assert.ok(!Number.isNaN(Date.parse(e.timestamp)));
    if (i) assert.ok(Date.parse(e.timestamp) >= Date.parse(body.logEntries[i - 1].timestamp), 'oldest first');
    const line = JSON.parse(body.logs[i].line);
    assert.deepEqual(line, { level: e.level, logger: 'nestbox-agent', message: e.message });
    assert.equal(body.logs[i].timestamp, e.timestamp);
  }
  // start (ms) keeps entries at or after it; limit bounds the count.
  const last = Date.parse(body.logEntries.at(-1).timestamp);
  const later = await api(`/sandboxes/${sbx.sandboxId}/logs?start=${last}`);
  assert.ok(later.body.logEntries.length >= 1 && later.body.logEntries.every((e) => Date.parse(e.timestamp) >= last));
  const one = await api(`/sandboxes/${sbx.sandboxId}/logs?limit=1`);
  assert.deepEqual(one.body.logEntries, body.logEntries.slice(0, 1));
});

test('v2 logs filter by level, search, cursor and direction', async (t) => {
  const sbx = await sandbox(t, 'busybox');
  await sbx.commands.run('echo first-marker');
  await sbx.commands.run('echo second-marker');
  const all = await api(`/v2/sandboxes/${sbx.sandboxId}/logs`);
  assert.equal(all.status, 200);
  assert.ok(all.body.logs.length >= 4);
  const found = await api(`/v2/sandboxes/${sbx.sandboxId}/logs?search=second-marker`);
  assert.equal(found.body.logs.length, 1);
  assert.match(found.body.logs[0].message, /started: \/bin\/bash -l -c echo second-marker$/);
  const errors = await api(`/v2/sandboxes/${sbx.sandboxId}/logs?level=error`);
  assert.deepEqual(errors.body.logs, []);
  const newest = await api(`/v2/sandboxes/${sbx.sandboxId}/logs?direction=backward&limit=2`);
  assert.deepEqual(newest.body.logs, all.body.logs.slice(-2).reverse(), 'backward: newest first');
  const cursor = Date.parse(all.body.logs.at(-1).timestamp);
  const after = await api(`/v2/sandboxes/${sbx.sandboxId}/logs?cursor=${cursor}`);
  assert.ok(after.body.logs.every((e) => Date.parse(e.timestamp) >= cursor));
  const bad = await api(`/v2/sandboxes/${sbx.sandboxId}/logs?direction=sideways`);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 400);
});

test('logs of an unknown sandbox: 404', async () => {
  for (const path of ['/sandboxes/nosuchsandbox/logs', '/v2/sandboxes/nosuchsandbox/logs']) {
    const { status, body } = await api(path);
    assert.equal(status, 404);
    assert.equal(body.code, 404);
  }
});
