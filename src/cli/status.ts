// `las status`: services and their servers, like `ipvsadm -Ln`, with health and live flows.
import type { Command } from 'commander';
import { adminRequest } from '../control/admin-client.js';
import { usesTableSize } from '../native/contract.js';
import { adminSocketFrom, examples, withSocketOptions } from './common.js';
import { count, endpoint, list, obj, table, text } from './format.js';

export function registerStatus(program: Command): void {
  withSocketOptions(program.command('status'))
    .description('list services and real servers with scheduler, weight, health and active flows (like ipvsadm -Ln)')
    .option('--json', 'print the raw JSON answer')
    .addHelpText(
      'after',
      examples([
        'sudo las status',
        'sudo las status -c /etc/las/las.json',
        'sudo las status --json | jq \'.services[].servers[] | select(.health == "down")\'',
      ]),
    )
    .action(async (options: { socket?: string; config?: string; json?: boolean }) => {
      const result = await adminRequest(await adminSocketFrom(options), 'status');
      process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : formatStatus(result));
    });
}

function note(r: Record<string, unknown>): string {
  const notes: string[] = [];
  if (r.role === 'sorry') notes.push('sorry server: new flows when no server can take them');
  if (r.override === 'drain') notes.push('drained (runtime, until reload)');
  else if (r.override === 'weight') notes.push(`weight set at runtime (config ${count(r.configWeight)})`);
  const removed = obj(r.removed);
  if (r.removed) notes.push(`removed from config: draining, at most ${count(removed.drainEndsInSeconds)}s more`);
  if (r.flapping === true) notes.push('flapping: comeback damped');
  if (typeof r.downReason === 'string') notes.push(r.downReason);
  else if (r.health === 'down' && typeof r.lastCheck === 'string') notes.push(r.lastCheck);
  return notes.join('; ');
}

export function formatStatus(result: unknown): string {
  const status = obj(result);
  const lines: string[] = [];
  const table_ = obj(status.flowTable);
  lines.push(`LAS on ${text(status.interface)} (tx ${text(status.txMode)}), up ${count(status.uptimeSeconds)}s; ` +
    `flow table ${count(table_.capacity)} per worker, idle bound ${count(table_.idleTimeout)}s`);
  const rows: string[][] = [];
  for (const s of list(status.services).map(obj)) {
    const scheduler = usesTableSize(s.scheduler) ? `${text(s.scheduler)}(${count(s.maglevTableSize)})` : text(s.scheduler);
    const flags = [`flowKey=${text(s.flowKey)}`, `onServerDown=${text(s.onServerDown)}`];
    if (s.healthCheck) flags.push(`check: ${text(s.healthCheck)}`);
    if (s.newFlows !== 'servers') flags.push(`NEW FLOWS: ${s.newFlows === 'dropped' ? 'DROPPED (no server up)' : 'to the sorry server'}`);
    rows.push([`${text(s.protocol).toUpperCase()} ${endpoint(s.vip, s.port)} ${text(s.name)}`, scheduler, '', '', '', `${flags.join(' ')}  no_server=${count(s.noServer)}`]);
    for (const r of list(s.servers).map(obj)) {
      rows.push([`  -> ${text(r.address)}`, '', r.role === 'sorry' ? '-' : count(r.weight), r.role === 'sorry' ? 'sorry' : text(r.health), count(r.activeFlows), note(r)]);
    }
  }
  lines.push(table(['Prot VIP:Port Name', 'Scheduler', 'Weight', 'Health', 'ActiveFlows', 'Flags / Notes'], rows, [0, 1, 3, 5]));
  return `${lines.join('\n')}\n`;
}
