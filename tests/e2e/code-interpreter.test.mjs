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
  assert.match(ex.error.value, /only python, javascript, typescript and bash/);
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

test('python: top-level await on one event loop per context, kept between cells', async () => {
  const first = await sbx.runCode('import asyncio\nawait asyncio.sleep(0.01)\nx = await asyncio.sleep(0, result=5)\nx * 2');
  assert.equal(first.error, undefined, first.error?.traceback);
  assert.equal(first.text, '10');
  assert.equal((await sbx.runCode('x')).text, '5');
  assert.equal((await sbx.runCode('async def f():\n    return 3\nawait f()')).text, '3');
  // Bound to the loop in one cell, used in the next.
  assert.equal((await sbx.runCode('q = asyncio.Queue()\nawait q.put(7)')).error, undefined);
  assert.equal((await sbx.runCode('await q.get()')).text, '7');
  // asyncio.run still works: no loop runs between cells.
  assert.equal((await sbx.runCode('asyncio.run(f())')).text, '3');
  const failed = await sbx.runCode('async def g():\n    raise ValueError("inside")\nawait g()');
  assert.equal(failed.error?.name, 'ValueError');
  assert.equal(failed.error?.value, 'inside');
});

test('javascript: top-level await; what the cell declares outlives it; errors and the last value', async () => {
  const js = (code) => sbx.runCode(code, { language: 'js' });
  const first = await js('const v = await Promise.resolve(21);\nv * 2');
  assert.equal(first.error, undefined, first.error?.value);
  assert.equal(first.text, '42');
  assert.equal((await js('v + 1')).text, '22'); // declared in an awaiting cell, seen by the next
  // The same name again, as notebook cells do; destructuring; functions hoisted and kept;
  // classes; for await.
  const again = await js(
    'const v = await Promise.resolve(1);\nconst { a, b: [c] } = await Promise.resolve({ a: 2, b: [3] });\n' +
      'class K { k() { return 4; } }\nlet n = 0;\n' +
      'for await (const x of [Promise.resolve(5)]) n += x;\nearly() + v + a + c + new K().k() + n\n' +
      'function early() { return 10; }',
  );
  assert.equal(again.error, undefined, again.error?.value);
  assert.equal(again.text, '25');
  assert.equal((await js('early() + new K().k()')).text, '14');
  assert.equal((await js('let m = 0;\nfor await (const x of [1, 2]) m += x;\nm')).text, '3');
  const logged = await js("await new Promise((r) => setTimeout(r, 20));\nconsole.log('after')");
  assert.deepEqual(logged.logs.stdout, ['after\n']);
  assert.equal(logged.results.length, 0); // console.log returns undefined: no result
  const failed = await js("await Promise.reject(new TypeError('boom'))");
  assert.equal(failed.error?.name, 'TypeError');
  assert.equal(failed.error?.value, 'boom');
  // await inside a function stays that function's business; a plain syntax error stays one.
  assert.equal((await js('async function f() { return await 8; }\nf()')).text, '8');
  assert.equal((await js('await (')).error?.name, 'SyntaxError');
});

test('javascript: import declarations bind as in a module, for this cell and the next', async () => {
  const js = (code) => sbx.runCode(code, { language: 'js' });
  const first = await js("import os from 'os';\nimport { join as j2 } from 'path';\nimport * as u from 'util';\n" +
    "import 'fs';\ntypeof os.cpus + j2('a', 'b') + typeof u.inspect");
  assert.equal(first.error, undefined, first.error?.value);
  assert.equal(first.text, 'functiona/bfunction');
  assert.equal((await js("j2('x', 'y')")).text, 'x/y');
  const awaited = await js("import fsp from 'node:fs/promises';\nconst t = await fsp.readFile('/etc/hostname', 'utf8');\nt.length > 0");
  assert.equal(awaited.error, undefined, awaited.error?.value);
  assert.equal(awaited.text, 'true');
  const missing = await js("import nope from 'no-such-module-here';");
  assert.equal(missing.error?.name, 'Error');
  assert.match(missing.error?.value, /Cannot find module 'no-such-module-here'/);
  assert.equal((await js('export const e = 1;')).error?.name, 'SyntaxError'); // a cell exports nothing
});

