// A stand-in for an E2B server that does no work: it answers the three requests of
// bench (a) (create, process Start, kill) at once, with canned bodies in the shapes the
// SDK expects. Measuring (a) against it gives the official SDK's own cost on this
// machine (node, HTTP over loopback, JSON and Connect framing), which no server can
// go below. Run as its own process, as a real server is; prints its port on stdout.
import http from 'node:http';

const created = JSON.stringify({
  sandboxID: 'instant00000000000000',
  templateID: 'base',
  alias: 'base',
  clientID: 'bench',
  envdVersion: '0.4.0',
  trafficAccessToken: null,
  domain: null,
});

// Connect server-stream frames (JSON codec): flags byte, 4-byte big-endian length, message.
function frame(flags, message) {
  const body = Buffer.from(JSON.stringify(message));
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}
const startStream = [
  frame(0, { event: { start: { pid: 1 } } }),
  frame(0, { event: { data: { stdout: Buffer.from('hi\n').toString('base64') } } }),
  frame(0, { event: { end: { exitCode: 0, exited: true, status: 'exit status 0' } } }),
  frame(2, {}),
];

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.method === 'POST' && req.url === '/v2/sandboxes') {
      res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(created) });
      res.end(created);
    } else if (req.method === 'POST' && req.url === '/process.Process/Start') {
      // As a real envd: headers and the start event first, output after.
      res.writeHead(200, { 'content-type': 'application/connect+json' });
      res.write(startStream[0]);
      res.end(Buffer.concat(startStream.slice(1)));
    } else if (req.method === 'DELETE' && req.url.startsWith('/sandboxes/')) {
      res.writeHead(204);
      res.end();
    } else {
      const body = JSON.stringify({ code: 404, message: `instant-e2b: no ${req.method} ${req.url}` });
      res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.stdin.on('end', () => server.close(() => process.exit(0)));
process.stdin.resume();
