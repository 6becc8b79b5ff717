// The code interpreter (port 49999, protocol.md §5) through the pinned
// @e2b/code-interpreter SDK: results, streamed logs, errors, contexts,
// per-run envs, timeouts and the NDJSON stream itself.
import assert from 'node:assert/strict';
import { Sandbox, TimeoutError, NotFoundError, SandboxError } from '@e2b/code-interpreter';
import { setupServer, within } from './helpers/server.mjs';

const { test } = setupServer();
const SECOND = 1000;

let sbx;

test('setup: a code-interpreter-v1 sandbox (the SDK default template)', { timeout: 120 * SECOND }, async () => {
  sbx = await Sandbox.create({ timeoutMs: 600 * SECOND });
});

test("runCode('1+1') -> text '2', one main result, executionCount", async () => {
  const ex = await sbx.runCode('1+1');
  assert.equal(ex.text, '2');
  assert.equal(ex.results.length, 1);
  assert.equal(ex.results[0].isMainResult, true);
  assert.equal(ex.error, undefined);
  assert.ok(Number.isInteger(ex.executionCount) && ex.executionCount >= 1, `executionCount ${ex.executionCount}`);
});

test('state persists between runs: x = 5, then x*2 -> 10', async () => {
  const first = await sbx.runCode('x = 5');
  assert.equal(first.text, undefined);
  assert.deepEqual(first.results, []);
  const second = await sbx.runCode('x*2');
  assert.equal(second.text, '10');
  assert.equal(second.executionCount, first.executionCount + 1);
});

test("print -> logs.stdout ['hello\\n'], stderr -> logs.stderr", async () => {
  const ex = await sbx.runCode("print('hello')");
  assert.deepEqual(ex.logs, { stdout: ['hello\n'], stderr: [] });
  const ex2 = await sbx.runCode("import sys\nprint('oops', file=sys.stderr)");
  assert.deepEqual(ex2.logs, { stdout: [], stderr: ['oops\n'] });
});

test('output of a subprocess (fd 1) is captured too', async () => {
  const ex = await sbx.runCode("import subprocess\nsubprocess.run(['echo', 'from-child'])\nNone");
  assert.deepEqual(ex.logs.stdout, ['from-child\n']);
});

test('onStdout/onStderr arrive in order, while the cell runs', async () => {
  const events = [];
  const t0 = Date.now();
  const ex = await sbx.runCode(
    "import sys, time\nfor i in range(3):\n    print(f'out{i}')\n    time.sleep(0.3)\n    print(f'err{i}', file=sys.stderr)\n    time.sleep(0.3)",
    {
      onStdout: (m) => events.push(['out', m.line, Date.now() - t0]),
      onStderr: (m) => events.push(['err', m.line, Date.now() - t0]),
    },
  );
  assert.deepEqual(events.map(([k, l]) => [k, l]), [
    ['out', 'out0\n'], ['err', 'err0\n'],
    ['out', 'out1\n'], ['err', 'err1\n'],
    ['out', 'out2\n'], ['err', 'err2\n'],
  ]);
  // Streamed, not buffered until the end: the first line came well before the last.
  assert.ok(events[5][2] - events[0][2] > 1000, `events came at ${events.map((e) => e[2])}`);
  assert.equal(ex.error, undefined);
});

test('an exception -> execution.error with name, value and traceback', async () => {
  const ex = await sbx.runCode('def f():\n    return 1/0\nf()');
  assert.equal(ex.error.name, 'ZeroDivisionError');
  assert.equal(ex.error.value, 'division by zero');
  assert.match(ex.error.traceback, /Traceback \(most recent call last\)/);
  assert.match(ex.error.traceback, /in f\n\s+return 1\/0/);
  assert.match(ex.error.traceback, /ZeroDivisionError: division by zero/);
  assert.equal(ex.text, undefined);
  const syn = await sbx.runCode('1/');
  assert.equal(syn.error.name, 'SyntaxError');
  // The context survives errors.
  assert.equal((await sbx.runCode('x')).text, '5');
});

