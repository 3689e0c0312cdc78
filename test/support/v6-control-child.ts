// Runs inside the dispatcher's namespace (support/namespace-child.ts): the daemon's own control-plane
// parts, without the daemon, against the dual-stack lab's v6 servers. Job on stdin:
// {ifname, servers: [v6 address], absent: a v6 address nobody has, port}; prints
// {macs: {address: mac}, missing, checks: {address: {tcp, http}}} (checks of the servers only).
import { createInterface } from 'node:readline';
import { runCheck } from '../../src/control/health/checks.js';
import { createLogger } from '../../src/control/logger.js';
import { ServerMacs } from '../../src/control/server-macs.js';

interface Job { ifname: string; servers: string[]; absent: string; port: number }

const line = await new Promise<string>((resolve) => createInterface({ input: process.stdin }).once('line', resolve));
const job = JSON.parse(line) as Job;
const macs = new ServerMacs(job.ifname, createLogger('error'));
await macs.resolve([...job.servers, job.absent], 5000); // the absent one costs the whole wait
const checks: Record<string, { tcp: string; http: string; ok: boolean }> = {};
for (const address of job.servers) {
  const base = { address, port: job.port, path: '/', expectStatus: [200, 299] as [number, number], timeoutMs: 3000, service: 'web6', vip: '' };
  const tcp = await runCheck({ ...base, type: 'tcp' });
  const http = await runCheck({ ...base, type: 'http' });
  checks[address] = { tcp: tcp.message, http: http.message, ok: tcp.ok && http.ok };
}
process.stdout.write(`${JSON.stringify({
  macs: Object.fromEntries(macs.known),
  missing: [...job.servers, job.absent].filter((a) => !macs.known.has(a)),
  checks,
})}\n`);
