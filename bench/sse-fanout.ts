// SSE fan-out: N subscribers on one queue (`GET /events/queues/:queue`) while one
// pipelined WebSocket producer pushes M jobs. Checks that every subscriber gets
// every event, and reports delivered events/s and the lag of delivery.
//
// Lag: for each chunk a subscriber reads, its arrival time minus the server
// `timestamp` (decision time, same machine clock) of the first event in it —
// the oldest event of the chunk, so the worst lag within it. The subscribers run
// in this process, on the same 2 cores as the server: they are part of the load.
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { loadAverage, parseArgs, percentile, startServer } from './serverProcess.ts';

const args = parseArgs({ subscribers: 1000, jobs: 20_000, 'in-flight': 500, rate: 0, 'buffer-mib': 1 });
const QUEUE = 'fanout';

interface Subscriber {
  events: number;
  ended: boolean;
  done: Promise<void>;
}

function subscribe(agent: Agent, port: number, expected: number, lags: number[], connected: () => void): Subscriber {
  const sub: Subscriber = { events: -1, ended: false, done: Promise.resolve() };
  sub.done = new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: `/events/queues/${QUEUE}`, agent }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`subscribe: ${res.statusCode}`));
      res.setEncoding('utf8');
      let carry = '';
      res.on('data', (chunk: string) => {
        const now = Date.now();
        const text = carry + chunk;
        // One "data: " per frame (the connect frame counts as the -1 start).
        let at = text.indexOf('data: ');
        let count = 0;
        while (at >= 0) {
          count++;
          at = text.indexOf('data: ', at + 6);
        }
        const before = sub.events;
        sub.events += count;
        carry = chunk.slice(-5);
        if (before < 0 && sub.events >= 0) connected();
        const ts = chunk.indexOf('"timestamp":');
        if (ts >= 0 && sub.events > 0) lags.push(now - Number(chunk.slice(ts + 12, chunk.indexOf(',', ts))));
        if (sub.events >= expected) {
          res.destroy();
          resolve();
        }
      });
      res.on('close', () => {
        sub.ended = true;
        if (sub.events < expected) reject(new Error(`stream ended after ${sub.events} of ${expected} events`));
      });
    });
    req.on('error', reject);
    req.end();
  });
  return sub;
}

async function produce(port: number, jobs: number, inFlight: number): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/queues/producer-none`);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let sent = 0;
  let answered = 0;
  const send = () => ws.send(`{"cmd":"PUSH","queue":"${QUEUE}","reqId":${sent},"data":{"n":${sent++}}}`);
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (raw) => {
      if (!raw.toString().startsWith('{"ok":true')) return reject(new Error(`push failed: ${raw.toString()}`));
      answered++;
      if (args.rate === 0 && sent < jobs) send();
      if (answered === jobs) resolve();
    });
    if (args.rate === 0) {
      for (let i = 0; i < Math.min(inFlight, jobs); i++) send();
      return;
    }
    // Paced: the pushes due by now, every 10 ms.
    const started = performance.now();
    const tick = setInterval(() => {
      const due = Math.min(jobs, Math.floor(((performance.now() - started) / 1000) * args.rate));
      while (sent < due) send();
      if (sent >= jobs) clearInterval(tick);
    }, 10);
  });
  ws.close();
}

console.log(
  `command: node --import tsx bench/sse-fanout.ts${args.rate ? ` --rate ${args.rate}` : ''}  (${args.subscribers} subscribers, ${args.jobs} pushes over one ` +
    `WebSocket, ${args.rate ? `paced at ${args.rate}/s` : `${args['in-flight']} pipelined`}; STREAM_BUFFER_BYTES ${args['buffer-mib']} MiB; load ${loadAverage()})`,
);
const dataDir = mkdtempSync(join(tmpdir(), 'ledgerq-bench-'));
const server = await startServer(dataDir, { STREAM_BUFFER_BYTES: String(args['buffer-mib'] * 1024 * 1024) }, 15_000);
const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
try {
  const lags: number[] = [];
  let connected = 0;
  let allConnected!: () => void;
  const ready = new Promise<void>((resolve) => (allConnected = resolve));
  const subs = Array.from({ length: args.subscribers }, () =>
    subscribe(agent, server.port, args.jobs, lags, () => {
      if (++connected === args.subscribers) allConnected();
    }),
  );
  await ready;
  const started = performance.now();
  const producing = produce(server.port, args.jobs, args['in-flight']);
  const results = await Promise.allSettled(subs.map((s) => s.done));
  await producing;
  const seconds = (performance.now() - started) / 1000;
  const failed = results.filter((r) => r.status === 'rejected');
  const delivered = subs.reduce((sum, s) => sum + Math.max(0, Math.min(s.events, args.jobs)), 0);
  const complete = subs.filter((s) => s.events >= args.jobs).length;
  lags.sort((a, b) => a - b);
  console.log(`subscribers with every event: ${complete} of ${args.subscribers}${failed.length ? ` (first failure: ${(failed[0] as PromiseRejectedResult).reason})` : ''}`);
  console.log(`delivered: ${delivered.toLocaleString('en')} events in ${seconds.toFixed(1)} s = ${Math.round(delivered / seconds).toLocaleString('en')} events/s`);
  console.log(`pushes: ${Math.round(args.jobs / seconds).toLocaleString('en')}/s until the last subscriber had them all`);
  console.log(`lag (chunk arrival - oldest event's timestamp, ${lags.length} chunks): p50 ${percentile(lags, 0.5)} ms, p99 ${percentile(lags, 0.99)} ms, max ${lags.at(-1)} ms`);
  console.log(`server memory: ${JSON.stringify(server.memory())}`);
} finally {
  agent.destroy();
  await server.stop('SIGTERM', 30_000);
  rmSync(dataDir, { recursive: true, force: true });
}
