// `las explain`: which server a flow goes to and why, from the running daemon or from a config.
import type { Command } from 'commander';
import { adminRequest } from '../control/admin-client.js';
import { EXPLAIN_TIMEOUT_MS, explainOffline, formatExplained, parseTuple, type Explained } from '../control/explain.js';
import { loadAddon } from '../native/binding.js';
import { ExitError, adminSocketFrom, examples, loadConfigOrExit } from './common.js';
import { list, obj } from './format.js';

/** Exit code when the flow reaches no server (not a VIP, no service, no server and no sorry server). */
export const EXIT_NOT_FORWARDED = 2;

interface Options { socket?: string; config?: string; offline?: boolean; down: string[]; json?: boolean }

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerExplain(program: Command): void {
  program
    .command('explain')
    .argument('<protocol>', 'tcp or udp')
    .argument('<client>', 'the client\'s address and port, e.g. 198.51.100.7:40112')
    .argument('<vip>', 'the VIP and port it connects to, e.g. 10.0.0.100:80')
    .description('explain which server a flow goes to and why: service, flow key, worker, flow-table entry, scheduler choice')
    .option('-s, --socket <path>', 'ask the daemon on this admin socket (default /run/las/admin.sock)')
    .option('-c, --config <file>', 'ask the daemon on this config\'s adminSocket; when none runs, answer from the config alone')
    .option('--offline', 'answer from --config alone even when a daemon runs (what it would do just after a start)')
    .option('--down <address>', 'offline: publish this server down, as a failed health check would (repeatable)', collect, [])
    .option('--json', 'print the answer as JSON')
    .addHelpText(
      'after',
      `
The daemon's answer comes from the I/O thread that owns the flow (the fanout
hash of the flow key decides which): its flow-table entry if there is one, and
otherwise what its scheduler would choose for a new connection now (the
current weights, health and drains; nothing is changed or advanced).
Offline (--config with no daemon, --offline or --down), the same native code
answers from a snapshot built from the config: health unknown counts as up,
every server as resolved, as in a daemon that just started.

Exit status: 0 the flow goes to a server (or the sorry server); ${EXIT_NOT_FORWARDED} it does not
(not a VIP, no service for the port, no server and no sorry server); 1 error.
${examples([
        'sudo las explain tcp 198.51.100.7:40112 10.0.0.100:80',
        'sudo las explain udp 198.51.100.7:5353 10.0.0.100:53 --json',
        'las explain tcp 198.51.100.7:40112 10.0.0.100:80 -c /etc/las/las.json --offline',
        'las explain tcp 198.51.100.7:40112 10.0.0.100:80 -c las.json --offline --down 10.0.0.11',
      ])}`,
    )
    .action(async (protocol: string, client: string, vip: string, options: Options) => {
      const tuple = parseTuple(protocol, client, vip);
      const offline = options.offline === true || options.down.length > 0;
      if (offline && options.config === undefined) throw new Error('--offline and --down answer from a config: pass --config FILE');
      if (offline && options.socket !== undefined) throw new Error('--socket asks a daemon; --offline and --down answer from --config alone: pass one or the other');
      let answer: Explained;
      if (offline) {
        answer = await fromConfig(options.config!, tuple, options.down);
      } else {
        try {
          const result = await adminRequest(await adminSocketFrom(options), 'explain', { tuples: [tuple] }, EXPLAIN_TIMEOUT_MS + 2000);
          answer = list(obj(result).explanations)[0] as Explained;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          // No daemon: the config alone answers, and says so.
          if (options.config === undefined || (code !== 'ENOENT' && code !== 'ECONNREFUSED')) throw error;
          answer = await fromConfig(options.config, tuple, []);
        }
      }
      process.stdout.write(options.json ? `${JSON.stringify(answer, null, 2)}\n` : formatExplained(answer));
      if (answer.server === null) throw new ExitError(EXIT_NOT_FORWARDED);
    });
}

async function fromConfig(file: string, tuple: Parameters<typeof explainOffline>[2][number], down: string[]): Promise<Explained> {
  const config = await loadConfigOrExit(file);
  return explainOffline(loadAddon(), config, [tuple], down)[0]!;
}
