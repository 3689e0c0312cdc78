// Reading a config file: file and JSON syntax problems become ConfigErrors like schema problems,
// so `las check` and `las run` report every kind of mistake the same way.
import { readFile } from 'node:fs/promises';
import { parseConfig, type ConfigError, type ConfigResult } from './schema.js';

export type { ConfigError, ConfigResult } from './schema.js';
export { parseConfig } from './schema.js';

/** Reads and validates a JSON config file. Never throws for a bad file: the problems are in `errors`. */
export async function loadConfigFile(path: string): Promise<ConfigResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    return { ok: false, errors: [{ path: '', message: readProblem(error) }] };
  }
  return parseConfigText(text);
}

/** Validates config text (JSON). */
export function parseConfigText(text: string): ConfigResult {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // editors on some hosts add a BOM
  let input: unknown;
  try {
    input = JSON.parse(body);
  } catch (error) {
    return { ok: false, errors: [{ path: '', message: jsonProblem(body, error) }] };
  }
  return parseConfig(input);
}

/** "FILE: path: message" per error, one a line: grep-able and familiar from compilers. */
export function formatConfigErrors(file: string, errors: readonly ConfigError[]): string {
  const lines = errors.map((e) => (e.path === '' ? `${file}: ${e.message}` : `${file}: ${e.path}: ${e.message}`));
  if (errors.length > 1) lines.push(`${file}: ${errors.length} errors`);
  return lines.join('\n');
}

function readProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'cannot read the config: no such file; pass the path of the JSON config (see docs/configuration.md)';
  if (code === 'EACCES') return 'cannot read the config: permission denied; run as a user that can read it (or as root)';
  if (code === 'EISDIR') return 'cannot read the config: it is a directory; pass the path of the JSON file itself';
  return `cannot read the config: ${(error as Error).message}`;
}

function jsonProblem(text: string, error: unknown): string {
  const found = locateJsonError(text);
  if (found) {
    const { line, column } = lineColumn(text, found.offset);
    return `invalid JSON at line ${line}, column ${column}: ${found.message}; fix the syntax (JSON has no comments, no trailing commas and needs double quotes)`;
  }
  return `invalid JSON: ${(error as Error).message}`;
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/**
 * Finds the first syntax error and its offset. V8's JSON.parse messages do not always carry a
 * position ("Unexpected token 'x', ... is not valid JSON"), and an operator needs the line.
 */
export function locateJsonError(text: string): { offset: number; message: string } | undefined {
  let i = 0;
  class Stop {
    constructor(readonly offset: number, readonly message: string) {}
  }
  const fail = (message: string, at = i): never => {
    throw new Stop(at, message);
  };
  const show = (at: number) => (at >= text.length ? 'the end of the file' : text[at] === '"' ? 'a string' : JSON.stringify(text[at]));
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
    if (text.startsWith('//', i) || text.startsWith('/*', i)) fail('comments are not allowed in JSON');
  };

  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= text.length) fail('unterminated string (missing closing ")');
      const c = text.charCodeAt(i);
      if (c === 0x22) return void i++;
      if (c < 0x20) fail('line break or control character inside a string (missing closing "?)');
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail('invalid escape in a string');
      } else i++;
    }
  };

  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m || m[0] === '-') fail('invalid number');
    i += m![0].length;
    if (/^[\w.]/.test(text.slice(i, i + 1))) fail('invalid number (leading zeros, hex and trailing characters are not JSON)');
  };

  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    for (const word of ['true', 'false', 'null']) if (text.startsWith(word, i)) return void (i += word.length);
    if (c === "'") fail('strings need double quotes, not single quotes');
    fail(`expected a value but found ${show(i)}`);
  };

  const object = () => {
    i++;
    ws();
    if (text[i] === '}') return void i++;
    for (;;) {
      ws();
      if (text[i] !== '"') fail(text[i] === '}' ? 'trailing comma before "}"' : `expected a double-quoted key but found ${show(i)}`);
      string();
      ws();
      if (text[i] !== ':') fail(`expected ":" after the key but found ${show(i)}`);
      i++;
      value();
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') return void i++;
      fail(`expected "," or "}" after a value but found ${show(i)} (missing comma?)`);
    }
  };

  const array = () => {
    i++;
    ws();
    if (text[i] === ']') return void i++;
    for (;;) {
      ws();
      if (text[i] === ']') fail('trailing comma before "]"');
      value();
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === ']') return void i++;
      fail(`expected "," or "]" after a value but found ${show(i)} (missing comma?)`);
    }
  };

  try {
    value();
    ws();
    if (i < text.length) fail(`unexpected ${show(i)} after the end of the JSON value`);
    return undefined;
  } catch (error) {
    if (error instanceof Stop) return { offset: error.offset, message: error.message };
    throw error;
  }
}
