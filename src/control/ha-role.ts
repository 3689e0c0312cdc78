// The dispatcher's HA role in an active/standby pair (ha.mode "vrrp"). keepalived elects the active
// one and tells LAS through `las role active|standby` from its notify scripts; LAS runs no election
// of its own. A standby keeps its sockets, filter, tables and health checks warm and the I/O threads
// ignore VIP frames and ARP (one relaxed load per block); a new active announces every VIP by
// gratuitous ARP, in two sets like keepalived's vrrp_garp_master_repeat / vrrp_garp_master_delay.
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { Logger } from './logger.js';
import type { VrrpConfig, VrrpRole } from '../config/ha-vrrp.js';
import type { HaMode } from '../config/ha-vrrp.js';

/** How long a vrrp-mode daemon waits for its first `las role` before warning that nobody tells it one. */
export const ROLE_WAIT_MS = 10_000;

export interface RoleTarget {
  setActive(active: boolean): void;
  announce(): void;
}

export interface RoleView {
  mode: HaMode;
  role: VrrpRole;
  since: string;           // ISO time of the last change
  changes: number;         // role changes since start
  toldBy: 'start' | 'las role' | 'no keepalived';
  gratuitousArpSets: number; // sets sent on becoming active (each: garpMasterRepeat per VIP)
}

/** Where keepalived would be: PATH, then the sbin directories a non-root PATH leaves out. */
export async function findKeepalived(path = process.env.PATH ?? ''): Promise<string | undefined> {
  const dirs = [...path.split(delimiter).filter((d) => d !== ''), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    const file = join(dir, 'keepalived');
    try {
      await access(file, constants.X_OK);
      return file;
    } catch { /* not here */ }
  }
  return undefined;
}

export class HaRole {
  private role: VrrpRole;
  private since = new Date();
  private changes = 0;
  private toldBy: RoleView['toldBy'] = 'start';
  private garpSets = 0;
  private secondSet?: NodeJS.Timeout;
  private waitWarning?: NodeJS.Timeout;

  constructor(private readonly mode: HaMode, private vrrp: VrrpConfig, private readonly target: RoleTarget, private readonly log: Logger) {
    this.role = mode === 'vrrp' ? vrrp.startAs : 'active';
  }

  /** The role the dataplane must be in now. */
  get active(): boolean { return this.role === 'active'; }

  /** After the dataplane started: the checks that make a missing keepalived visible. */
  async started(keepalived: Promise<string | undefined> = findKeepalived()): Promise<void> {
    if (this.mode !== 'vrrp') return;
    const found = await keepalived;
    if (found === undefined) {
      // The rule: without its election engine LAS still forwards, as a single dispatcher.
      this.log.error('ha.mode is "vrrp" but keepalived is not installed (no keepalived in PATH, /usr/sbin or /sbin): this dispatcher becomes active as a single dispatcher; install keepalived (Debian: apt install keepalived) and configure it as in deploy/keepalived/, or set "ha": { "mode": "none" }');
      if (this.role !== 'active') this.change('active', 'no keepalived');
      return;
    }
    this.log.info({ role: this.role, keepalived: found }, `ha.mode is "vrrp": ${this.role}, waiting for keepalived to run "las role"`);
    this.waitWarning = setTimeout(() => {
      this.log.warn({ role: this.role, waitedMs: ROLE_WAIT_MS },
        `ha.mode is "vrrp" and keepalived has not told this dispatcher its role (no "las role" for ${ROLE_WAIT_MS / 1000} s): it stays ${this.role}${this.role === 'standby' ? ' and forwards nothing' : ''}; check that keepalived runs here and that its notify_master/notify_backup/notify_fault scripts call "las role" on this admin socket (deploy/keepalived/)`);
    }, ROLE_WAIT_MS);
    this.waitWarning.unref();
  }

  /** `las role active|standby`; refused outside vrrp mode. */
  set(role: VrrpRole): RoleView {
    if (this.mode !== 'vrrp') {
      throw new Error(`ha.mode is "${this.mode}": this dispatcher is always active; set "ha": { "mode": "vrrp" } (and restart) to let keepalived choose its role`);
    }
    if (this.waitWarning) clearTimeout(this.waitWarning);
    this.waitWarning = undefined;
    if (role !== this.role) this.change(role, 'las role');
    else this.toldBy = 'las role';
    return this.view();
  }

  /** A reload may change the gratuitous ARP counts; they apply to the next change of role. */
  adopt(vrrp: VrrpConfig): void { this.vrrp = vrrp; }

  view(): RoleView {
    return { mode: this.mode, role: this.role, since: this.since.toISOString(), changes: this.changes, toldBy: this.toldBy, gratuitousArpSets: this.garpSets };
  }

  close(): void {
    if (this.secondSet) clearTimeout(this.secondSet);
    if (this.waitWarning) clearTimeout(this.waitWarning);
  }

  private change(role: VrrpRole, toldBy: RoleView['toldBy']): void {
    const was = this.role;
    this.role = role;
    this.since = new Date();
    this.changes++;
    this.toldBy = toldBy;
    if (this.secondSet) clearTimeout(this.secondSet);
    this.secondSet = undefined;
    this.target.setActive(role === 'active');
    if (role === 'active') {
      // Clients' and the router's caches still point at the old active: move them now, and once more later.
      this.announce();
      if (this.vrrp.garpMasterDelay > 0) {
        this.secondSet = setTimeout(() => this.announce(), this.vrrp.garpMasterDelay * 1000);
        this.secondSet.unref();
      }
    }
    this.log.warn({ from: was, to: role, toldBy }, role === 'active'
      ? 'HA role: active (forwarding, answering ARP for the VIPs, gratuitous ARP sent)'
      : 'HA role: standby (forwarding nothing, answering no ARP; sockets, tables and health checks stay warm)');
  }

  private announce(): void {
    if (this.vrrp.garpMasterRepeat === 0) return;
    for (let i = 0; i < this.vrrp.garpMasterRepeat; i++) this.target.announce();
    this.garpSets++;
  }
}
