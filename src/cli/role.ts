// `las role active|standby|show`: the HA role of a dispatcher in an active/standby pair (ha.mode
// "vrrp"). keepalived's notify scripts call it (deploy/keepalived/las-notify.sh); LAS elects nothing.
import { InvalidArgumentError, type Command } from 'commander';
import { adminRequest } from '../control/admin-client.js';
import { adminSocketFrom, examples, withSocketOptions } from './common.js';
import { count, obj, text } from './format.js';

const ACTIONS = ['active', 'standby', 'show'] as const;

export function registerRole(program: Command): void {
  withSocketOptions(program.command('role'))
    .description('set or show this dispatcher\'s HA role (ha.mode "vrrp"): a standby forwards nothing and answers no ARP for the VIPs')
    .argument('<action>', 'active | standby | show')
    .option('--json', 'print the raw JSON answer')
    .addHelpText(
      'after',
      examples([
        'sudo las role show',
        'sudo las role active     # keepalived notify_master: forward, answer ARP, send gratuitous ARP',
        'sudo las role standby    # notify_backup / notify_fault / notify_stop',
        '',
        'keepalived chooses the role; see deploy/keepalived/ for keepalived.conf and the',
        'notify script. With "ha.mode" "none" (the default) a dispatcher is always active.',
      ]),
    )
    .action(async (action: string, options: { socket?: string; config?: string; json?: boolean }) => {
      if (!(ACTIONS as readonly string[]).includes(action)) throw new InvalidArgumentError(`"${action}" is not an action; use active, standby or show`);
      const result = await adminRequest(await adminSocketFrom(options), 'role', action === 'show' ? {} : { role: action });
      if (options.json) {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        return;
      }
      const r = obj(result);
      process.stdout.write(`role ${text(r.role, '?')} (ha.mode ${text(r.mode, '?')}) since ${text(r.since, '?')}, told by ${text(r.toldBy, '?')}, ${count(r.changes)} change(s), ${count(r.gratuitousArpSets)} gratuitous ARP set(s)\n`);
    });
}
