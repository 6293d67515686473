/**
 * The baseline every node figure is compared with: a bare `node:http` server
 * answering the same routes with the same JSON as a distlab node, from a Map,
 * with no framework, validation, hooks or logging. It is the ceiling of what
 * Node serves on this machine.
 *
 * Usage: node bench/baseline-server.mjs <port>. Like a node, it tells its
 * parent (over IPC) once it listens, and exits when that channel closes.
 */
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 0);
const store = new Map();
let active = 0;

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'x-active-requests': String(active) });
  res.end(text);
}

const server = createServer((req, res) => {
  active += 1;
  res.once('close', () => void (active -= 1));
  const path = req.url.split('?')[0];
  if (req.method === 'GET' && path === '/health') return send(res, 200, { status: 'ok', node_id: 1, active_requests: active });
  if (req.method === 'GET' && path.startsWith('/data/')) {
    const key = decodeURIComponent(path.slice('/data/'.length));
    const value = store.get(key);
    if (value === undefined) return send(res, 404, { error: 'not found', detail: `Key '${key}' not found on Node 1` });
    return send(res, 200, { node_id: 1, key, value });
  }
  if (req.method === 'POST' && path === '/data') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return send(res, 400, { error: 'bad request', detail: 'malformed JSON' });
      }
      if (typeof body?.key !== 'string' || typeof body?.value !== 'string') return send(res, 400, { error: 'bad request', detail: 'key and value must be strings' });
      store.set(body.key, body.value);
      send(res, 200, { status: 'stored', node_id: 1, key: body.key, value: body.value });
    });
    return;
  }
  send(res, 404, { error: 'not found', detail: `no route ${req.method} ${path}` });
});

server.listen(port, '127.0.0.1', () => {
  process.send?.({ type: 'distlab.listening', port: server.address().port, pid: process.pid });
});
process.once('disconnect', () => server.close(() => process.exit(0)));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
