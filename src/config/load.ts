// Reading a config file: file and JSON syntax problems become ConfigErrors like schema problems,
// so `las check`, `las run` and a reload report every kind of mistake the same way. The file is
// untrusted input: its size, its nesting and its keys are checked before it is parsed.
import { open } from 'node:fs/promises';
import { describe, formatPath, parseConfig, type ConfigError, type ConfigResult } from './schema.js';
import { lineColumn, MAX_DUPLICATES_SHOWN, scanJson } from './json-scan.js';
import { printable } from './printable.js';

export type { ConfigError, ConfigResult } from './schema.js';
export { parseConfig } from './schema.js';

/**
 * Larger than any real config (5 000 services of 10 servers are about 5 MB), small enough that
 * reading, scanning and parsing it stays bounded in time and memory. Also stops a read of
 * /dev/zero or of a pipe that never ends.
 */
export const MAX_CONFIG_BYTES = 32 * 1024 * 1024;
const CHUNK = 1 << 20;

/** Reads and validates a JSON config file. Never throws for a bad file: the problems are in `errors`. */
export async function loadConfigFile(path: string): Promise<ConfigResult> {
  const read = await readConfigText(path);
  return 'problem' in read ? { ok: false, errors: [{ path: '', message: read.problem }] } : parseConfigText(read.text);
}

/** The file's text within MAX_CONFIG_BYTES, or what stopped the read, worded for an operator. */
export async function readConfigText(path: string): Promise<{ text: string } | { problem: string }> {
  try {
    return { text: await readBounded(path) };
  } catch (error) {
    return { problem: error instanceof TooLarge ? error.message : readProblem(error) };
  }
}

/** Reads and validates a config from a stream (`las check -`: standard input), with the file's bound. */
export async function loadConfigStream(stream: AsyncIterable<Buffer | string>): Promise<ConfigResult> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      total += bytes.length;
      if (total > MAX_CONFIG_BYTES) throw tooLarge(`more than ${MAX_CONFIG_BYTES} bytes`);
      chunks.push(bytes);
    }
  } catch (error) {
    const message = error instanceof TooLarge ? error.message : `cannot read the config: ${(error as Error).message}`;
    return { ok: false, errors: [{ path: '', message }] };
  }
  return parseConfigText(Buffer.concat(chunks, total).toString('utf8'));
}

class TooLarge extends Error {}

const tooLarge = (size: string) =>
  new TooLarge(`the config is ${size}, over the limit of ${MAX_CONFIG_BYTES} bytes (${MAX_CONFIG_BYTES >> 20} MiB); a config of thousands of services is a few MB: is this the right file?`);

async function readBounded(path: string): Promise<string> {
  const file = await open(path, 'r');
  try {
    const stat = await file.stat();
    if (stat.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (stat.isFile() && stat.size > MAX_CONFIG_BYTES) throw tooLarge(`${stat.size} bytes`);
    // Not trusting the size: the file may grow, or be a pipe or a device.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const { bytesRead, buffer } = await file.read(Buffer.alloc(CHUNK), 0, CHUNK, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > MAX_CONFIG_BYTES) throw tooLarge(`more than ${MAX_CONFIG_BYTES} bytes`);
      chunks.push(buffer.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    await file.close();
  }
}

/** Validates config text (JSON). */
export function parseConfigText(text: string): ConfigResult {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // editors on some hosts add a BOM
  const scan = scanJson(body);
  if (scan.syntax) {
    const { line, column } = lineColumn(body, scan.syntax.offset);
    const message = scan.syntax.tooDeep
      ? `line ${line}, column ${column}: ${scan.syntax.message}`
      : `invalid JSON at line ${line}, column ${column}: ${scan.syntax.message}; fix the syntax (JSON has no comments, no trailing commas and needs double quotes)`;
    return { ok: false, errors: [{ path: '', message }] };
  }
  const duplicates: ConfigError[] = scan.duplicates.map((d) => {
    const first = lineColumn(body, d.firstOffset);
    const second = lineColumn(body, d.secondOffset);
    const key = d.path[d.path.length - 1];
    return {
      path: printable(formatPath(d.path)),
      message: `duplicate key ${printable(describe(key))} at line ${second.line}, column ${second.column}; it is already at line ${first.line}, column ${first.column} (JSON would silently keep only the last one): keep one of them`,
    };
  });
  if (scan.duplicateCount > MAX_DUPLICATES_SHOWN) {
    duplicates.push({ path: '', message: `${scan.duplicateCount} duplicate keys in all, the first ${MAX_DUPLICATES_SHOWN} shown; each key may appear once per object` });
  }
  let input: unknown;
  try {
    input = JSON.parse(body); // the scan bounded the nesting: nothing below walks a deep tree
  } catch (error) {
    return { ok: false, errors: [{ path: '', message: `invalid JSON: ${printable((error as Error).message)}` }] };
  }
  const result = parseConfig(input);
  if (duplicates.length === 0) return result;
  return { ok: false, errors: [...duplicates, ...(result.ok ? [] : result.errors)], ...(!result.ok && result.more ? { more: result.more } : {}) };
}

/** "FILE: path: message" per error, one a line: grep-able and familiar from compilers. */
export function formatConfigErrors(file: string, errors: readonly ConfigError[], more = 0): string {
  const name = printable(file);
  // printable() again: errors from elsewhere (ring sizes) pass here too; escaping twice changes nothing.
  const lines = errors.map((e) => printable(e.path === '' ? `${name}: ${e.message}` : `${name}: ${e.path}: ${e.message}`));
  if (more > 0) lines.push(`${name}: ${errors.length + more} errors, the first ${errors.length} listed`);
  else if (errors.length > 1) lines.push(`${name}: ${errors.length} errors`);
  return lines.join('\n');
}

function readProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'cannot read the config: no such file; pass the path of the JSON config (see docs/configuration.md)';
  if (code === 'EACCES') return 'cannot read the config: permission denied; run as a user that can read it (or as root)';
  if (code === 'EISDIR') return 'cannot read the config: it is a directory; pass the path of the JSON file itself';
  return `cannot read the config: ${(error as Error).message}`;
}

