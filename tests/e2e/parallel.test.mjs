// 50 sandboxes created at once, each running a command, all killed: the daemon
// must serve concurrent creates and keep every sandbox's state apart.
import assert from 'node:assert/strict';
import { Sandbox } from 'e2b';
import { setupServer } from './helpers/server.mjs';

const { server, test } = setupServer();
const SECOND = 1000;
const N = 50;

test(`${N} sandboxes created in parallel each run a command, then all are killed`, { timeout: 170 * SECOND }, async () => {
  const tag = `parallel-${Date.now()}`;
  const t0 = Date.now();
  const created = await Promise.allSettled(
    Array.from({ length: N }, (_, i) =>
      server.create('busybox', { timeoutMs: 300 * SECOND, metadata: { tag, i: String(i) }, envs: { NB_I: String(i) } }),
    ),
  );
  const createMs = Date.now() - t0;
  const failed = created.filter((r) => r.status === 'rejected');
  const sbxs = created.filter((r) => r.status === 'fulfilled').map((r) => r.value);
  try {
    assert.deepEqual(failed.map((r) => `${r.reason?.name}: ${r.reason?.message}`), [], 'failed creates');
    assert.equal(new Set(sbxs.map((s) => s.sandboxId)).size, N, 'sandbox ids must be unique');

    const results = await Promise.all(
      sbxs.map((s, i) =>
        s.commands.run(`echo "$NB_I"; echo "$NB_I" > /tmp/who; sleep 0.5; cat /tmp/who; hostname`),
      ),
    );
    results.forEach((r, i) => {
      const lines = r.stdout.split('\n');
      assert.equal(lines[0], String(i), `sandbox ${i} saw NB_I=${lines[0]}`);
      assert.equal(lines[1], String(i), `sandbox ${i} read another sandbox's /tmp/who: ${lines[1]}`);
      assert.equal(r.exitCode, 0);
    });

    const listed = [];
    const pager = Sandbox.list({ query: { metadata: { tag } }, limit: 100 });
    while (pager.hasNext) listed.push(...(await pager.nextItems()));
    assert.equal(listed.length, N);
    for (const s of listed) assert.equal(s.state, 'running');
  } finally {
    const killed = await Promise.all(sbxs.map((s) => s.kill().catch((e) => e)));
    const notTrue = killed.map((k, i) => [i, k]).filter(([, k]) => k !== true);
    assert.deepEqual(notTrue.map(([i, k]) => `${i}: ${k?.message ?? k}`), [], 'kill must return true for each');
  }
  const left = [];
  const pager = Sandbox.list({ query: { metadata: { tag } } });
  while (pager.hasNext) left.push(...(await pager.nextItems()));
  assert.deepEqual(left.map((s) => s.sandboxId), []);
  process.stderr.write(`# ${N} parallel creates took ${createMs} ms\n`);
});
