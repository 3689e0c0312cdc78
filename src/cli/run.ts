// `las run --config FILE`: validate, then hand over to the daemon.
import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { LOG_LEVELS } from '../config/schema.js';
import { examples, loadConfigOrExit } from './common.js';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the dispatcher on the config\'s interface (root: needs CAP_NET_RAW and CAP_NET_ADMIN)')
    .requiredOption('-c, --config <file>', 'JSON config file (see "las check")')
    .addOption(new Option('--log-level <level>', 'override "logLevel" of the config').choices(LOG_LEVELS))
    .addHelpText(
      'after',
      examples([
        'sudo las run -c /etc/las/las.json',
        'sudo las run --config las.json --log-level debug',
        '',
        'The config is validated first: on any error nothing starts, every error',
        'is printed (as by "las check") and the exit code is 1.',
        'Stop the daemon with SIGTERM or Ctrl-C.',
      ]),
    )
    .action(async (options: { config: string; logLevel?: string }) => {
      // `pidof las`, `pgrep las` and `ps` name the daemon `las`, not `node` (also the kernel's comm).
      process.title = 'las';
      const config = await loadConfigOrExit(options.config);
      // Imported here, not at the top: it loads the native addon, which `las check` must not need.
      const { runDaemon } = await import('../control/daemon.js');
      await runDaemon(config, {
        configPath: resolve(options.config),
        ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : {}),
      });
    });
}
