// `las flows`: entries of the fast path's flow tables (client, server, TCP state, age).
import { InvalidArgumentError, type Command } from 'commander';
import { adminRequest } from '../control/admin-client.js';
import { DEFAULT_FLOW_LIMIT, MAX_FLOW_LIMIT } from '../control/admin-verbs.js';
import { adminSocketFrom, examples, withSocketOptions } from './common.js';
import { count, duration, list, obj, table, text } from './format.js';

function limitArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_FLOW_LIMIT) throw new InvalidArgumentError(`expected a whole number from 1 to ${MAX_FLOW_LIMIT}`);
  return n;
}

export function registerFlows(program: Command): void {
  withSocketOptions(program.command('flows'))
    .description('list flows in the flow tables: client, VIP, server, TCP state, age, idle time and expiry')
    .option('--service <name>', 'only the flows of this service')
    .option('--limit <n>', `show at most n flows (default ${DEFAULT_FLOW_LIMIT}); the total is always counted`, limitArg)
    .option('--json', 'print the raw JSON answer')
    .addHelpText(
      'after',
      examples([
        'sudo las flows',
        'sudo las flows --service web --limit 20',
        'sudo las flows --json --limit 100000 | jq \'.flows | group_by(.server) | map({server: .[0].server, n: length})\'',
        '',
        'States come from the client\'s TCP flags (replies bypass the dispatcher):',
        'SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE; UDP flows show UDP.',
      ]),
    )
    .action(async (options: { socket?: string; config?: string; service?: string; limit?: number; json?: boolean }) => {
      const args = { ...(options.service !== undefined ? { service: options.service } : {}), ...(options.limit !== undefined ? { limit: options.limit } : {}) };
      const result = await adminRequest(await adminSocketFrom(options), 'flows', args, 30_000);
      process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : formatFlows(result));
    });
}

export function formatFlows(result: unknown): string {
  const r = obj(result);
  const flows = list(r.flows).map(obj);
  const rows = flows.map((f) => [
    text(f.service, '-'), text(f.protocol), text(f.client), text(f.vip), text(f.server), text(f.state),
    duration(f.ageMs), duration(f.idleMs), duration(f.expiresInMs), count(f.worker),
  ]);
  const head = table(['service', 'proto', 'client', 'vip', 'server', 'state', 'age', 'idle', 'expires in', 'worker'], rows, [0, 1, 2, 3, 4, 5]);
  const total = typeof r.total === 'number' ? r.total : flows.length;
  const tail = total > flows.length ? `${flows.length} of ${total} flows shown (--limit for more)` : `${total} flow${total === 1 ? '' : 's'}`;
  return `${head}\n${tail}\n`;
}
