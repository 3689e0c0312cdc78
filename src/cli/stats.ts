// `las stats`: counters of the running daemon, asked over the admin socket; --rate turns two
// samples into per-second rates, --watch repeats.
import { InvalidArgumentError, type Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { adminRequest } from '../control/admin-client.js';
import { adminSocketFrom, examples, withSocketOptions } from './common.js';
import { count, endpoint, list, nonZero, obj, table, type Obj } from './format.js';

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number above 0');
  return n;
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

interface StatsOptions { socket?: string; config?: string; json?: boolean; rate?: boolean; watch?: number | true; count?: number }

export function registerStats(program: Command): void {
  withSocketOptions(program.command('stats'))
    .description('show the running daemon\'s counters: per worker, per service and per real server')
    .option('--json', 'print the raw JSON answer (64-bit counters as decimal strings)')
    .option('--rate', 'per-second rates between two samples instead of totals')
    .option('--watch [seconds]', 'print again every N seconds (default 1) until Ctrl-C', positiveNumber)
    .option('--count <n>', 'with --watch: stop after n prints', positiveInteger)
    .addHelpText(
      'after',
      examples([
        'sudo las stats',
        'sudo las stats -c /etc/las/las.json',
        'sudo las stats --rate                 # packets/s, bytes/s, new flows/s over 1 s',
        'sudo las stats --rate --watch 2       # every 2 s, until Ctrl-C',
        'sudo las stats --json | jq \'.services[].servers\'',
      ]),
    )
    .action(async (options: StatsOptions) => {
      const socket = await adminSocketFrom(options);
      const intervalS = options.watch === undefined ? 1 : options.watch === true ? 1 : options.watch;
      const prints = options.watch === undefined ? 1 : (options.count ?? Number.POSITIVE_INFINITY);
      const clear = options.watch !== undefined && process.stdout.isTTY && !options.json;
      let previous = options.rate ? await adminRequest(socket, 'stats') : undefined;
      for (let printed = 0; printed < prints; printed++) {
        if (options.rate || printed > 0) await sleep(intervalS * 1000);
        const current = await adminRequest(socket, 'stats');
        let out: string;
        if (options.json) out = `${JSON.stringify(options.rate ? rates(previous, current) : current, null, options.watch === undefined ? 2 : 0)}\n`;
        else out = options.rate ? formatRates(rates(previous, current)) : formatStats(current);
        if (clear) process.stdout.write('\x1b[H\x1b[2J');
        else if (printed > 0) process.stdout.write('\n');
        if (options.watch !== undefined && !options.json) process.stdout.write(`${new Date().toISOString()}\n`);
        process.stdout.write(out);
        previous = current;
      }
    });
}

export function formatStats(result: unknown): string {
  const stats = obj(result);
  const workers = list(stats.workers).map(obj);
  const services = list(stats.services).map(obj);
  const out: string[] = [];

  out.push(
    table(
      ['worker', 'rx pkts', 'rx bytes', 'tx pkts', 'tx bytes', 'tx errors', 'arp replies', 'ndp adverts', 'flows', 'ring drops', 'drops'],
      workers.map((w, i) => {
        const drops = Object.entries(obj(w.drops)).filter(([, n]) => nonZero(n)).map(([reason, n]) => `${reason}=${count(n)}`);
        return [String(i), count(w.rxPackets), count(w.rxBytes), count(w.txPackets), count(w.txBytes), count(w.txErrors), count(w.arpReplies), count(w.ndpAdverts), count(w.flowsActive), count(w.ringDrops), drops.join(' ') || '0'];
      }),
      [0, 10],
    ),
  );

  const rows: string[][] = [];
  for (const s of services) {
    const where = endpoint(s.vip, s.port, s.protocol);
    rows.push([typeof s.name === 'string' ? `${s.name} ${where}` : where, count(s.packets), count(s.bytes), count(s.newFlows), count(s.noServer), '']);
    for (const v of list(s.servers).map(obj)) {
      rows.push([`  -> ${typeof v.address === 'string' ? v.address : '?'}`, count(v.packets), count(v.bytes), count(v.newFlows), '', count(v.activeFlows)]);
    }
  }
  out.push('', table(['service / server', 'packets', 'bytes', 'new flows', 'no server', 'active flows'], rows));
  return `${out.join('\n')}\n`;
}

// ---------- rates ----------

export interface Rates {
  seconds: number;
  workers: { worker: number; rxPps: number; rxBps: number; txPps: number; txBps: number; drops: number; ringDrops: number }[];
  services: { name: string; rows: { label: string; pps: number; bps: number; newFlowsPerS: number; noServerPerS: number }[] }[];
}

const big = (v: unknown): number => (typeof v === 'string' || typeof v === 'number' ? Number(v) : 0);

/** Per-second rates between two `stats` answers (counters that went backwards count as 0). */
export function rates(before: unknown, after: unknown): Rates {
  const a = obj(before);
  const b = obj(after);
  const seconds = Math.max(0.001, (big(b.atMs) - big(a.atMs)) / 1000);
  const per = (x: unknown, y: unknown) => Math.max(0, big(y) - big(x)) / seconds;
  const sumDrops = (w: Obj) => Object.values(obj(w.drops)).reduce<number>((t, n) => t + big(n), 0);
  const wa = list(a.workers).map(obj);
  const workers = list(b.workers).map(obj).map((w, i) => {
    const p = wa[i] ?? {};
    return {
      worker: i, rxPps: per(p.rxPackets, w.rxPackets), rxBps: per(p.rxBytes, w.rxBytes), txPps: per(p.txPackets, w.txPackets),
      txBps: per(p.txBytes, w.txBytes), drops: Math.max(0, sumDrops(w) - sumDrops(p)) / seconds, ringDrops: per(p.ringDrops, w.ringDrops),
    };
  });
  const key = (s: Obj) => `${count(s.vip)}:${count(s.port)}/${count(s.protocol)}`;
  const sa = new Map(list(a.services).map(obj).map((s) => [key(s), s]));
  const services = list(b.services).map(obj).map((s) => {
    const p = sa.get(key(s)) ?? {};
    const ra = new Map(list(p.servers).map(obj).map((r) => [r.address, r]));
    return {
      name: typeof s.name === 'string' ? `${s.name} ${endpoint(s.vip, s.port, s.protocol)}` : endpoint(s.vip, s.port, s.protocol),
      rows: [
        { label: '(service)', pps: per(p.packets, s.packets), bps: per(p.bytes, s.bytes), newFlowsPerS: per(p.newFlows, s.newFlows), noServerPerS: per(p.noServer, s.noServer) },
        ...list(s.servers).map(obj).map((r) => {
          const q = ra.get(r.address) ?? {};
          return { label: `-> ${count(r.address)}`, pps: per(q.packets, r.packets), bps: per(q.bytes, r.bytes), newFlowsPerS: per(q.newFlows, r.newFlows), noServerPerS: 0 };
        }),
      ],
    };
  });
  return { seconds, workers, services };
}

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

export function formatRates(r: Rates): string {
  const out: string[] = [`rates over ${r.seconds.toFixed(1)} s`];
  out.push(table(['worker', 'rx pkt/s', 'rx B/s', 'tx pkt/s', 'tx B/s', 'drops/s', 'ring drops/s'],
    r.workers.map((w) => [String(w.worker), fmt(w.rxPps), fmt(w.rxBps), fmt(w.txPps), fmt(w.txBps), fmt(w.drops), fmt(w.ringDrops)])));
  const rows: string[][] = [];
  for (const s of r.services) {
    for (const row of s.rows) rows.push([row.label === '(service)' ? s.name : `  ${row.label}`, fmt(row.pps), fmt(row.bps), fmt(row.newFlowsPerS), row.label === '(service)' ? fmt(row.noServerPerS) : '']);
  }
  out.push('', table(['service / server', 'pkt/s', 'B/s', 'new flows/s', 'no server/s'], rows));
  return `${out.join('\n')}\n`;
}
