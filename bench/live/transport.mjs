// Benchmark of the live transport between two in-process nodes on loopback.
// Prints figures; asserts nothing. Run after a build:
//   npx tsc -p . && node bench/live/transport.mjs [envelopes]
// Figures: envelopes per second delivered and envelopes per frame, for bursts
// of different sizes (1 = one envelope per event-loop turn, no batching
// possible), and the round-trip time of sequential echo rpcs.
import Fastify from 'fastify';
import { registerRuntime } from '../../dist/live/host.js';
import { echo } from '../../dist/protocols/echo.js';

const total = Number(process.argv[2] ?? 20_000);

class Sink {
  name = 'sink';
  handles = ['sink.put'];
  count = 0;
  constructor(env) {
    this.env = env;
  }
  receive() {
    this.count++;
  }
}

async function node(id) {
  const app = Fastify({ logger: false });
  let sink;
  const host = registerRuntime(app, { id, protocols: [echo, (env) => (sink = new Sink(env))] });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { id, app, host, url, sink: () => sink };
}

const a = await node('1');
const b = await node('2');
const roster = [a, b].map((n) => ({ id: n.id, url: n.url }));
for (const n of [a, b]) {
  n.host.setPeers(roster);
  n.host.start();
}
const waitFor = (check) =>
  new Promise((resolve) => {
    const poll = () => (check() ? resolve() : setImmediate(poll));
    poll();
  });

console.log(`burst  envelopes  seconds  envelopes/s  frames  envelopes/frame`);
for (const burst of [1, 10, 100, 1000]) {
  const sinkA = a.sink();
  const sinkB = b.sink();
  const before = a.host.transport.stats();
  const start = b.sink().count;
  const t0 = performance.now();
  let sent = 0;
  await new Promise((resolve) => {
    const step = () => {
      for (let i = 0; i < burst && sent < total; i++, sent++) sinkA.env.send('2', { type: 'sink.put', n: sent });
      if (sent < total) setImmediate(step);
      else resolve();
    };
    step();
  });
  await waitFor(() => sinkB.count - start === total);
  const seconds = (performance.now() - t0) / 1000;
  const stats = a.host.transport.stats();
  const posts = stats.frames - before.frames;
  console.log(
    `${String(burst).padStart(5)}  ${String(total).padStart(9)}  ${seconds.toFixed(2).padStart(7)}  ${Math.round(total / seconds).toString().padStart(11)}  ${String(posts).padStart(5)}  ${(total / posts).toFixed(1).padStart(14)}`,
  );
}

const rtts = [];
const env = a.sink().env;
for (let i = 0; i < 500; i++) {
  const t0 = performance.now();
  await new Promise((resolve) => env.rpc('2', { type: 'echo', echo: i }, 5_000, resolve));
  rtts.push(performance.now() - t0);
}
rtts.sort((x, y) => x - y);
const q = (p) => rtts[Math.min(rtts.length - 1, Math.floor(p * rtts.length))].toFixed(2);
console.log(`echo rpc round trip over the peer socket, 500 sequential: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms`);

await Promise.all([a.app.close(), b.app.close()]);