test('typescript: types are stripped, state and top-level await work, contexts say typescript', async () => {
  const ts = (code, opts = {}) => sbx.runCode(code, { language: 'ts', ...opts });
  const first = await ts('interface P { x: number }\nconst p: P = { x: 40 };\n' +
    'function add(a: number, b: number): number { return a + b; }\nadd(p.x, 2)');
  assert.equal(first.error, undefined, first.error?.value);
  assert.equal(first.text, '42');
  assert.equal((await ts('p.x as number')).text, '40');
  assert.equal((await ts('const v: number = await Promise.resolve(3);\nv')).text, '3');
  const imported = await ts("import { join } from 'path';\nimport type { Stats } from 'fs';\nconst j: string = join('a', 'b');\nj");
  assert.equal(imported.error, undefined, imported.error?.value);
  assert.equal(imported.text, 'a/b');
  assert.equal((await ts("join('c', 'd')")).text, 'c/d'); // imported in the cell before
  const ctx = await sbx.createCodeContext({ language: 'typescript' });
  assert.equal(ctx.language, 'typescript');
  assert.equal((await sbx.runCode('enum E { A = 1, B }\nE.B', { context: ctx })).text, '2');
  const bad = await ts('const x: number = ;');
  assert.equal(bad.error?.name, 'SyntaxError');
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
  // E2B's server sends every Result field that is not None: extra is {} when empty.
  assert.deepEqual(msgs.find((m) => m.type === 'result'), { type: 'result', text: '3', extra: {}, is_main_result: true });
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

// --- rich results: pandas, numpy, matplotlib, PIL in code-interpreter-v1 ---------

// Width and height from a PNG's IHDR chunk (after the 8-byte signature).
function pngSize(b64) {
  const png = Buffer.from(b64, 'base64');
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(png.subarray(12, 16).toString('latin1'), 'IHDR');
  return [png.readUInt32BE(16), png.readUInt32BE(20)];
}

// Dots per inch from a PNG's pHYs chunk (pixels per metre), or null without one.
function pngDpi(b64) {
  const png = Buffer.from(b64, 'base64');
  for (let off = 8; off + 8 <= png.length; ) {
    const len = png.readUInt32BE(off);
    if (png.subarray(off + 4, off + 8).toString('latin1') === 'pHYs')
      return [png.readUInt32BE(off + 8), png.readUInt32BE(off + 12)].map((ppm) => Math.round(ppm * 0.0254));
    off += 12 + len;
  }
  return null;
}

test('a DataFrame as the last expression -> main result with text, html and data', async () => {
  const ex = await sbx.runCode("import pandas as pd\ndf = pd.DataFrame({'a': [1, 2], 'b': ['x', 'y']})\ndf");
  assert.equal(ex.error, undefined);
  assert.equal(ex.results.length, 1);
  const r = ex.results[0];
  assert.equal(r.isMainResult, true);
  assert.equal(r.text, '   a  b\n0  1  x\n1  2  y');
  assert.equal(ex.text, r.text);
  assert.match(r.html, /^<div>/);
  assert.match(r.html, /<table border="1" class="dataframe">/);
  assert.match(r.html, /<th>a<\/th>\s*<th>b<\/th>/);
  assert.match(r.html, /<td>2<\/td>\s*<td>y<\/td>/);
  // E2B's e2b/data: to_dict(orient='list'); NaN as "nan", Timestamps as ISO text.
  assert.deepEqual(r.data, { a: [1, 2], b: ['x', 'y'] });
  assert.deepEqual(r.formats(), ['html', 'data']);
  assert.deepEqual(r.extra, {});
  const ts = await sbx.runCode("pd.DataFrame({'v': [1.5, None], 't': pd.to_datetime(['2024-01-01', '2024-01-02'])})");
  assert.deepEqual(ts.results[0].data, { v: [1.5, 'nan'], t: ['2024-01-01T00:00:00', '2024-01-02T00:00:00'] });
  // Wide frames wrap at 80 columns with up to 20 columns shown, as in a Jupyter kernel.
  const wide = await sbx.runCode('pd.DataFrame([list(range(30))])');
  assert.equal(
    wide.text,
    '   0   1   2   3   4   5   6   7   8   9   ...  20  21  22  23  24  25  26  \\\n' +
      '0   0   1   2   3   4   5   6   7   8   9  ...  20  21  22  23  24  25  26   \n\n' +
      '   27  28  29  \n0  27  28  29  \n\n[1 rows x 30 columns]',
  );
});

test('plt.plot + plt.show() -> a PNG at the figure dpi and a line chart', async () => {
  const events = [];
  const ex = await sbx.runCode(
    [
      'import io, matplotlib.pyplot as plt',
      'from PIL import Image',
      'fig = plt.figure(figsize=(4, 3), dpi=50)',
      "plt.plot([1, 2, 3], [1, 4, 9], label='sq')",
      "plt.title('Squares'); plt.xlabel('time (s)'); plt.ylabel('area [m2]')",
      "buf = io.BytesIO(); fig.savefig(buf, format='png', bbox_inches='tight')",
      "print('%dx%d' % Image.open(buf).size)",
      'plt.show()',
    ].join('\n'),
    { onResult: (r) => events.push(['result', r]), onStdout: (m) => events.push(['stdout', m.line]) },
  );
  assert.equal(ex.error, undefined);
  assert.deepEqual(events.map(([k]) => k), ['stdout', 'result']);
  assert.equal(ex.results.length, 1);
  const r = ex.results[0];
  assert.equal(r.isMainResult, false);
  assert.equal(r.text, '<Figure size 200x150 with 1 Axes>');
  // The figure's 4x3 in at its 50 dpi, cut to what is drawn (bbox_inches='tight', as
  // IPython's print_figure): exactly what savefig makes of it in the sandbox.
  const [w, h] = pngSize(r.png);
  assert.equal(`${w}x${h}\n`, ex.logs.stdout[0]);
  assert.ok(Math.abs(w - 4 * 50) < 30 && Math.abs(h - 3 * 50) < 30, `PNG is ${w}x${h}`);
  assert.deepEqual(pngDpi(r.png), [50, 50]);
  assert.deepEqual(r.chart, {
    type: 'line',
    title: 'Squares',
    elements: [{ label: 'sq', points: [[1, 1], [2, 4], [3, 9]] }],
    x_label: 'time (s)',
    y_label: 'area [m2]',
    x_unit: 's',
    y_unit: 'm2',
    x_ticks: r.chart.x_ticks,
    x_tick_labels: r.chart.x_tick_labels,
    x_scale: 'linear',
    y_ticks: r.chart.y_ticks,
    y_tick_labels: r.chart.y_tick_labels,
    y_scale: 'linear',
  });
  // Ticks as drawn, labels as matplotlib writes them (filled in by the drawing).
  assert.deepEqual(r.chart.x_ticks, [0.5, 1, 1.5, 2, 2.5, 3, 3.5]);
  assert.deepEqual(r.chart.x_tick_labels, ['0.5', '1.0', '1.5', '2.0', '2.5', '3.0', '3.5']);
  assert.equal(r.chart.y_ticks.length, r.chart.y_tick_labels.length);
  assert.deepEqual(r.chart.y_tick_labels, r.chart.y_ticks.map((t) => String(t)));
  // plt.show() closed the figure: the next cell has nothing left to show.
  assert.deepEqual((await sbx.runCode('len(plt.get_fignums())')).text, '0');
});

test('a bar chart left open at the end of the cell is shown, with its bars', async () => {
  const ex = await sbx.runCode(
    "import matplotlib.pyplot as plt\nplt.bar(['A', 'B', 'C'], [3, 5, 1], label='sold')\nplt.xlabel('Shop'); plt.ylabel('Units');",
  );
  assert.equal(ex.error, undefined);
  // The trailing ';' hides the last value (IPython); the open figure still shows.
  assert.equal(ex.results.length, 1);
  const r = ex.results[0];
  assert.equal(r.isMainResult, false);
  assert.ok(pngSize(r.png)[0] > 100);
  assert.deepEqual(r.chart, {
    type: 'bar',
    title: null,
    elements: [
      { label: 'A', group: 'sold', value: 3 },
      { label: 'B', group: 'sold', value: 5 },
      { label: 'C', group: 'sold', value: 1 },
    ],
    x_label: 'Shop',
    y_label: 'Units',
    x_unit: null,
    y_unit: null,
  });
  // Without ';' the value comes first (main), then the figure, as in Jupyter.
  const two = await sbx.runCode("plt.scatter([1, 2], [2, 1], label='p')");
  assert.deepEqual(two.results.map((x) => x.isMainResult), [true, false]);
  // IPython's pretty printer names objects without a repr of their own like this.
  assert.match(two.results[0].text, /^<matplotlib\.collections\.PathCollection at 0x[0-9a-f]+>$/);
  assert.equal(two.results[1].text, '<Figure size 640x480 with 1 Axes>');
  assert.equal(two.results[1].chart.type, 'scatter');
  assert.deepEqual(two.results[1].chart.elements, [{ label: 'p', points: [[1, 2], [2, 1]] }]);
});

test('display() of several objects -> results in order, only the last expression main', async () => {
  const events = [];
  const ex = await sbx.runCode(
    "display(1, 'two')\ndisplay({'k': [1, 2]})\nprint('between')\nfrom IPython.display import HTML\ndisplay(HTML('<i>h</i>'))\n[3, 4]",
    { onResult: (r) => events.push(['result', r.text]), onStdout: (m) => events.push(['stdout', m.line]) },
  );
  assert.equal(ex.error, undefined);
  assert.deepEqual(events, [
    ['result', '1'],
    ['result', 'two'],
    ['result', "{'k': [1, 2]}"],
    ['stdout', 'between\n'],
    ['result', '<IPython.core.display.HTML object>'],
    ['result', '[3, 4]'],
  ]);
  assert.deepEqual(ex.results.map((r) => r.isMainResult), [false, false, false, false, true]);
  // Lists and dicts also come as JSON (E2B's application/json formatter).
  assert.deepEqual(ex.results[2].json, { k: [1, 2] });
  assert.equal(ex.results[3].html, '<i>h</i>');
  assert.deepEqual(ex.results[4].json, [3, 4]);
  assert.equal(ex.text, '[3, 4]');
  // Long containers break over lines like IPython's pretty printer.
  assert.equal((await sbx.runCode('list(range(30))')).text, `[${Array.from({ length: 30 }, (_, i) => i).join(',\n ')}]`);
});

test('numpy arrays and PIL images', async () => {
  const ex = await sbx.runCode('import numpy as np\nnp.arange(6).reshape(2, 3)');
  assert.equal(ex.text, 'array([[0, 1, 2],\n       [3, 4, 5]])');
  assert.deepEqual(ex.results[0].formats(), []);
  const img = await sbx.runCode(
    "from PIL import Image\nim = Image.new('RGB', (16, 8), 'red')\nim.show()\nim.save('/tmp/red.png')\nNone",
  );
  // Image.show() and Image.save(path) display the image (E2B's startup scripts).
  assert.equal(img.results.length, 2);
  for (const r of img.results) assert.deepEqual(pngSize(r.png), [16, 8]);
});

test('an error inside pandas code -> ExecutionError with the library frames', async () => {
  const ex = await sbx.runCode("import pandas as pd\ndf = pd.DataFrame({'a': [1]})\ndf['missing'].sum()");
  assert.equal(ex.error?.name, 'KeyError');
  assert.equal(ex.error.value, "'missing'");
  assert.match(ex.error.traceback, /Traceback \(most recent call last\)/);
  assert.match(ex.error.traceback, /File "<cell-\d+>", line 3, in <module>\n\s+df\['missing'\]\.sum\(\)/);
  assert.match(ex.error.traceback, /pandas\/core\/frame\.py/);
  assert.match(ex.error.traceback, /KeyError: 'missing'\n$/);
  assert.deepEqual(ex.results, []);
});

test('matplotlib outside the interpreter keeps its Agg default', async () => {
  const ex = await sbx.runCode(
    "import subprocess\nsubprocess.run(['python3', '-c', 'import matplotlib.pyplot as plt; print(plt.get_backend())']); None",
  );
  assert.deepEqual(ex.logs, { stdout: ['agg\n'], stderr: [] });
  assert.equal((await sbx.runCode('import matplotlib; matplotlib.get_backend()')).text, 'module://nestbox_inline');
});

test('javascript: $$.html sets the result, $$.display() adds others', async () => {
  const ex = await sbx.runCode("$$.display().text('first'); $$.html('<b>x</b>'); 42", { language: 'js' });
  assert.equal(ex.error, undefined);
  assert.deepEqual(ex.results.map((r) => [r.isMainResult, r.text, r.html]), [
    [false, 'first', undefined],
    [true, undefined, '<b>x</b>'],
  ]);
  const json = await sbx.runCode('$$.json({ a: [1, 2] })', { language: 'js' });
  assert.deepEqual(json.results[0].json, { a: [1, 2] });
  const obj = await sbx.runCode("({ _toHtml: () => '<p>o</p>', n: 1 })", { language: 'js' });
  assert.equal(obj.results[0].html, '<p>o</p>');
  assert.match(obj.text, /n: 1/);
});

test('!pip install in a cell, then import in the same kernel (no restart), as on E2B', { timeout: 90 * SECOND }, async () => {
  await sbx.runCode('1'); // the kernel runs before anything is installed
  await sbx.files.write('/tmp/nbcell/nbcell/__init__.py', 'X = 7\n');
  await sbx.files.write('/tmp/nbcell/pyproject.toml', '[build-system]\nrequires = ["setuptools"]\n' +
    'build-backend = "setuptools.build_meta"\n[project]\nname = "nbcell"\nversion = "1.0"\n');
  const pip = await sbx.runCode('!pip install --no-index --no-build-isolation -q /tmp/nbcell', { timeoutMs: 80 * SECOND });
  assert.equal(pip.error, undefined);
  assert.doesNotMatch(pip.logs.stderr.join(''), /externally-managed|error/i);
  const imported = await sbx.runCode('import nbcell\nnbcell.X');
  assert.equal(imported.error, undefined, imported.error?.value);
  assert.equal(imported.text, '7');
});

test('IPython magics and shell escapes: %matplotlib inline, !cmd, x = !cmd, %%writefile, %%bash, %cd', async () => {
  const plot = await sbx.runCode('%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()');
  assert.equal(plot.error, undefined);
  assert.equal(plot.results.length, 1);
  assert.ok(plot.results[0].png, 'the figure still comes back as a PNG');

  const shell = await sbx.runCode('!echo shell-$((1+1))');
  assert.equal(shell.error, undefined);
  assert.deepEqual(shell.logs.stdout, ['shell-2\n']);

  const captured = await sbx.runCode("files = !printf 'a\\nb\\n'\nfiles");
  assert.equal(captured.error, undefined);
  assert.equal(captured.text, "['a', 'b']");

  const written = await sbx.runCode('%%writefile /tmp/magic.txt\nhello from a cell');
  assert.equal(written.error, undefined);
  assert.deepEqual(written.logs.stdout, ['Writing /tmp/magic.txt\n']);
  assert.equal((await sbx.files.read('/tmp/magic.txt')).trim(), 'hello from a cell');

  const bash = await sbx.runCode('%%bash\necho from-bash\necho to-stderr >&2');
  assert.equal(bash.error, undefined);
  assert.deepEqual(bash.logs.stdout, ['from-bash\n']);
  assert.deepEqual(bash.logs.stderr, ['to-stderr\n']);

  const cd = await sbx.runCode('%cd /tmp\nimport os\nos.getcwd()');
  assert.equal(cd.text, '/tmp'); // E2B's server strips one pair of quotes from text
  await sbx.runCode('%cd /home/user');

  const unknown = await sbx.runCode('%nosuchmagic');
  assert.equal(unknown.error?.name, 'UsageError');
  assert.equal(unknown.error?.value, 'Line magic function `%nosuchmagic` not found.');

  // Only the cell sees get_ipython(); libraries asking IPython get "no shell".
  const lib = await sbx.runCode('from IPython import get_ipython as g\nprint(g())');
  assert.deepEqual(lib.logs.stdout, ['None\n']);
});

test("language 'bash': state carries over, output streams, a failing cell is an error with its status", async () => {
  const ctx = await sbx.createCodeContext({ language: 'bash' });
  assert.equal(ctx.language, 'bash');
  const first = await sbx.runCode('GREETING=hello; cd /tmp; f() { echo "f says $1"; }', { context: ctx });
  assert.equal(first.error, undefined);
  const second = await sbx.runCode('echo "$GREETING from $(pwd)"; f twice; echo oops >&2', { context: ctx });
  assert.equal(second.error, undefined);
  assert.deepEqual(second.logs.stdout.join(''), 'hello from /tmp\nf says twice\n');
  assert.deepEqual(second.logs.stderr, ['oops\n']);
  assert.deepEqual(second.results, []);
  const failed = await sbx.runCode('echo before; false', { context: ctx });
  assert.deepEqual(failed.logs.stdout, ['before\n']);
  assert.equal(failed.error?.name, '');
  assert.equal(failed.error?.value, '1');
  const envs = await sbx.runCode('echo "$ONLY_HERE"', { context: ctx, envs: { ONLY_HERE: 'per run' } });
  assert.deepEqual(envs.logs.stdout, ['per run\n']);
  const after = await sbx.runCode('echo "[${ONLY_HERE-unset}]"', { context: ctx });
  assert.deepEqual(after.logs.stdout, ['[unset]\n']);
  // Without a context: the default bash context.
  const plain = await sbx.runCode('echo $((6*7))', { language: 'bash' });
  assert.deepEqual(plain.logs.stdout, ['42\n']);
  // `exit` ends that bash; the next cell gets a fresh one.
  const exited = await sbx.runCode('exit 3', { context: ctx });
  assert.equal(exited.error?.value, '3');
  const fresh = await sbx.runCode('echo "${GREETING-gone}"', { context: ctx });
  assert.deepEqual(fresh.logs.stdout, ['gone\n']);
  // A timeout interrupts what runs; the context answers the next cell.
  await assert.rejects(sbx.runCode('sleep 30', { context: ctx, timeoutMs: 1000 }), TimeoutError);
  const next = await sbx.runCode('echo alive', { context: ctx });
  assert.deepEqual(next.logs.stdout, ['alive\n']);
});

test('teardown: kill the sandbox', async () => {
  await sbx.kill();
});
