// ha.vrrp: a dispatcher of an active/standby pair whose role keepalived (VRRP) chooses through
// `las role`. Its own file so that the other ha.* sub-objects merge beside it, not into it.
import { describe, integer, Invalid, oneOf, quotedNumberHint, type Check } from './leaf-checks.js';
import type { leaf as Leaf, strictObject as StrictObject } from './shapes.js';

export const HA_MODES = ['none', 'vrrp', 'bgp'] as const;
export type HaMode = (typeof HA_MODES)[number];
export const VRRP_ROLES = ['standby', 'active'] as const;
export type VrrpRole = (typeof VRRP_ROLES)[number];

export interface VrrpConfig {
  startAs: VrrpRole;         // default "standby": forward nothing until keepalived says MASTER
  garpMasterRepeat: number;  // gratuitous ARPs per VIP on becoming active, default 5 (keepalived's vrrp_garp_master_repeat)
  garpMasterDelay: number;   // seconds until the second set of them, default 5; 0: none (keepalived's vrrp_garp_master_delay)
}

// keepalived's own defaults for the gratuitous ARPs of a new MASTER.
export const VRRP_DEFAULTS: VrrpConfig = { startAs: 'standby', garpMasterRepeat: 5, garpMasterDelay: 5 };

/** shapes.ts passes its builders in, so this file does not import shapes.ts at run time (no cycle). */
export function vrrpSchema(strictObject: typeof StrictObject, leaf: typeof Leaf) {
  return strictObject(
    'haVrrp',
    {
      startAs: leaf(oneOf(VRRP_ROLES, '"standby" (the default) forwards nothing until keepalived runs "las role active"; "active" forwards from the start', 'startAs')).optional(),
      garpMasterRepeat: leaf(integer(0, 100, 'gratuitous ARPs sent per VIP on becoming active; 5 is the default (keepalived\'s vrrp_garp_master_repeat), 0 sends none')).optional(),
      garpMasterDelay: leaf(seconds0(3600, 'seconds until a second set of gratuitous ARPs; 5 is the default (keepalived\'s vrrp_garp_master_delay), 0 sends no second set')).optional(),
    },
    'an object',
    'write e.g. "vrrp": { "startAs": "standby", "garpMasterRepeat": 5, "garpMasterDelay": 5 } or leave it out',
  );
}

// 0 is a meaningful value here ("no second set"), which positive() refuses.
function seconds0(max: number, fix: string): Check<number> {
  const fn = (value: unknown) =>
    typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= max
      ? value
      : new Invalid(`${describe(value)} is not a number from 0 to ${max}${quotedNumberHint(value)}; ${fix}`);
  return Object.assign(fn, { json: { type: 'number', minimum: 0, maximum: max, description: fix } });
}

export function resolveVrrp(raw: Partial<VrrpConfig> | undefined): VrrpConfig {
  return {
    startAs: raw?.startAs ?? VRRP_DEFAULTS.startAs,
    garpMasterRepeat: raw?.garpMasterRepeat ?? VRRP_DEFAULTS.garpMasterRepeat,
    garpMasterDelay: raw?.garpMasterDelay ?? VRRP_DEFAULTS.garpMasterDelay,
  };
}
