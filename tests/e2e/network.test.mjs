// Outbound network (allowInternetAccess): sandboxes reach the outside through the
// host's NAT, and nothing else: not the host on any of its addresses, not another
// sandbox, not the cloud metadata address. The test never uses the machine's own
// network: "the outside" is a second host made of a network namespace joined to this
// one by a veth pair on its own /24, running a tiny HTTP server that answers with the
// address it saw. The daemon gets a subnet of its own (--subnet) so that other
// daemons on this host (default 10.88.0.0/16) cannot hold the same addresses.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { spawn, spawnSync } from 'node:child_process';
import { before, after } from 'node:test';
import { InvalidArgumentError, Sandbox, SandboxError, SandboxNotFoundError } from 'e2b';
import { hostPidsOfSandbox, setupServer, sleep, within } from './helpers/server.mjs';

const SUBNET = '10.77.0.0/16';
const GATEWAY = '10.77.0.1';
const SECOND = 1000;

const { server, test, sandbox } = setupServer({ serveArgs: ['--subnet', SUBNET] });

// The remote host: namespace, veth pair (host end 192.168.223.1, remote .2), server.
const REMOTE_NS = `nbe2e-remote-${process.pid}`;
const HOST_END = `e2eh${process.pid % 100000}`;
const REMOTE_END = `e2er${process.pid % 100000}`;
const HOST_ADDR = '192.168.223.1';
const REMOTE_ADDR = '192.168.223.2';
const REMOTE_B = '192.168.223.3'; // a second address of the remote host: egress rules tell them apart
const REMOTE_PORT = 8080;
let remoteServer = null;

function sh(cmd, args, { check = true } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (check && r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message || r.status}`);
  return r;
}

const linkName = (id) => `nb${id.slice(0, 13)}`;
const linkExists = (name) => sh('ip', ['-o', 'link', 'show', 'dev', name], { check: false }).status === 0;

before(async () => {
  sh('ip', ['netns', 'add', REMOTE_NS]);
  sh('ip', ['link', 'add', HOST_END, 'type', 'veth', 'peer', 'name', REMOTE_END, 'netns', REMOTE_NS]);
  sh('ip', ['addr', 'add', `${HOST_ADDR}/24`, 'dev', HOST_END]);
  sh('ip', ['link', 'set', HOST_END, 'up']);
  sh('ip', ['-n', REMOTE_NS, 'addr', 'add', `${REMOTE_ADDR}/24`, 'dev', REMOTE_END]);
  sh('ip', ['-n', REMOTE_NS, 'addr', 'add', `${REMOTE_B}/24`, 'dev', REMOTE_END]);
  sh('ip', ['-n', REMOTE_NS, 'link', 'set', REMOTE_END, 'up']);
  sh('ip', ['-n', REMOTE_NS, 'link', 'set', 'lo', 'up']);
  const code = `require('http').createServer((q, s) => s.end('remote saw ' + q.socket.remoteAddress.replace(/^::ffff:/, '') + '\\n'))` +
    `.listen(${REMOTE_PORT}, '0.0.0.0')`;
  remoteServer = spawn('ip', ['netns', 'exec', REMOTE_NS, process.execPath, '-e', code], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`http://${REMOTE_ADDR}:${REMOTE_PORT}/`, { signal: AbortSignal.timeout(1000) });
      assert.equal(await res.text(), `remote saw ${HOST_ADDR}\n`);
      break;
    } catch (e) {
      if (i > 50) throw new Error(`the remote host's server did not come up: ${e.message}`);
      await sleep(100);
    }
  }
});

after(() => {
  remoteServer?.kill('SIGKILL');
  sh('ip', ['netns', 'del', REMOTE_NS], { check: false }); // takes the veth pair with it
  // The daemon left the bridge and the table for its sandboxes (they outlive it); only
  // our subnet's address on the bridge is the test's to remove
  // (its route to the subnet goes with it).
  sh('ip', ['addr', 'del', `${GATEWAY}/32`, 'dev', 'nestbox0'], { check: false });
});

