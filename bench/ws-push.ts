// Push throughput over one pipelined WebSocket vs HTTP keep-alive pushes, on the
// same server (compiled, as `npm start` runs it). Non-durable pushes, the same
// body; the client runs on the same machine. Medians of 3 runs (fresh server each).
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { httpRequest, loadAverage, median, parseArgs, startServer } from './serverProcess.ts';

const args = parseArgs({ seconds: 3, runs: 3, 'http-in-flight': 64, 'ws-in-flight': 1000, sockets: 1 });
const data = { to: 'user@example.com', subject: 'Welcome', n: 12345 };

async function httpRate(port: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: args['http-in-flight'] });
  const body = JSON.stringify({ data });
  const deadline = performance.now() + args.seconds * 1000;
  let done = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      if ((await httpRequest(agent, port, 'POST', '/queues/bench-http/jobs', body)).status !== 200) throw new Error('push failed');
      done++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: args['http-in-flight'] }, worker));
  agent.destroy();
  return done / ((performance.now() - started) / 1000);
}

/** Keeps `inFlight` PUSH commands outstanding on one socket until the deadline; resolves with the answers counted. */
async function wsSocket(port: number, inFlight: number, deadline: number): Promise<number> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/queues/bench-ws-none`);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let sent = 0;
  let answered = 0;
  const send = () => {
    ws.send(`{"cmd":"PUSH","queue":"bench-ws","reqId":${sent++},"data":${JSON.stringify(data)}}`);
  };
  return new Promise((resolve, reject) => {
    ws.on('message', (raw) => {
      const answer = JSON.parse(raw.toString());
      if (answer.ok !== true) return reject(new Error(`push failed: ${raw.toString()}`));
      answered++;
      if (performance.now() < deadline) send();
      else if (answered === sent) {
        ws.close();
        resolve(answered);
      }
    });
    for (let i = 0; i < inFlight; i++) send();
  });
}

async function wsRate(port: number): Promise<number> {
  const started = performance.now();
  const deadline = started + args.seconds * 1000;
  const counts = await Promise.all(Array.from({ length: args.sockets }, () => wsSocket(port, args['ws-in-flight'], deadline)));
  return counts.reduce((a, b) => a + b, 0) / ((performance.now() - started) / 1000);
}

console.log(
  `command: node --import tsx bench/ws-push.ts  (HTTP: ${args['http-in-flight']} in flight; WS: ${args.sockets} socket(s), ` +
    `${args['ws-in-flight']} pipelined each; ${args.seconds} s per measurement, ${args.runs} runs; load ${loadAverage()})`,
);
const http: number[] = [];
const ws: number[] = [];
for (let run = 0; run < args.runs; run++) {
  const dataDir = mkdtempSync(join(tmpdir(), 'ledgerq-bench-'));
  const server = await startServer(dataDir, {}, 15_000);
  try {
    // Alternate which goes first, so neither always meets the fuller log.
    if (run % 2 === 0) {
      http.push(await httpRate(server.port));
      ws.push(await wsRate(server.port));
    } else {
      ws.push(await wsRate(server.port));
      http.push(await httpRate(server.port));
    }
  } finally {
    await server.stop('SIGTERM', 30_000);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
const fmt = (x: number) => Math.round(x).toLocaleString('en');
console.log(`HTTP push: median ${fmt(median(http))} pushes/s (runs: ${http.map(fmt).join(', ')})`);
console.log(`WS push:   median ${fmt(median(ws))} pushes/s (runs: ${ws.map(fmt).join(', ')})`);
console.log(`ratio WS/HTTP: ${(median(ws) / median(http)).toFixed(2)}x`);
