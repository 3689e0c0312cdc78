// `las check FILE`: validate a config without touching the network. Ring sizes are also checked
// against the interfaces' MTUs, and cpus against the online CPUs, where those interfaces exist (on
// the dispatcher itself).
import type { Command } from 'commander';
import { formatConfigErrors, loadConfigFile, loadConfigStream, type ConfigResult } from '../config/load.js';
import { printable } from '../config/printable.js';
import { checkCpus } from '../config/cpu-check.js';
import { checkRingSizes, localMtu } from '../config/ring-check.js';
import { loadAddon } from '../native/binding.js';
import { usesTableSize } from '../native/contract.js';
import type { LasConfig, ServiceConfig } from '../config/types.js';
import { ExitError, examples } from './common.js';
import { hostPort } from '../config/addresses.js';

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('validate a config file: print a summary of its services, or every error with its fix')
    .argument('<file>', 'JSON config file, or - to read it from standard input')
    .option('--json', 'print the resolved config (every default filled in) as JSON')
    .addHelpText(
      'after',
      examples([
        'las check /etc/las/las.json           # "FILE: ok" + one line per service',
        'las check --json las.json | jq .ring  # the config as the daemon uses it',
        'generate-config | las check -         # read the config from standard input',
        '',
        'Invalid: exit code 1 and one line per problem, "FILE: path: problem; fix".',
        'Where the config\'s interfaces exist (on the dispatcher), the ring sizes are',
        'checked against their MTUs and "cpus" against the online CPUs too.',
      ]),
    )
    .action(async (file: string, options: { json?: boolean }) => {
      const stdin = file === '-';
      let result: ConfigResult = stdin ? await loadConfigStream(process.stdin) : await loadConfigFile(file);
      const name = stdin ? '<stdin>' : file;
      if (result.ok) {
        const onDispatcher = localMtu(result.config.interface) !== undefined;
        const errors = [...checkRingSizes(result.config, (mtu) => loadAddon().ringNeeds(mtu)), ...(onDispatcher ? checkCpus(result.config) : [])];
        if (errors.length > 0) result = { ok: false, errors };
      }
      if (options.json) {
        process.stdout.write(`${JSON.stringify(result.ok ? result.config : { errors: result.errors, ...(result.more ? { more: result.more } : {}) }, null, 2)}\n`);
        if (!result.ok) throw new ExitError(1);
        return;
      }
      if (!result.ok) {
        process.stderr.write(`${formatConfigErrors(name, result.errors, result.more)}\n`);
        throw new ExitError(1);
      }
      process.stdout.write(`${printable(name)}: ok\n${summarize(result.config)}\n`);
    });
}

export function summarize(config: LasConfig): string {
  const width = config.services.reduce((w, s) => Math.max(w, s.name.length), 0); // no spread: thousands of services
  // A valid config holds no control or bidi characters (the schema refuses them); escaped all the same.
  return config.services.map((s) => printable(`  ${s.name.padEnd(width)}  ${describeService(s)}`)).join('\n');
}

function describeService(s: ServiceConfig): string {
  const endpoint = `${hostPort(s.vip, s.port === 0 ? '*' : s.port)}/${s.protocol}`;
  const scheduler = usesTableSize(s.scheduler) ? `${s.scheduler}(${s.maglevTableSize})` : s.scheduler;
  const servers = s.servers.map((v) => `${v.address} w${v.weight}${v.mac ? ` ${v.mac}` : ''}`).join(', ');
  const extra = [
    s.healthCheck ? `check=${s.healthCheck.type}${s.healthCheck.type === 'command' ? '' : `:${s.healthCheck.port}${s.healthCheck.type === 'http' ? s.healthCheck.path : ''}`}` : '',
    s.onServerDown !== 'reschedule' ? `onServerDown=${s.onServerDown}` : '',
    s.sorryServer ? `sorry=${s.sorryServer.address}` : '',
  ].filter((x) => x !== '').map((x) => `  ${x}`).join('');
  return `${endpoint}  ${scheduler}  flowKey=${s.flowKey}${extra}  servers: ${servers}`;
}