/** Runs a shell line in the sandbox as root; returns { stdout, exitCode, ms }. */
async function run(sbx, cmd, timeoutMs = 20 * SECOND) {
  const t0 = Date.now();
  const r = await sbx.commands.run(cmd, { user: 'root', timeoutMs }).catch((e) => {
    if (e.exitCode === undefined) throw e;
    return e;
  });
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode, ms: Date.now() - t0 };
}

const curl = (url) => `curl -sS --max-time 3 ${url}`;

test('a sandbox reaches a remote host by IP, which sees the host\'s address (NAT)', async (t) => {
  const sbx = await sandbox(t, 'base');
  const r = await run(sbx, curl(`http://${REMOTE_ADDR}:${REMOTE_PORT}/`));
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.stdout, `remote saw ${HOST_ADDR}\n`);
  // Its own address is from the daemon's subnet, and eth0 has the host's default MTU.
  const addr = await run(sbx, 'hostname -I');
  assert.match(addr.stdout.trim(), /^10\.77\.\d+\.\d+$/);
  assert.equal((await run(sbx, 'cat /sys/class/net/eth0/mtu')).exitCode, 0);
  assert.ok(linkExists(linkName(sbx.sandboxId)), `no ${linkName(sbx.sandboxId)} on the host`);
});

test('allowInternetAccess: false: no route out, failing at once, and getInfo says so', async (t) => {
  // Back to back: the first claims the warm sandbox (its veth pair is taken down on both
  // ends), the second most likely starts cold (none is made).
  const sbxs = [await sandbox(t, 'base', { allowInternetAccess: false }), await sandbox(t, 'base', { allowInternetAccess: false })];
  for (const sbx of sbxs) {
    const r = await run(sbx, curl(`http://${REMOTE_ADDR}:${REMOTE_PORT}/`));
    assert.equal(r.exitCode, 7, `curl: ${r.stdout}${r.stderr}`);
    assert.ok(r.ms < 2 * SECOND, `curl took ${r.ms} ms to fail`);
    // No route at all (the header line of /proc/net/route only), eth0 absent or down.
    assert.equal((await run(sbx, 'wc -l < /proc/net/route')).stdout.trim(), '1');
    assert.match((await run(sbx, 'cat /sys/class/net/eth0/operstate 2>/dev/null || echo none')).stdout, /^(down|none)\n$/);
    assert.equal((await Sandbox.getInfo(sbx.sandboxId)).allowInternetAccess, false);
    const host = sh('ip', ['-o', 'link', 'show', 'dev', linkName(sbx.sandboxId)], { check: false });
    assert.ok(host.status !== 0 || !/[<,]UP[,>]/.test(host.stdout), `its veth is up on the host: ${host.stdout}`);
  }
  // Asked for explicitly, internet access is reported as asked.
  const open = await sandbox(t, 'base', { allowInternetAccess: true });
  assert.equal((await Sandbox.getInfo(open.sandboxId)).allowInternetAccess, true);
});

