// HTTP push throughput of the real server: non-durable and durable pushes from
// keep-alive connections with many requests in flight. Medians of 3 runs.
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer as startServerProcess } from './serverProcess.ts';

const SECONDS = 3;
const IN_FLIGHT = 64;

async function startServer(dataDir: string) {
  const server = await startServerProcess(dataDir, {}, 15_000);
  return { port: server.port, stop: () => server.stop('SIGTERM', 10_000) };
}

function post(agent: Agent, port: number, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function measure(port: number, durable: boolean): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  const body = JSON.stringify({ data: { to: 'user@example.com', subject: 'Welcome', n: 12345 }, durable });
  const deadline = performance.now() + SECONDS * 1000;
  let done = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      if ((await post(agent, port, '/queues/bench/jobs', body)) !== 200) throw new Error('push failed');
      done++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  agent.destroy();
  return done / ((performance.now() - started) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`command: node --import tsx bench/http-push.ts  (${IN_FLIGHT} in flight, ${SECONDS} s per run, 3 runs)`);
for (const durable of [false, true]) {
  const rates: number[] = [];
  for (let run = 0; run < 3; run++) {
    const dataDir = mkdtempSync(join(tmpdir(), 'ledgerq-bench-'));
    const server = await startServer(dataDir);
    try {
      rates.push(await measure(server.port, durable));
    } finally {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  console.log(`${durable ? 'durable' : 'buffered'} HTTP push: median ${Math.round(median(rates)).toLocaleString('en')} pushes/s (runs: ${rates.map((r) => Math.round(r)).join(', ')})`);
}