test('rich results: _repr_html_ fills html, display() adds non-main results', async () => {
  const ex = await sbx.runCode(
    "class H:\n    def _repr_html_(self): return '<b>hi</b>'\n    def __repr__(self): return 'H()'\ndisplay(1)\nH()",
  );
  assert.equal(ex.results.length, 2);
  assert.equal(ex.results[0].isMainResult, false);
  assert.equal(ex.results[0].text, '1');
  assert.equal(ex.results[1].isMainResult, true);
  assert.equal(ex.results[1].html, '<b>hi</b>');
  assert.equal(ex.text, 'H()');
});

test('createCodeContext + runCode({context}) isolates globals; cwd is honoured', async () => {
  const ctx = await sbx.createCodeContext({ cwd: '/tmp' });
  assert.match(ctx.id, /^[0-9a-f-]{36}$/);
  assert.equal(ctx.language, 'python');
  assert.equal(ctx.cwd, '/tmp');
  const ex = await sbx.runCode("'x' in globals()", { context: ctx });
  assert.equal(ex.text, 'False');
  assert.equal((await sbx.runCode('import os; os.getcwd()', { context: ctx })).text, '/tmp');
  await sbx.runCode('y = 42', { context: ctx });
  assert.equal((await sbx.runCode('y', { context: ctx })).text, '42');
  assert.equal((await sbx.runCode("'y' in globals()")).text, 'False');
  await sbx.removeCodeContext(ctx);
});

test('listCodeContexts includes the default python context and new ones; removeCodeContext drops one', async () => {
  const ctx = await sbx.createCodeContext();
  let list = await sbx.listCodeContexts();
  assert.ok(list.some((c) => c.id === ctx.id && c.language === 'python' && c.cwd === '/home/user'));
  assert.ok(list.some((c) => c.id !== ctx.id && c.language === 'python'), JSON.stringify(list));
  await sbx.removeCodeContext(ctx.id);
  list = await sbx.listCodeContexts();
  assert.ok(!list.some((c) => c.id === ctx.id));
  // (The SDK leaves its 60 s request timer armed when runCode fails before the
  // response body; a short requestTimeoutMs keeps node from idling at the end.)
  const err = await sbx.runCode('1', { context: ctx, requestTimeoutMs: 5000 }).then(() => null, (e) => e);
  assert.ok(err instanceof NotFoundError, `got ${err?.name}: ${err?.message}`);
  assert.match(err.message, new RegExp(`Context ${ctx.id} not found`));
  const err2 = await sbx.removeCodeContext(ctx.id).then(() => null, (e) => e);
  assert.ok(err2 instanceof NotFoundError, `got ${err2?.name}: ${err2?.message}`);
});

test('restartCodeContext clears state, keeps the id', async () => {
  const ctx = await sbx.createCodeContext();
  await sbx.runCode('z = 1', { context: ctx });
  await sbx.restartCodeContext(ctx);
  const ex = await sbx.runCode('z', { context: ctx });
  assert.equal(ex.error?.name, 'NameError');
  assert.equal(ex.error.value, "name 'z' is not defined");
  assert.equal((await sbx.runCode('2+2', { context: ctx })).text, '4');
  await sbx.removeCodeContext(ctx);
});

test('envs apply to one run only', async () => {
  const ex = await sbx.runCode("import os; os.environ.get('NB_VAR')", { envs: { NB_VAR: 'v1' } });
  assert.equal(ex.text, 'v1');
  const sub = await sbx.runCode("import subprocess; subprocess.run(['sh', '-c', 'echo $NB_VAR']); None", {
    envs: { NB_VAR: 'v2' },
  });
  assert.deepEqual(sub.logs.stdout, ['v2\n']);
  const after = await sbx.runCode("import os; repr(os.environ.get('NB_VAR'))");
  assert.equal(after.text, 'None');
});

test('a long run with timeoutMs -> TimeoutError; the interrupted context lives on', async () => {
  const ctx = await sbx.createCodeContext();
  await sbx.runCode('keep = 7', { context: ctx });
  const err = await sbx
    .runCode('import time\nwhile True: time.sleep(0.1)', { context: ctx, timeoutMs: 1000 })
    .then(() => null, (e) => e);
  assert.ok(err instanceof TimeoutError, `got ${err?.name}: ${err?.message}`);
  // The next run waits for the interrupt to land, then sees the old globals.
  const ex = await within(20 * SECOND, sbx.runCode('keep', { context: ctx }), 'run after interrupt');
  assert.equal(ex.text, '7');
  await sbx.removeCodeContext(ctx);
});