test('the host is unreachable from a sandbox on every address it has', { timeout: 60 * SECOND }, async (t) => {
  let connections = 0;
  const srv = net.createServer((c) => {
    connections++;
    c.end('HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhost\n');
  });
  await new Promise((r) => srv.listen(0, '0.0.0.0', r));
  t.after(() => srv.close());
  const { port } = srv.address();
  // Every IPv4 address of the host: its eth0 (or whatever it has), the bridge, the link
  // to the remote host; loopback is the sandbox's own (isolation.test.mjs).
  const addrs = new Set([GATEWAY, HOST_ADDR]);
  for (const list of Object.values(os.networkInterfaces()))
    for (const a of list) if (a.family === 'IPv4' && !a.internal) addrs.add(a.address);
  const res = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(await res.text(), 'host\n', 'the host listener answers the host');
  connections = 0;

  const sbx = await sandbox(t, 'base');
  const probes = [...addrs].map((a) => `(${curl(`http://${a}:${port}/`)} >/dev/null 2>&1; echo "${a} rc=$?") &`).join(' ');
  const r = await run(sbx, `${probes} wait`);
  const lines = r.stdout.trim().split('\n').sort();
  assert.equal(lines.length, addrs.size, r.stdout);
  for (const l of lines) assert.match(l, / rc=(7|28)$/, `reached the host: ${l}`);
  assert.equal(connections, 0, 'the host listener saw a connection from the sandbox');
});

test('a sandbox cannot reach another sandbox, nor the metadata address', async (t) => {
  const [a, b] = await Promise.all([sandbox(t, 'base'), sandbox(t, 'base')]);
  await b.commands.run('python3 -m http.server 8000 --bind 0.0.0.0', { background: true, user: 'root', timeoutMs: 0 });
  const ipB = (await run(b, 'hostname -I')).stdout.trim();
  assert.match(ipB, /^10\.77\.\d+\.\d+$/);
  let up;
  for (let i = 0; i < 50; i++) {
    up = await run(b, `curl -sS -o /dev/null -w '%{http_code}' --max-time 3 http://${ipB}:8000/`);
    if (up.stdout === '200') break;
    await sleep(100);
  }
  assert.equal(up.stdout, '200', `B's server does not answer B itself: ${up.stderr}`);

  const r = await run(a, `${curl(`http://${ipB}:8000/`)}; echo "rc=$?"`);
  assert.match(r.stdout, /rc=(7|28)\n$/, `A reached B: ${r.stdout}`);
  const m = await run(a, `${curl('http://169.254.169.254/latest/meta-data/')}; echo "rc=$?"`);
  assert.match(m.stdout, /rc=(7|28)\n$/, `the metadata address answered: ${m.stdout}`);
  // Refused by the host (a TCP reset) rather than dropped: both fail at once.
  assert.ok(r.ms < 2 * SECOND && m.ms < 2 * SECOND, `A->B took ${r.ms} ms, metadata ${m.ms} ms`);
});

test('/etc/resolv.conf lists the host\'s nameservers and /etc/hosts names the sandbox', async (t) => {
  const parse = (text) =>
    text
      .split('\n')
      .map((l) => l.match(/^nameserver\s+(\d+\.\d+\.\d+\.\d+)/)?.[1])
      .filter((a) => a && !a.startsWith('127.'));
  let want = parse(fs.readFileSync('/etc/resolv.conf', 'utf8'));
  if (want.length === 0 && fs.existsSync('/run/systemd/resolve/resolv.conf'))
    want = parse(fs.readFileSync('/run/systemd/resolve/resolv.conf', 'utf8'));
  want = want.slice(0, 3);

  const sbx = await sandbox(t, 'base');
  const got = await sbx.files.read('/etc/resolv.conf');
  assert.deepEqual(parse(got), want, got);
  const name = (await run(sbx, 'hostname')).stdout.trim();
  const hosts = await run(sbx, `getent hosts ${name}`);
  assert.match(hosts.stdout, new RegExp(`^127\\.0\\.1\\.1\\s+${name.replaceAll('.', '\\.')}`), hosts.stdout);
  // The sandbox's own files from then on: the default user may not write them, root may.
  await sbx.files.write('/tmp/x', 'x');
  const edit = await run(sbx, 'echo "options ndots:2" >> /etc/resolv.conf && tail -1 /etc/resolv.conf && stat -c "%U %a" /etc/resolv.conf /etc/hosts /etc');
  assert.equal(edit.stdout, 'options ndots:2\nroot 644\nroot 644\nroot 755\n');
});

test('kill leaves no veth behind', async () => {
  const sbxs = [await server.create('base'), await server.create('base', { allowInternetAccess: false })];
  const names = sbxs.map((s) => linkName(s.sandboxId));
  assert.ok(linkExists(names[0]), `no ${names[0]} on the host while the sandbox runs`);
  for (const s of sbxs) assert.equal(await Sandbox.kill(s.sandboxId), true);
  // The pair goes with the sandbox's network namespace, which the kernel tears down on
  // a worker of its own: give it the time the leftover check gives namespaces.
  let left = names;
  for (let i = 0; i < 20 && left.length; i++) {
    left = left.filter(linkExists);
    if (left.length) await sleep(100);
  }
  assert.deepEqual(left, [], 'still on the host after kill');
});

test('a restarted daemon adopts sandboxes with their network; its table is replaced, not doubled', { timeout: 120 * SECOND }, async (t) => {
  const sbx = await sandbox(t, 'base');
  const name = linkName(sbx.sandboxId);
  const url = `http://${REMOTE_ADDR}:${REMOTE_PORT}/`;
  assert.equal((await run(sbx, curl(url))).stdout, `remote saw ${HOST_ADDR}\n`);
  const ifindex = sh('ip', ['-o', 'link', 'show', 'dev', name]).stdout.split(':')[0];
  const table = sh('nft', ['list', 'table', 'inet', 'nestbox']).stdout;

  await within(60 * SECOND, server.restart('SIGKILL'), 'restart');

  assert.equal(sh('ip', ['-o', 'link', 'show', 'dev', name]).stdout.split(':')[0], ifindex, 'the veth was replaced');
  const again = await Sandbox.connect(sbx.sandboxId);
  const r = await run(again, curl(url));
  assert.equal(r.stdout, `remote saw ${HOST_ADDR}\n`, r.stderr);
  const tables = sh('nft', ['list', 'tables']).stdout.split('\n').filter((l) => l.trim() === 'table inet nestbox');
  assert.equal(tables.length, 1);
  assert.equal(sh('nft', ['list', 'table', 'inet', 'nestbox']).stdout, table);
  const addrs = sh('ip', ['-o', '-4', 'addr', 'show', 'dev', 'nestbox0']).stdout.split('\n').filter((l) => l.includes(`${GATEWAY}/`));
  assert.equal(addrs.length, 1, 'the bridge address is not doubled');
});

// ---- egress rules: network.allowOut / denyOut, allowInternetAccess, updateNetwork ----

const urlA = `http://${REMOTE_ADDR}:${REMOTE_PORT}/`;
const urlB = `http://${REMOTE_B}:${REMOTE_PORT}/`;
const chainName = (id) => `sandbox_${id}`;
const nftRuleset = () => sh('nft', ['list', 'ruleset']).stdout;
const defined = (o) => JSON.parse(JSON.stringify(o)); // the SDK lists absent fields as undefined

/** What the sandbox reaches of A and B: 'ok' (answered through NAT), or 'refused' (curl's
 *  "couldn't connect", fast: a reset or ICMP from the host, not a timeout). */
async function reach(sbx) {
  const out = {};
  for (const [name, url] of [['A', urlA], ['B', urlB]]) {
    const r = await run(sbx, curl(url));
    if (r.exitCode === 0) {
      assert.equal(r.stdout, `remote saw ${HOST_ADDR}\n`);
      out[name] = 'ok';
    } else {
      assert.equal(r.exitCode, 7, `curl ${url}: rc=${r.exitCode} ${r.stderr}`);
      assert.ok(r.ms < 2 * SECOND, `refusing ${url} took ${r.ms} ms`);
      out[name] = 'refused';
    }
  }
  return out;
}

/** The SDK's error for an API 400: a SandboxError with statusCode 400 (not its own
 *  InvalidArgumentError, which it throws only for checks it makes itself). */
async function rejects400(promise, pattern) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof SandboxError, `not a SandboxError: ${e}`);
    assert.ok(!(e instanceof InvalidArgumentError), 'the SDK maps an API 400 to SandboxError');
    assert.equal(e.statusCode, 400, e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

test('denyOut: a denied address is refused at once, others are reached', async (t) => {
  const sbx = await sandbox(t, 'base', { network: { denyOut: [`${REMOTE_ADDR}/32`] } });
  assert.deepEqual(await reach(sbx), { A: 'refused', B: 'ok' });
  // UDP is refused too (ICMP admin-prohibited): a connected UDP socket sees it at once.
  const udp = await run(sbx, `python3 -c "import socket,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.connect(('${REMOTE_ADDR}',9)); s.send(b'x'); time.sleep(0.3); s.send(b'x')" 2>&1; echo rc=$?`);
  assert.match(udp.stdout, /ConnectionRefusedError|rc=1/, udp.stdout);
  const info = await Sandbox.getInfo(sbx.sandboxId);
  assert.deepEqual(info.network?.denyOut, [`${REMOTE_ADDR}/32`]);
  assert.match(nftRuleset(), new RegExp(`chain ${chainName(sbx.sandboxId)} \\{`));
});

test('allowInternetAccess false with allowOut: only the allowed address is reached', async (t) => {
  // Back to back, as above: a warm claim and most likely a cold start.
  for (let i = 0; i < 2; i++) {
    const sbx = await sandbox(t, 'base', { allowInternetAccess: false, network: { allowOut: [REMOTE_ADDR] } });
    assert.deepEqual(await reach(sbx), { A: 'ok', B: 'refused' });
    const info = await Sandbox.getInfo(sbx.sandboxId);
    assert.equal(info.allowInternetAccess, false);
    assert.deepEqual(info.network?.allowOut, [REMOTE_ADDR]);
  }
});

test('allowOut wins over denyOut 0.0.0.0/0', async (t) => {
  const sbx = await sandbox(t, 'base', { network: { allowOut: [`${REMOTE_ADDR}/32`], denyOut: ['0.0.0.0/0'] } });
  assert.deepEqual(await reach(sbx), { A: 'ok', B: 'refused' });
  // allowOut alone restricts nothing (E2B: no denyOut, everything allowed).
  const open = await sandbox(t, 'base', { network: { allowOut: [REMOTE_B] } });
  assert.deepEqual(await reach(open), { A: 'ok', B: 'ok' });
  assert.doesNotMatch(nftRuleset(), new RegExp(chainName(open.sandboxId)));
});

test('updateNetwork replaces the rules of a running sandbox, both ways, and getInfo follows', async (t) => {
  const sbx = await sandbox(t, 'base', { network: { allowPublicTraffic: true } });
  assert.deepEqual(await reach(sbx), { A: 'ok', B: 'ok' });

  await sbx.updateNetwork({ denyOut: [REMOTE_ADDR] });
  assert.deepEqual(await reach(sbx), { A: 'refused', B: 'ok' });
  let info = await Sandbox.getInfo(sbx.sandboxId);
  assert.deepEqual(defined(info.network), { allowPublicTraffic: true, denyOut: [REMOTE_ADDR] });

  await sbx.updateNetwork({ allowInternetAccess: false, allowOut: [REMOTE_B] });
  assert.deepEqual(await reach(sbx), { A: 'refused', B: 'ok' });
  info = await Sandbox.getInfo(sbx.sandboxId);
  assert.equal(info.allowInternetAccess, false);
  assert.deepEqual(defined(info.network), { allowPublicTraffic: true, allowOut: [REMOTE_B] });

  await sbx.updateNetwork({ allowInternetAccess: false });
  assert.deepEqual(await reach(sbx), { A: 'refused', B: 'refused' });

  // Omitted fields are cleared: everything is open again, and no rule is left.
  await sbx.updateNetwork({});
  assert.deepEqual(await reach(sbx), { A: 'ok', B: 'ok' });
  info = await Sandbox.getInfo(sbx.sandboxId);
  assert.equal(info.allowInternetAccess, undefined);
  assert.deepEqual(defined(info.network), { allowPublicTraffic: true });
  assert.doesNotMatch(nftRuleset(), new RegExp(chainName(sbx.sandboxId)));

  // A paused sandbox takes the update and keeps it when resumed.
  await sbx.pause();
  await Sandbox.updateNetwork(sbx.sandboxId, { denyOut: [REMOTE_B] });
  const again = await Sandbox.connect(sbx.sandboxId);
  assert.deepEqual(await reach(again), { A: 'ok', B: 'refused' });
});

test('updateNetwork gives a sandbox created without internet access a way out', async (t) => {
  // The first is a warm claim (pair taken down), the second most likely a cold start (no pair).
  for (let i = 0; i < 2; i++) {
    const sbx = await sandbox(t, 'base', { allowInternetAccess: false });
    assert.deepEqual(await reach(sbx), { A: 'refused', B: 'refused' });
    await sbx.updateNetwork({ allowInternetAccess: false, allowOut: [REMOTE_ADDR] });
    assert.deepEqual(await reach(sbx), { A: 'ok', B: 'refused' });
    await sbx.updateNetwork({ allowInternetAccess: true });
    assert.deepEqual(await reach(sbx), { A: 'ok', B: 'ok' });
    assert.equal((await Sandbox.getInfo(sbx.sandboxId)).allowInternetAccess, true);
  }
});

test('updateNetwork on a killed sandbox: SandboxNotFoundError', async () => {
  const sbx = await server.create('busybox');
  await Sandbox.kill(sbx.sandboxId);
  await assert.rejects(Sandbox.updateNetwork(sbx.sandboxId, { denyOut: [REMOTE_ADDR] }), SandboxNotFoundError);
});

test('what nestbox does not enforce is refused (400) at create and at update', async (t) => {
  const cases = [
    [{ allowOut: ['example.com'] }, /allowOut entry 'example\.com' is a domain name: nestbox enforces egress rules by CIDR block or IP address only/],
    [{ allowOut: ['*.example.com'] }, /domain name/],
    [{ denyOut: ['example.com'] }, /denyOut entry 'example\.com' is a domain name: deny rules take CIDR blocks or IP addresses only/],
    [{ denyOut: ['10.0.0.0/33'] }, /denyOut entry '10\.0\.0\.0\/33' is not an IPv4 CIDR block or address/],
    [{ allowOut: ['1.2.3'] }, /is not an IPv4 CIDR block or address/],
    [{ denyOut: ['::/0'] }, /is IPv6: sandboxes have IPv4 only/],
    [{ egressProxy: { address: 'proxy.example.com:1080' } }, /network\.egressProxy is not supported by nestbox/],
    [{ rules: { 'api.example.com': [{ transform: { headers: { A: 'b' } } }] } }, /network\.rules is not supported by nestbox/],
  ];
  const before = server.sandboxIds.size;
  for (const [network, pattern] of cases) await rejects400(Sandbox.create('busybox', { network }), pattern);
  await rejects400(Sandbox.create('busybox', { network: { httpsPorts: [3000] } }), /httpsPorts is not supported/);
  assert.equal(server.sandboxIds.size, before);

  const sbx = await sandbox(t, 'base', { network: { denyOut: [REMOTE_ADDR] } });
  for (const [network, pattern] of cases) await rejects400(sbx.updateNetwork(network), pattern);
  // A refused update changes nothing.
  assert.deepEqual(defined((await Sandbox.getInfo(sbx.sandboxId)).network), { denyOut: [REMOTE_ADDR] });
  assert.deepEqual(await reach(sbx), { A: 'refused', B: 'ok' });
});

test('egress rules go with the sandbox, and a restarted daemon puts them back', { timeout: 120 * SECOND }, async (t) => {
  const gone = await server.create('base', { network: { denyOut: [REMOTE_ADDR] } });
  assert.match(nftRuleset(), new RegExp(chainName(gone.sandboxId)));
  await Sandbox.kill(gone.sandboxId);
  assert.doesNotMatch(nftRuleset(), new RegExp(chainName(gone.sandboxId)));

  const sbx = await sandbox(t, 'base', { network: { denyOut: [REMOTE_ADDR] } });
  const cold = await sandbox(t, 'base', { allowInternetAccess: false, network: { allowOut: [REMOTE_B] } });
  // Lost while no daemon watches (as a host's `nft flush ruleset` would): the next daemon
  // applies what its catalog says.
  await within(60 * SECOND, server.restart('SIGKILL'), 'restart');
  assert.match(nftRuleset(), new RegExp(chainName(sbx.sandboxId)));
  sh('nft', ['delete', 'chain', 'netdev', 'nestbox', chainName(sbx.sandboxId)]);
  sh('nft', ['delete', 'chain', 'netdev', 'nestbox', chainName(cold.sandboxId)]);
  await within(60 * SECOND, server.restart('SIGKILL'), 'restart');
  assert.deepEqual(await reach(await Sandbox.connect(sbx.sandboxId)), { A: 'refused', B: 'ok' });
  assert.deepEqual(await reach(await Sandbox.connect(cold.sandboxId)), { A: 'refused', B: 'ok' });
  // A sandbox that died while no daemon ran has its rules removed at adoption.
  const dead = await server.create('base', { network: { denyOut: [REMOTE_ADDR] } });
  // The daemon first: a sandbox's pid 1 is its child, and would stay a zombie until reaped.
  server.proc.kill('SIGKILL');
  await server.exited;
  const pids = hostPidsOfSandbox(dead.sandboxId);
  for (const pid of pids) process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 50 && pids.some((p) => fs.existsSync(`/proc/${p}`)); i++) await sleep(100);
  await within(60 * SECOND, server.restart('SIGKILL'), 'restart');
  assert.doesNotMatch(nftRuleset(), new RegExp(chainName(dead.sandboxId)));
});

test('a host firewall that drops forwarded traffic (Docker\'s, ufw\'s) does not cut sandboxes off', { timeout: 120 * SECOND }, async (t) => {
  // What Docker leaves under iptables-nft: a forward chain with policy drop that jumps to
  // DOCKER-USER first. Its own table here, so that the host's are never touched.
  const table = `nbe2e_docker_${process.pid}`;
  const load = spawnSync('nft', ['-f', '-'], {
    encoding: 'utf8',
    input: `table ip ${table} {\n chain DOCKER-USER {\n  return\n }\n` +
      ` chain FORWARD {\n  type filter hook forward priority filter; policy drop;\n  jump DOCKER-USER\n }\n}\n`,
  });
  assert.equal(load.status, 0, load.stderr);
  t.after(() => sh('nft', ['delete', 'table', 'ip', table], { check: false }));
  const ours = () => sh('nft', ['list', 'chain', 'ip', table, 'DOCKER-USER']).stdout.split('\n')
    .filter((l) => l.includes('comment "nestbox"'));

  // Loaded after the daemon started: the sandbox's traffic dies in that chain.
  const sbx = await sandbox(t, 'base');
  const blocked = await run(sbx, curl(urlA));
  assert.equal(blocked.exitCode, 28, `curl should time out: rc=${blocked.exitCode} ${blocked.stdout}`);

  // A daemon that starts with it there lets sandboxes' traffic through, once, in DOCKER-USER.
  await within(60 * SECOND, server.restart('SIGTERM'), 'restart');
  const again = await Sandbox.connect(sbx.sandboxId);
  assert.deepEqual(await reach(again), { A: 'ok', B: 'ok' });
  assert.equal(ours().length, 2, sh('nft', ['list', 'table', 'ip', table]).stdout);
  await within(60 * SECOND, server.restart('SIGTERM'), 'restart');
  assert.equal(ours().length, 2, 'a restart replaces its rules, it does not add more');
  assert.doesNotMatch(sh('nft', ['list', 'chain', 'ip', table, 'FORWARD']).stdout, /nestbox/);
  // Our own table still decides: the metadata address stays refused.
  const meta = await run(await Sandbox.connect(sbx.sandboxId), curl('http://169.254.169.254/'));
  assert.equal(meta.exitCode, 7, meta.stderr);
});
