// nestbox code-interpreter driver for JavaScript and TypeScript: one long-lived node
// per context, started by the agent as
// `sh -c 'exec node -e "$1" "$2" 3<&0 4>&1 </dev/null >&2' nestbox-js <this> <language>`
// (embedded in the agent at build time). Same protocol as interp-kernel.py:
//   fd 3 (agent -> driver): one JSON object per line, {"code": str, "env_vars": {k: v}}
//   fd 4 (driver -> agent): one JSON object per line, in the /execute NDJSON shape,
//        plus {"type": "ready"} once at start.
//   fd 1 and 2: the agent's diagnostics pipe (raw writes of children end up there).
// Cells run as scripts in this node's global context (vm.runInThisContext), so
// globals, functions and top-level let/const persist; the completion value is the
// main result (a Promise is awaited first). A cell with top-level await is rewritten
// first (rewriteTopLevelAwait). SIGINT breaks a running synchronous loop
// (breakOnSigint).
'use strict';
const fs = require('fs');
const util = require('util');
const vm = require('vm');
const { Console } = require('console');
const { Writable } = require('stream');

const CMD_FD = 3;
const EV_FD = 4;
const MAX_TEXT = 1 << 20;

function emit(obj) {
  const data = Buffer.from(JSON.stringify(obj) + '\n', 'utf8');
  let off = 0;
  while (off < data.length) {
    try {
      off += fs.writeSync(EV_FD, data, off, data.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

function streamOf(name) {
  return new Writable({
    decodeStrings: false,
    write(chunk, encoding, cb) {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      for (let i = 0; i < text.length; i += MAX_TEXT)
        emit({ type: name, text: text.slice(i, i + MAX_TEXT), timestamp: new Date().toISOString() });
      cb();
    },
  });
}

const out = streamOf('stdout');
const err = streamOf('stderr');
// Writes go out synchronously, in program order (Writable calls write() at once
// while nothing is buffered).
const userConsole = new Console({ stdout: out, stderr: err });
globalThis.console = userConsole;
for (const [name, s] of [['stdout', out], ['stderr', err]]) {
  Object.defineProperty(process, name, { configurable: true, get: () => s });
}
// Interrupts outside a running loop must not kill the context; while a cell
// awaits its Promise they end the wait.
let interruptWait = null;
process.on('SIGINT', () => {
  if (interruptWait) interruptWait(new Error('Script execution was interrupted by `SIGINT`'));
});

// E2B's JavaScript kernel is ijavascript on its nel fork: a value's MIME bundle is
// its _toMime(), text/plain from util.inspect, then _toHtml, _toSvg, _toPng and
// _toJpeg; `$$` lets a cell send a result of its own ($$.html(...), $$.json(...))
// or display several ($$.display().text(...)). Results take E2B's field names as
// the Python driver's do (interp-display.py).
const RESULT_FIELDS = [
  ['text/plain', 'text'], ['text/html', 'html'], ['text/markdown', 'markdown'], ['image/svg+xml', 'svg'],
  ['image/png', 'png'], ['image/jpeg', 'jpeg'], ['application/pdf', 'pdf'], ['text/latex', 'latex'],
  ['application/json', 'json'], ['application/javascript', 'javascript'], ['e2b/data', 'data'], ['e2b/chart', 'chart'],
];

function mimeOf(value) {
  if (value === null) return { 'text/plain': 'null' };
  let mime;
  if (typeof value._toMime === 'function') {
    try {
      mime = value._toMime();
    } catch {}
  }
  if (mime === null || typeof mime !== 'object') mime = {};
  if (!('text/plain' in mime)) {
    try {
      mime['text/plain'] = util.inspect(value);
    } catch {}
  }
  for (const [meth, type] of [['_toHtml', 'text/html'], ['_toSvg', 'image/svg+xml'], ['_toPng', 'image/png'],
    ['_toJpeg', 'image/jpeg']]) {
    if (typeof value[meth] === 'function' && !(type in mime)) {
      try {
        mime[type] = value[meth]();
      } catch {}
    }
  }
  return mime;
}

function resultLine(mime, isMain) {
  const rest = { ...mime };
  const line = { type: 'result' };
  for (const [type, field] of RESULT_FIELDS) {
    let v = rest[type];
    delete rest[type];
    if (v === undefined || v === null) continue;
    // E2B's server strips one pair of quotes from text/plain.
    if (field === 'text' && typeof v === 'string' && v &&
        ((v.startsWith("'") && v.endsWith("'")) || (v.startsWith('"') && v.endsWith('"')))) v = v.slice(1, -1);
    line[field] = v;
  }
  line.extra = rest;
  line.is_main_result = isMain;
  return line;
}

// nel's $$ for one execution; what it sends after the cell ended is dropped.
function makeDollar(run) {
  const send = (mime, isMain) => {
    if (run.ended) return;
    if (isMain) run.mainSent = true;
    emit(resultLine(mime, isMain));
  };
  const sender = (type) => (data) => send({ [type]: data }, true);
  const $$ = {
    mime: (bundle) => send({ ...bundle }, true),
    text: sender('text/plain'),
    html: sender('text/html'),
    svg: sender('image/svg+xml'),
    png: sender('image/png'),
    jpeg: sender('image/jpeg'),
    json: sender('application/json'),
    sendResult: (value) => { send(mimeOf(value), true); run.finish(); },
    sendError: (error) => { run.error = error; run.finish(); },
    done: (value) => { if (value !== undefined) send(mimeOf(value), true); run.finish(); },
    async: (on) => { run.async = on === undefined ? true : !!on; return run.async; },
    display: () => {
      const d = (type) => (data) => send({ [type]: data }, false);
      return {
        mime: (bundle) => send({ ...bundle }, false),
        text: d('text/plain'), html: d('text/html'), svg: d('image/svg+xml'), png: d('image/png'),
        jpeg: d('image/jpeg'), json: d('application/json'), close: () => {},
      };
    },
  };
  return $$;
}

// The driver's frames (vm, this file) are not the user's business.
function userStack(stack) {
  return stack
    .split('\n')
    .filter((l) => !/^\s+at .*(node:vm|node:internal|\[eval\]|sigintHandlersWrap)/.test(l))
    .join('\n');
}

// Top-level await, as E2B's JavaScript kernel allows it: a cell that awaits outside
// any function runs as the body of an async function, the Promise of which the cell
// awaits. So that what it declares outlives it, as in any other cell, its top-level
// declarations become `var`s of the script around that function (var: a later cell may
// declare the same name again, as notebooks do) and assignments inside; its last
// expression becomes the function's return value, the cell's result. Parsing is
// acorn's, which Debian's npm brings (/usr/share/nodejs); without it such a cell stays
// the SyntaxError node gives.
const VALUE = '__nestbox_cell_value__';

function rewriteTopLevelAwait(code) {
  let acorn, walk;
  try {
    acorn = require('acorn');
    walk = require('acorn-walk');
  } catch {
    return null;
  }
  const head = '(async () => {\n';
  const tail = '\n})()';
  const wrapped = `${head}${code}${tail}`;
  let fn;
  try {
    fn = acorn.parse(wrapped, { ecmaVersion: 'latest' }).body[0].expression.callee;
  } catch {
    return null; // not valid even as a function body: let node report the error
  }
  let awaits = false;
  walk.recursive(fn.body, null, {
    Function() {}, // an await inside a function is that function's
    AwaitExpression() { awaits = true; },
    ForOfStatement(node, st, c) {
      if (node.await) awaits = true;
      c(node.left, st);
      c(node.right, st, 'Expression');
      c(node.body, st, 'Statement');
    },
  });
  if (!awaits) return null;

  const names = new Set();
  const edits = []; // [start, end, text], offsets into wrapped
  const src = (node) => wrapped.slice(node.start, node.end);
  const collect = (p) => {
    if (!p) return;
    if (p.type === 'Identifier') names.add(p.name);
    else if (p.type === 'ObjectPattern') for (const prop of p.properties) collect(prop.type === 'RestElement' ? prop : prop.value);
    else if (p.type === 'ArrayPattern') for (const el of p.elements) collect(el);
    else if (p.type === 'RestElement') collect(p.argument);
    else if (p.type === 'AssignmentPattern') collect(p.left);
  };
  const exported = []; // function declarations stay (hoisted in the body) and are copied out
  const body = fn.body.body;
  // The cell's value is that of its last statement that is not a declaration (a script's
  // completion value), kept while the declarations after it still run.
  const declaration = /^(FunctionDeclaration|ClassDeclaration|VariableDeclaration|EmptyStatement)$/;
  const last = body.findLastIndex((st) => !declaration.test(st.type));
  body.forEach((stmt, i) => {
    if (stmt.type === 'VariableDeclaration') {
      const parts = [];
      for (const d of stmt.declarations) {
        collect(d.id);
        if (d.init) parts.push(`(${src(d.id)} = ${src(d.init)})`);
      }
      edits.push([stmt.start, stmt.end, parts.length ? `void (${parts.join(', ')});` : ';']);
    } else if (stmt.type === 'ClassDeclaration') {
      names.add(stmt.id.name);
      edits.push([stmt.start, stmt.end, `${stmt.id.name} = ${src(stmt)};`]);
    } else if (stmt.type === 'FunctionDeclaration') {
      names.add(stmt.id.name);
      exported.push(`globalThis[${JSON.stringify(stmt.id.name)}] = ${stmt.id.name};`);
    } else if (i === last && stmt.type === 'ExpressionStatement') {
      edits.push([stmt.expression.start, stmt.expression.end, `(${VALUE} = (${src(stmt.expression)}))`]);
    }
  });
  let out = wrapped;
  for (const [start, end, text] of edits.sort((a, b) => b[0] - a[0])) out = out.slice(0, start) + text + out.slice(end);
  out = `${head}let ${VALUE}; ${exported.join(' ')}${out.slice(head.length, -tail.length)}\nreturn ${VALUE};${tail}`;
  return (names.size ? `var ${[...names].join(', ')}; ` : '') + out;
}

// TypeScript contexts (argv: typescript) run this driver too: each cell's types are
// stripped first, by Babel's TypeScript preset, which Debian's npm brings to the
// templates (node-babel7); no type checking, as in E2B's TypeScript kernel.
const TYPESCRIPT = process.argv.includes('typescript');
let babel = null;

function stripTypes(code, filename) {
  if (!babel) {
    try {
      babel = { core: require('@babel/core'), preset: require('@babel/preset-typescript') };
    } catch (e) {
      throw new Error('typescript cells need @babel/core and @babel/preset-typescript (Debian: node-babel7), ' +
        `which this template lacks: ${e.message}`);
    }
  }
  return babel.core.transformSync(code, {
    filename: filename.replace(/\.js$/, '.ts'),
    babelrc: false,
    configFile: false,
    sourceType: 'unambiguous', // a cell with import is a module: its imports stay, type-only ones go
    retainLines: true,
    // An import a later cell uses looks unused here: keep every import but `import type`.
    presets: [[babel.preset, { onlyRemoveTypeImports: true }]],
    parserOpts: { allowAwaitOutsideFunction: true },
  }).code;
}

// `import` in a cell, as E2B's kernels allow: cells are scripts, so each top-level
// import declaration becomes a `var` bound to require() of its module (a default import
// takes the module's default export when it has one, else the module). Returns null
// when the cell has no import, is not a valid module either, or exports something.
function rewriteImports(code) {
  let acorn;
  try {
    acorn = require('acorn');
  } catch {
    return null;
  }
  let program;
  try {
    program = acorn.parse(code, { ecmaVersion: 'latest', sourceType: 'module', allowAwaitOutsideFunction: true });
  } catch {
    return null;
  }
  const imports = program.body.filter((st) => st.type === 'ImportDeclaration');
  if (!imports.length || program.body.some((st) => /^Export/.test(st.type))) return null;
  let out = code;
  for (const st of imports.reverse()) {
    const from = `require(${JSON.stringify(st.source.value)})`;
    const parts = [];
    for (const sp of st.specifiers) {
      if (sp.type === 'ImportDefaultSpecifier') parts.push(`${sp.local.name} = ${IMPORT_DEFAULT}(${from})`);
      else if (sp.type === 'ImportNamespaceSpecifier') parts.push(`${sp.local.name} = ${from}`);
      else {
        const name = sp.imported.type === 'Identifier' ? sp.imported.name : sp.imported.value; // {"a-b" as x}
        parts.push(`${sp.local.name} = ${from}[${JSON.stringify(name)}]`);
      }
    }
    out = out.slice(0, st.start) + (parts.length ? `var ${parts.join(', ')};` : `${from};`) + out.slice(st.end);
  }
  return out;
}

const IMPORT_DEFAULT = '__nestbox_import_default__';
globalThis[IMPORT_DEFAULT] = (m) => (m && m.__esModule && 'default' in m ? m.default : m);

function compileCell(code, filename) {
  if (TYPESCRIPT) code = stripTypes(code, filename);
  try {
    return new vm.Script(code, { filename });
  } catch (e) {
    // Not only "await is only valid...": a lone `for await` reads "Unexpected reserved word".
    if (!(e instanceof SyntaxError)) throw e;
    const imported = rewriteImports(code);
    if (imported !== null) code = imported;
    try {
      return new vm.Script(code, { filename });
    } catch (again) {
      if (!(again instanceof SyntaxError)) throw again;
    }
    const rewritten = rewriteTopLevelAwait(code);
    if (rewritten === null) throw e;
    return new vm.Script(rewritten, { filename });
  }
}

let count = 0;

async function execute(req) {
  count += 1;
  emit({ type: 'number_of_executions', execution_count: count });
  const saved = {};
  for (const [k, v] of Object.entries(req.env_vars || {})) {
    saved[k] = process.env[k];
    process.env[k] = String(v);
  }
  const run = { ended: false, mainSent: false, async: false, error: undefined };
  const finished = new Promise((resolve) => { run.finish = resolve; });
  globalThis.$$ = makeDollar(run);
  try {
    let value = compileCell(req.code || '', `cell-${count}.js`).runInThisContext({ breakOnSigint: true });
    const interrupted = new Promise((_, reject) => { interruptWait = reject; });
    try {
      if (value instanceof Promise) value = await Promise.race([value, interrupted]);
      // $$.async(): the cell ends when it calls $$.done() (or sendResult/sendError).
      if (run.async) await Promise.race([finished, interrupted]);
    } finally {
      interruptWait = null;
    }
    if (run.error !== undefined) throw run.error;
    if (value !== undefined && !run.mainSent && !run.async) emit(resultLine(mimeOf(value), true));
  } catch (e) {
    const isErr = e instanceof Error;
    emit({
      type: 'error',
      name: isErr ? e.name : typeof e,
      value: isErr ? e.message : String(e),
      traceback: isErr && e.stack ? userStack(e.stack) : String(e),
    });
  } finally {
    run.ended = true;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  emit({ type: 'end_of_execution' });
}

const queue = [];
let busy = false;

async function pump() {
  if (busy) return;
  busy = true;
  while (queue.length) {
    const line = queue.shift();
    let req;
    try {
      req = JSON.parse(line);
    } catch (e) {
      process.stderr.write(`bad command: ${e}\n`);
      continue;
    }
    await execute(req);
  }
  busy = false;
}

let pending = '';
const cmds = fs.createReadStream(null, { fd: CMD_FD, encoding: 'utf8' });
cmds.on('data', (chunk) => {
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf('\n')) >= 0) {
    queue.push(pending.slice(0, nl));
    pending = pending.slice(nl + 1);
  }
  pump();
});
// The agent went away: finish what was asked, then leave.
cmds.on('end', () => {
  const wait = () => (busy || queue.length ? setTimeout(wait, 50) : process.exit(0));
  wait();
});
process.on('uncaughtException', (e) => {
  // A callback of an earlier cell threw: report it where a person looks.
  emit({ type: 'stderr', text: `${e && e.stack ? e.stack : e}\n`, timestamp: new Date().toISOString() });
});

emit({ type: 'ready', pid: process.pid });