test('executions on one context run one at a time, in order', async () => {
  const ctx = await sbx.createCodeContext();
  await sbx.runCode('order = []', { context: ctx });
  const runs = [0, 1, 2].map((i) =>
    sbx.runCode(`import time\norder.append(${i}); time.sleep(0.2); order.append(${i})`, { context: ctx }),
  );
  await Promise.all(runs);
  // Requests may reach the sandbox in any order, but never overlap: pairs stay together.
  const order = JSON.parse((await sbx.runCode('order', { context: ctx })).text);
  assert.equal(order.length, 6);
  for (let i = 0; i < 6; i += 2) assert.equal(order[i], order[i + 1], `interleaved: ${order}`);
  assert.deepEqual([...order].sort(), [0, 0, 1, 1, 2, 2]);
  await sbx.removeCodeContext(ctx);
});

test('a silent run of 6 s gets a keepalive line and still ends well', async () => {
  const res = await fetch(`${process.env.E2B_SANDBOX_URL}/execute`, {
    method: 'POST',
    headers: { 'E2b-Sandbox-Id': sbx.sandboxId, 'E2b-Sandbox-Port': '49999', 'Content-Type': 'application/json' },
    body: JSON.stringify({ code: "import time; time.sleep(6); 'done'" }),
  });
  const types = (await res.text()).trimEnd().split('\n').map((l) => JSON.parse(l).type);
  assert.deepEqual(types, ['number_of_executions', 'keepalive', 'result', 'end_of_execution']);
});

test('unsupported language -> a clear error, not a fake success', async () => {
  const ex = await sbx.runCode('print(1)', { language: 'r' });
  assert.equal(ex.error?.name, 'UnsupportedLanguage');
  assert.match(ex.error.value, /only python and javascript/);
  assert.deepEqual(ex.results, []);
  const err = await sbx.createCodeContext({ language: 'r' }).then(() => null, (e) => e);
  assert.ok(err instanceof SandboxError, `got ${err?.name}: ${err?.message}`);
  assert.match(err.message, /^400/);
  // language 'python' explicitly is the default context.
  assert.equal((await sbx.runCode('x', { language: 'python' })).text, '5');
});

test('javascript: results, console streams, state, errors, envs, own contexts', async () => {
  const ex = await sbx.runCode("console.log('hi'); console.error('oops'); var jv = 20; jv + 1", { language: 'js' });
  assert.equal(ex.text, '21');
  assert.deepEqual(ex.logs, { stdout: ['hi\n'], stderr: ['oops\n'] });
  assert.equal((await sbx.runCode('jv * 2', { language: 'javascript' })).text, '40');
  assert.equal((await sbx.runCode('({ a: 1 })', { language: 'javascript' })).text, '{ a: 1 }');
  assert.equal((await sbx.runCode('Promise.resolve(7)', { language: 'javascript' })).text, '7');
  const err = await sbx.runCode('null.x', { language: 'javascript' });
  assert.equal(err.error?.name, 'TypeError');
  assert.match(err.error.traceback, /TypeError/);
  const env = await sbx.runCode('process.env.NB_JS', { language: 'javascript', envs: { NB_JS: 'j' } });
  assert.equal(env.text, 'j');
  assert.equal((await sbx.runCode('String(process.env.NB_JS)', { language: 'javascript' })).text, 'undefined');
  const ctx = await sbx.createCodeContext({ language: 'js', cwd: '/tmp' });
  assert.equal(ctx.language, 'javascript');
  assert.equal((await sbx.runCode('typeof jv + " " + process.cwd()', { context: ctx })).text, 'undefined /tmp');
  // A busy loop is interrupted when the client gives up; the context lives on.
  const t = await sbx.runCode('while (true) {}', { context: ctx, timeoutMs: 500 }).then(() => null, (e) => e);
  assert.ok(t instanceof TimeoutError, `got ${t?.name}: ${t?.message}`);
  assert.equal((await within(20 * SECOND, sbx.runCode('1 + 1', { context: ctx }), 'after interrupt')).text, '2');
  assert.ok((await sbx.listCodeContexts()).some((c) => c.id === ctx.id && c.language === 'javascript'));
  await sbx.removeCodeContext(ctx);
});

