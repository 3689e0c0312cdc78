// JSON config -> resolved LasConfig: the one validation `las check`, `las run` and a reload share.
// The parts live beside this file, one job each: values.ts, defaults.ts and limits.ts (what is
// allowed), leaf-checks.ts (single values), shapes.ts (the zod structure), cross-checks.ts (rules
// between fields), suggestions.ts and foreign-names.ts (hints), errors.ts (paths and order) and
// resolve.ts (defaults filled in). This file joins them and keeps the exports the rest imports.
import { crossCheck, unsafeStrings } from './cross-checks.js';
import { MAX_ERRORS_LISTED, formatPath, sortErrors, type ConfigError, type ConfigResult } from './errors.js';
import { printable } from './printable.js';
import { resolve } from './resolve.js';
import { configSchema, resetIssueBudget } from './shapes.js';

export { DEFAULTS } from './defaults.js';
export { FLOW_KEYS, FLOW_TIMEOUT_KEYS, LOG_LEVELS, SCHEDULERS, TX_MODES } from './values.js';
export { MAX_TX_FRAME_SIZE, MIN_RX_BLOCK_SIZE } from './limits.js';
export { describe, isIPv4, isPrime, parseMode } from './leaf-checks.js';
export { nearest } from './suggestions.js';
export { MAX_ERRORS_LISTED, formatPath, type ConfigError, type ConfigResult };

/** Validates parsed JSON and fills every default; on failure returns all errors, in document order. */
export function parseConfig(input: unknown): ConfigResult {
  const suppressedSince = resetIssueBudget();
  const parsed = configSchema.safeParse(input);
  const suppressed = suppressedSince();
  const errors: ConfigError[] = parsed.success ? [] : parsed.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
  errors.push(...crossCheck(input), ...unsafeStrings(input));
  if (errors.length === 0 && parsed.success && suppressed === 0) return { ok: true, config: resolve(parsed.data) };

  // Messages quote the file's keys and values: never print its control or bidi characters raw.
  const unique = new Map(errors.map((e) => [`${e.path}\n${e.message}`, { path: printable(e.path), message: printable(e.message) }]));
  const sorted = sortErrors([...unique.values()]);
  const more = Math.max(0, sorted.length - MAX_ERRORS_LISTED) + suppressed;
  return { ok: false, errors: sorted.slice(0, MAX_ERRORS_LISTED), ...(more > 0 ? { more } : {}) };
}
