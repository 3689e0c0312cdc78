// ha.secondChance: how long a service keeps its previous Maglev table after its servers change, so
// a connection placed before the change that reaches a dispatcher without its entry (its ECMP
// route moved there) still finds its server. The key's check, its resolved value and its default.
import { integer, type Check } from './leaf-checks.js';

/** Longest window: the fast path compares it as a signed difference of a 32-bit millisecond clock. */
export const MAX_SECOND_CHANCE_WINDOW = 86_400;
export const DEFAULT_SECOND_CHANCE_WINDOW = 60;

export const SECOND_CHANCE_KEYS = ['window'] as const;

export const secondChanceChecks: { window: Check<number> } = {
  window: integer(0, MAX_SECOND_CHANCE_WINDOW,
    `seconds a service keeps its previous Maglev table after its servers change; ${DEFAULT_SECOND_CHANCE_WINDOW} is the default, 0 turns second chance off`),
};

export interface SecondChanceConfig {
  window: number; // seconds, default 60; 0 = off
}

export function resolveSecondChance(parsed: { window?: number | undefined } | undefined): SecondChanceConfig {
  return { window: parsed?.window ?? DEFAULT_SECOND_CHANCE_WINDOW };
}