test('raw HTTP: /health, 400 for context_id + language, NDJSON has no blank lines', async () => {
  const url = (p) => `${process.env.E2B_SANDBOX_URL}${p}`;
  const headers = { 'E2b-Sandbox-Id': sbx.sandboxId, 'E2b-Sandbox-Port': '49999', 'Content-Type': 'application/json' };
  const health = await fetch(url('/health'), { headers });
  assert.equal(health.status, 200);
  assert.equal(await health.json(), 'OK');
  const both = await fetch(url('/execute'), {
    method: 'POST', headers, body: JSON.stringify({ code: '1', context_id: 'x', language: 'python' }),
  });
  assert.equal(both.status, 400);
  assert.equal(await both.text(), 'Only one of context_id or language can be provided');
  const res = await fetch(url('/execute'), {
    method: 'POST', headers, body: JSON.stringify({ code: "print('a')\nprint('b')\n3" }),
  });
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.ok(text.endsWith('\n'));
  const lines = text.slice(0, -1).split('\n');
  for (const l of lines) assert.ok(l.trim().length > 0, `blank line in ${JSON.stringify(text)}`);
  const msgs = lines.map((l) => JSON.parse(l));
  assert.equal(msgs[0].type, 'number_of_executions');
  assert.equal(msgs.at(-1).type, 'end_of_execution');
  const out = msgs.find((m) => m.type === 'stdout');
  assert.match(out.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  assert.deepEqual(msgs.find((m) => m.type === 'result'), { type: 'result', is_main_result: true, text: '3' });
});

test('the interpreter runs as the sandbox user in /home/user', async () => {
  const ex = await sbx.runCode('import os, getpass; (getpass.getuser(), os.getcwd())');
  assert.equal(ex.text, "('user', '/home/user')");
});

test('big output: 3 MB in one print and 20000 lines arrive whole', async () => {
  const ex = await sbx.runCode("print('x' * 3_000_000)");
  assert.equal(ex.logs.stdout.join(''), 'x'.repeat(3_000_000) + '\n');
  const many = await sbx.runCode('for i in range(20000): print(i)');
  const text = many.logs.stdout.join('');
  assert.equal(text, Array.from({ length: 20000 }, (_, i) => `${i}\n`).join(''));
  assert.ok(many.logs.stdout.length < 20000, 'lines are batched like ipykernel does');
});

test('the python process dying mid-run -> ContextRestarting error, then a fresh context', async () => {
  const ctx = await sbx.createCodeContext();
  await sbx.runCode('w = 1', { context: ctx });
  const ex = await sbx.runCode("print('bye')\nimport os; os._exit(3)", { context: ctx });
  assert.equal(ex.error?.name, 'ContextRestarting');
  const again = await sbx.runCode("'w' in globals()", { context: ctx });
  assert.equal(again.text, 'False');
  await sbx.removeCodeContext(ctx);
});

test('KeyboardInterrupt from an interrupted run does not leak into the next one', async () => {
  const ctx = await sbx.createCodeContext();
  for (let i = 0; i < 3; i++) {
    const err = await sbx
      .runCode('import sys\nwhile True: print("spam" * 100)', { context: ctx, timeoutMs: 300 })
      .then(() => null, (e) => e);
    assert.ok(err instanceof TimeoutError, `got ${err?.name}: ${err?.message}`);
    const ex = await within(20 * SECOND, sbx.runCode('"ok"', { context: ctx }), 'run after interrupt');
    assert.equal(ex.text, 'ok');
    assert.equal(ex.error, undefined);
  }
  await sbx.removeCodeContext(ctx);
});

test('a template without python3 or node -> ContextStartFailed naming it', async () => {
  const bb = await Sandbox.create('busybox', { timeoutMs: 60 * SECOND });
  try {
    const ex = await bb.runCode('1+1');
    assert.equal(ex.error?.name, 'ContextStartFailed');
    assert.match(ex.error.value, /python3/);
    const err = await bb.createCodeContext().then(() => null, (e) => e);
    assert.ok(err instanceof SandboxError, `got ${err?.name}: ${err?.message}`);
    const js = await bb.runCode('1', { language: 'javascript' });
    assert.equal(js.error?.name, 'ContextStartFailed');
    assert.match(js.error.value, /cannot start node/);
  } finally {
    await bb.kill();
  }
});

test('teardown: kill the sandbox', async () => {
  await sbx.kill();
});
