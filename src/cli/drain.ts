// `las drain` / `las undrain` (ha.mode "bgp"): the whole dispatcher's VIPs are withdrawn from BGP
// for maintenance; LAS keeps forwarding what still arrives until the routers have moved away.
import type { Command } from 'commander';
import { adminRequest } from '../control/admin-client.js';
import { adminSocketFrom, examples, withSocketOptions } from './common.js';

const DRAIN_TIMEOUT_MS = 15_000;

export function registerDrain(program: Command): void {
  for (const verb of ['drain', 'undrain'] as const) {
    withSocketOptions(program.command(verb))
      .description(verb === 'drain'
        ? 'withdraw every VIP of this dispatcher from BGP (ha.mode "bgp"); forwarding goes on'
        : 'announce the VIPs of this dispatcher by BGP again after "las drain"')
      .option('--json', 'print the raw JSON answer')
      .addHelpText('after', examples([
        'sudo las drain -c /etc/las/las.json     # withdraw; the routers move the flows away',
        'sudo systemctl stop las                 # then stop it: no connection breaks',
        'sudo las undrain -c /etc/las/las.json   # or take traffic again',
      ]))
      .action(async (options: { socket?: string; config?: string; json?: boolean }) => {
        const result = await adminRequest(await adminSocketFrom(options), verb, {}, DRAIN_TIMEOUT_MS) as { announced?: { prefixes?: string[] } };
        if (options.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        else process.stdout.write(`${verb === 'drain' ? 'drained' : 'undrained'}: announced ${(result.announced?.prefixes ?? []).join(', ') || 'nothing'}\n`);
      });
  }
}
