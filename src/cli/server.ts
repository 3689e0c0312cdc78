// `las server drain|enable|weight SERVICE ADDRESS [N]`: runtime weight overrides, kept until the
// next reload (the config file stays the source of truth).
import { InvalidArgumentError, type Command } from 'commander';
import { adminRequest } from '../control/admin-client.js';
import { adminSocketFrom, examples, withSocketOptions } from './common.js';
import { count, obj, text } from './format.js';

const ACTIONS = ['drain', 'enable', 'weight'] as const;

export function registerServer(program: Command): void {
  withSocketOptions(program.command('server'))
    .description('drain a real server (weight 0: no new flows, existing flows kept), enable it again, or set its weight until the next reload')
    .argument('<action>', 'drain | enable | weight')
    .argument('<service>', 'service name')
    .argument('<address>', 'the real server\'s address')
    .argument('[weight]', 'with "weight": the new weight, 0-65535')
    .addHelpText(
      'after',
      examples([
        'sudo las server drain web 10.0.0.11       # before maintenance',
        'sudo las status                           # wait until its ActiveFlows reach 0',
        'sudo las server enable web 10.0.0.11      # back to the configured weight',
        'sudo las server weight web 10.0.0.12 5',
        '',
        'Overrides last until "las reload" or a restart, which apply the config file.',
      ]),
    )
    .action(async (action: string, service: string, address: string, weightText: string | undefined, options: { socket?: string; config?: string }) => {
      if (!(ACTIONS as readonly string[]).includes(action)) throw new InvalidArgumentError(`"${action}" is not an action; use drain, enable or weight`);
      let weight: number | undefined;
      if (action === 'weight') {
        weight = Number(weightText);
        if (weightText === undefined || !Number.isInteger(weight) || weight < 0 || weight > 65535) {
          throw new Error(`"las server weight" needs the new weight, a whole number from 0 to 65535, after the address`);
        }
      } else if (weightText !== undefined) {
        throw new Error(`"las server ${action}" takes no weight`);
      }
      const result = obj(await adminRequest(await adminSocketFrom(options), 'server', { action, service, address, ...(weight !== undefined ? { weight } : {}) }));
      const state = result.override === 'drain' ? 'drained until reload' : result.override === 'weight' ? 'weight set until reload' : 'configured weight';
      process.stdout.write(`${text(result.service, service)} ${text(result.address, address)}: weight ${count(result.weight)} (config ${count(result.configWeight)}), ${state}\n`);
    });
}
