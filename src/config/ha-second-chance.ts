// ha.secondChance: how long a service keeps its previous Maglev table after its servers change, so
// a connection placed before the change that reaches a dispatcher without its entry (its ECMP
// route moved there) still finds its server. The key's check, its resolved value and its default.
import { integer, type Check } from './leaf-checks.js';

/** Longest window: the fast path compares it as a signed difference of a 32-bit millisecond clock. */
export const MAX_SECOND_CHANCE_WINDOW = 86_400;
// Off by default: during a window, a connection placed by the NEW table that then changes dispatcher
// goes to the previous server and breaks (docs/configuration.md#hasecondchance).
export const DEFAULT_SECOND_CHANCE_WINDOW = 0;

export const SECOND_CHANCE_KEYS = ['window'] as const;

export const secondChanceChecks: { window: Check<number> } = {
  window: integer(0, MAX_SECOND_CHANCE_WINDOW,
    'seconds a service keeps its previous Maglev table after its servers change; 0 (the default) is off, e.g. 60'),
};

export interface SecondChanceConfig {
  window: number; // seconds, default 0 = off
}

export function resolveSecondChance(parsed: { window?: number | undefined } | undefined): SecondChanceConfig {
  return { window: parsed?.window ?? DEFAULT_SECOND_CHANCE_WINDOW };
}
