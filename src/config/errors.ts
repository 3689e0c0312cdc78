// Config errors: their shape, their paths as an operator writes them, and their order (the order
// of the file, so that the list reads top to bottom).
import { describe } from './quote.js';
import { KEYS, nearest } from './suggestions.js';
import type { LasConfig } from './types.js';

export interface ConfigError {
  path: string;    // "services[0].servers[1].mac"; "" for the whole file
  message: string; // what is wrong; how to fix it
}

/** `more`: errors found but not listed (past MAX_ERRORS_LISTED, in document order). */
export type ConfigResult = { ok: true; config: LasConfig } | { ok: false; errors: ConfigError[]; more?: number };

/** Enough to act on; a generated file with a million mistakes must not print a million lines. */
export const MAX_ERRORS_LISTED = 100;

/** "services[0].servers[1].mac" from ["services", 0, "servers", 1, "mac"]. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(part) && part.length <= 60) out += out === '' ? part : `.${part}`;
    else out += `[${describe(part)}]`; // quoted, and shortened if a hostile file made it huge
  }
  return out;
}

// Document order: top-level keys as in the schema, list items by index, nested keys by schema order.
const KEY_RANK = new Map<string, number>();
for (const list of Object.values(KEYS)) list.forEach((key, i) => KEY_RANK.has(key) || KEY_RANK.set(key, i));
const ALL_KEYS = [...KEY_RANK.keys()];
// An unknown key sorts next to the key it is probably a typo of.
const rank = (key: string) => KEY_RANK.get(key) ?? KEY_RANK.get(nearest(key, ALL_KEYS) ?? '') ?? 1000;

function pathParts(path: string): (string | number)[] {
  return [...path.matchAll(/\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\.?([^.[\]]+)/g)].map((m) => (m[1] !== undefined ? Number(m[1]) : (m[2] ?? m[3] ?? '')));
}

function compareParts(pa: readonly (string | number)[], pb: readonly (string | number)[], rankOf: (key: string) => number): number {
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    const rx = typeof x === 'string' ? rankOf(x) : -1;
    const ry = typeof y === 'string' ? rankOf(y) : -1;
    return rx !== ry ? rx - ry : String(x).localeCompare(String(y));
  }
  return pa.length - pb.length;
}

/** Document order. Each path is parsed and each key ranked once: a hostile file can hold a million errors. */
export function sortErrors(errors: ConfigError[]): ConfigError[] {
  const ranks = new Map<string, number>();
  const rankOf = (key: string) => {
    let r = ranks.get(key);
    if (r === undefined) ranks.set(key, (r = rank(key)));
    return r;
  };
  return errors
    .map((e) => ({ e, parts: pathParts(e.path) }))
    .sort((a, b) => compareParts(a.parts, b.parts, rankOf))
    .map(({ e }) => e);
}

