// Where an admin client (las status, stats, flows, server, reload) finds the daemon when given the
// config with -c. It needs only "adminSocket", so it reads only that: a file mid-edit, invalid as a
// whole, still names its socket. Only a file that is not JSON at all leaves it without an answer.
import { DEFAULTS } from './defaults.js';
import { lineColumn, scanJson } from './json-scan.js';
import { readConfigText } from './load.js';
import { describe } from './quote.js';

export type AdminSocketLookup = { ok: true; socket: string; note?: string } | { ok: false; problem: string };

export async function adminSocketOfConfig(path: string): Promise<AdminSocketLookup> {
  const read = await readConfigText(path);
  if ('problem' in read) return { ok: false, problem: read.problem };
  const text = read.text.charCodeAt(0) === 0xfeff ? read.text.slice(1) : read.text;
  const syntax = scanJson(text).syntax; // bounds the nesting before JSON.parse walks it
  if (syntax) {
    const { line, column } = lineColumn(text, syntax.offset);
    return { ok: false, problem: `cannot read "adminSocket" from it: not JSON at line ${line}, column ${column} (${syntax.message})` };
  }
  const config = JSON.parse(text) as unknown;
  const value = typeof config === 'object' && config !== null && !Array.isArray(config) ? (config as Record<string, unknown>).adminSocket : undefined;
  if (typeof value === 'string') return { ok: true, socket: value };
  if (value === undefined) return { ok: true, socket: DEFAULTS.adminSocket };
  return { ok: true, socket: DEFAULTS.adminSocket, note: `"adminSocket" is ${describe(value)}, not a path: using the default ${DEFAULTS.adminSocket}` };
}
