// Helpers shared by the command modules.
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { adminSocketOfConfig } from '../config/admin-socket.js';
import { formatConfigErrors, loadConfigFile } from '../config/load.js';
import { printable } from '../config/printable.js';
import { DEFAULTS } from '../config/schema.js';
import type { LasConfig } from '../config/types.js';

/** Ends the command with an exit code after it has printed its own explanation. */
export class ExitError extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

/** Loads a config or prints every error and ends with exit code 1. */
export async function loadConfigOrExit(file: string): Promise<LasConfig> {
  const result = await loadConfigFile(file);
  if (!result.ok) {
    process.stderr.write(`${formatConfigErrors(file, result.errors, result.more)}\n`);
    throw new ExitError(1);
  }
  return result.config;
}

/** The admin socket a client verb talks to: --socket, else the config's adminSocket, else the default. */
export async function adminSocketFrom(options: { socket?: string; config?: string }): Promise<string> {
  if (options.socket !== undefined && options.config !== undefined) throw new Error('pass --socket or --config, not both');
  if (options.socket !== undefined) return resolve(options.socket);
  if (options.config !== undefined) {
    // Only "adminSocket" is read: a config being edited, invalid elsewhere, still finds the daemon.
    const found = await adminSocketOfConfig(options.config);
    if (!found.ok) {
      process.stderr.write(`${printable(options.config)}: ${printable(found.problem)}; pass the daemon's socket with --socket PATH instead (default ${DEFAULTS.adminSocket})\n`);
      throw new ExitError(1);
    }
    if (found.note) process.stderr.write(`${printable(options.config)}: ${printable(found.note)}\n`);
    return found.socket;
  }
  return DEFAULTS.adminSocket;
}

/** Adds the two ways of finding the daemon that every admin verb takes. */
export function withSocketOptions(command: Command): Command {
  return command
    .option('-s, --socket <path>', `admin socket of the daemon (default ${DEFAULTS.adminSocket})`)
    .option('-c, --config <file>', 'use the "adminSocket" of this config (only that key is read)');
}

export function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => (l === '' ? '' : `  ${l}`)).join('\n')}\n`;
}
