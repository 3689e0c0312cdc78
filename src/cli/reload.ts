// `las reload`: the daemon reads its config file again and applies the difference (like SIGHUP,
// but with the answer: what changed, or why it was refused).
import type { Command } from 'commander';
import { adminRequest } from '../control/admin-client.js';
import { KEPT_UNTIL_RESTART_KEYS, RESTART_ONLY_KEYS } from '../control/reload-plan.js';
import { adminSocketFrom, examples, withSocketOptions } from './common.js';
import { list, obj } from './format.js';

export function registerReload(program: Command): void {
  withSocketOptions(program.command('reload'))
    .description('make the daemon apply its config file again: only the difference changes, an invalid file is refused')
    .option('--json', 'print the raw JSON answer')
    .addHelpText(
      'after',
      examples([
        'las check /etc/las/las.json && sudo las reload -c /etc/las/las.json',
        'sudo kill -HUP $(pidof las)        # the same, without an answer',
        '',
        'Flows to servers that stay are kept. A removed server drains (weight 0) until',
        'its flows end or drainTimeout passes. Runtime overrides (las server) end.',
        'Refused (exit 1, the running config stays): an invalid config, or a change of',
        'a key that needs a restart:',
        ...wrap(RESTART_ONLY_KEYS.join(', '), 76).map((line) => `  ${line}`),
        `Kept at the running value until a restart: ${KEPT_UNTIL_RESTART_KEYS.join(', ')}.`,
        'Everything else applies, new VIPs and services included.',
      ]),
    )
    .action(async (options: { socket?: string; config?: string; json?: boolean }) => {
      const result = await adminRequest(await adminSocketFrom(options), 'reload', {}, 30_000);
      process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : formatReload(result));
    });
}

export function formatReload(result: unknown): string {
  const r = obj(result);
  const parts: string[] = [];
  const add = (label: string, key: string) => {
    const items = list(r[key]).map(String);
    if (items.length > 0) parts.push(`  ${label}: ${items.join(', ')}`);
  };
  add('settings changed', 'settingsChanged');
  add('services added', 'servicesAdded');
  add('services removed', 'servicesRemoved');
  add('services changed', 'servicesChanged');
  add('servers added', 'serversAdded');
  add('servers changed', 'serversChanged');
  add('servers removed, draining', 'draining');
  add('servers removed at once', 'dropped');
  add('kept until restart', 'notApplied');
  return `reloaded${parts.length === 0 ? ': nothing changed' : `\n${parts.join('\n')}`}\n`;
}

/** Lines of at most `width` characters, broken at spaces: commander would wrap at the terminal's width. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}
