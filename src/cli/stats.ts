// `las stats`: counters of the running daemon, asked over the admin socket.
import type { Command } from 'commander';
import { adminRequest } from '../control/admin-client.js';
import { adminSocketFrom, examples } from './common.js';

export function registerStats(program: Command): void {
  program
    .command('stats')
    .description('show the running daemon\'s counters: per worker, per service and per real server')
    .option('-s, --socket <path>', 'admin socket of the daemon (default /run/las/admin.sock)')
    .option('-c, --config <file>', 'use the "adminSocket" of this config')
    .option('--json', 'print the raw JSON answer (64-bit counters as decimal strings)')
    .addHelpText(
      'after',
      examples([
        'sudo las stats',
        'sudo las stats -c /etc/las/las.json',
        'sudo las stats --json | jq \'.services[].servers\'',
        'watch -n1 sudo las stats',
      ]),
    )
    .action(async (options: { socket?: string; config?: string; json?: boolean }) => {
      const socket = await adminSocketFrom(options);
      const result = await adminRequest(socket, 'stats');
      process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : formatStats(result));
    });
}

// The answer is read defensively: an older or newer daemon may add or lack fields.
type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const count = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' ? String(v) : '-');
const nonZero = (v: unknown): boolean => count(v) !== '0' && count(v) !== '-';

/** Renders rows as columns: numbers right-aligned, the first column (and text columns) left. */
function table(header: string[], rows: string[][], textColumns: number[] = [0]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => (textColumns.includes(c) ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function formatStats(result: unknown): string {
  const stats = obj(result);
  const workers = list(stats.workers).map(obj);
  const services = list(stats.services).map(obj);
  const out: string[] = [];

  out.push(
    table(
      ['worker', 'rx pkts', 'rx bytes', 'tx pkts', 'tx bytes', 'tx errors', 'arp replies', 'flows', 'ring drops', 'drops'],
      workers.map((w, i) => {
        const drops = Object.entries(obj(w.drops)).filter(([, n]) => nonZero(n)).map(([reason, n]) => `${reason}=${count(n)}`);
        return [String(i), count(w.rxPackets), count(w.rxBytes), count(w.txPackets), count(w.txBytes), count(w.txErrors), count(w.arpReplies), count(w.flowsActive), count(w.ringDrops), drops.join(' ') || '0'];
      }),
      [0, 9],
    ),
  );

  const rows: string[][] = [];
  for (const s of services) {
    const port = count(s.port) === '0' ? '*' : count(s.port);
    const endpoint = `${typeof s.vip === 'string' ? s.vip : '?'}:${port}/${typeof s.protocol === 'string' ? s.protocol : '?'}`;
    rows.push([typeof s.name === 'string' ? `${s.name} ${endpoint}` : endpoint, count(s.packets), count(s.bytes), count(s.newFlows), count(s.noServer)]);
    for (const v of list(s.servers).map(obj)) {
      rows.push([`  -> ${typeof v.address === 'string' ? v.address : '?'}`, count(v.packets), count(v.bytes), count(v.newFlows), '']);
    }
  }
  out.push('', table(['service / server', 'packets', 'bytes', 'new flows', 'no server'], rows));
  return `${out.join('\n')}\n`;
}
