// `las reload` and SIGHUP: read the config file again and apply it as a diff. Everything that can
// fail (the file, restart-only keys, ARP for new servers, the admin group, the fast path taking
// the new filter and snapshot) happens before anything changes; a refusal leaves the running config
// whole. Reloads run one at a time, in the order asked.
import type { NativeDataplane } from '../native/binding.js';
import type { LasConfig } from '../config/types.js';
import { loadConfigFile, formatConfigErrors } from '../config/load.js';
import type { Logger } from './logger.js';
import { resolveAdminGroup } from './admin-group.js';
import { socketFilter } from './native-snapshot.js';
import { planReload, describeRestartKeys, type ReloadPlan } from './reload-plan.js';
import { ReloadRecord } from './reload-record.js';
import { ARP_WAIT_MS, type ServerMacs } from './server-macs.js';
import type { ServerState } from './server-state.js';

/** A config the fast path took; what the rest of the daemon must now follow. */
export interface AcceptedConfig {
  prev: LasConfig;
  next: LasConfig;
  state: ServerState;                 // built from `next`, keeping runtime overrides, health and drains
  adminGid: number | undefined;       // next.adminSocketGroup, resolved
  vipsChanged: boolean;
}

export interface ReloadTarget {
  /** The running state (its config is the running config). */
  state(): ServerState;
  dataplane(): NativeDataplane | undefined;
  /** Makes every other part follow the accepted config; the reload can no longer be refused. */
  adopt(accepted: AcceptedConfig): Promise<void>;
}

export type ReloadAnswer = Omit<ReloadPlan, 'restartKeys'> & {
  reloaded: true;
  draining: string[];                 // "service/address" removed from the config, draining
  dropped: string[];                  // removed with drainOnRemove false: their flows are rescheduled
  noArpAnswer: string[];
};

export type ReloadOutcome = { ok: true; answer: ReloadAnswer } | { ok: false; reason: string };

/** A reason to refuse the reload, thrown by the checks and turned into an outcome. */
class Refusal extends Error {
  constructor(message: string, readonly details: Record<string, unknown> = {}) {
    super(message);
  }
}

export class Reloader {
  readonly counts = new ReloadRecord();
  private chain: Promise<unknown> = Promise.resolve();

  /** idleBoundSeconds: the native idle sweep's bound, fixed at start (named when a reload cannot change it). */
  constructor(
    private readonly configPath: string,
    private readonly macs: ServerMacs,
    private readonly target: ReloadTarget,
    private readonly idleBoundSeconds: number,
    private readonly log: Logger,
  ) {}

  /** Refusals are outcomes (logged and counted here); only an unexpected failure rejects. */
  reload(): Promise<ReloadOutcome> {
    const next = this.chain.then(() => this.attempt());
    this.chain = next.catch(() => undefined); // one reload at a time, in order
    return next;
  }

  private async attempt(): Promise<ReloadOutcome> {
    try {
      return { ok: true, answer: await this.apply() };
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      this.counts.record(false);
      this.log.error({ ...error.details, reason: error.message }, 'reload refused: the running config stays');
      return { ok: false, reason: error.message };
    }
  }

  private async apply(): Promise<ReloadAnswer> {
    const path = this.configPath;
    const result = await loadConfigFile(path);
    if (!result.ok) throw new Refusal(formatConfigErrors(path, result.errors), { errors: result.errors });
    const next = result.config;
    const running = this.target.state();
    const prev = running.config;
    const plan = planReload(prev, next);
    if (plan.restartKeys.length > 0) throw new Refusal(describeRestartKeys(plan.restartKeys), { keys: plan.restartKeys });

    const { state, draining, dropped } = running.withConfig(next, Date.now());
    // Like a start: a server off the interface's subnets is a config error; one that does not answer
    // ARP is taken in down and asked again until it answers (the MAC cache may keep extra entries).
    await this.macs.resolve(state.addressesNeedingMac(), ARP_WAIT_MS).catch(refused);
    const macs = this.macs.known;
    const adminGid = await resolveAdminGroup(next.adminSocketGroup).catch(refused);
    const vips = (c: LasConfig) => JSON.stringify([...new Set(c.services.map((s) => s.vip))].sort());
    const vipsChanged = vips(prev) !== vips(next);
    try {
      const dataplane = this.target.dataplane();
      // A new VIP's frames must pass the socket filter before the snapshot that serves them.
      if (vipsChanged) dataplane?.setFilter(socketFilter(next));
      dataplane?.setSnapshot(state.snapshot(macs));
    } catch (error) {
      throw new Refusal(`reload refused: the fast path did not take the new config: ${(error as Error).message}`);
    }

    await this.target.adopt({ prev, next, state, adminGid, vipsChanged });
    this.counts.record(true);

    const { restartKeys: _restartKeys, ...summary } = plan;
    const noArpAnswer = state.addressesNeedingMac().filter((a) => !macs.has(a));
    const answer: ReloadAnswer = { reloaded: true, ...summary, draining: draining.map(ref), dropped: dropped.map(ref), noArpAnswer };
    this.log.info(answer, 'reloaded');
    for (const r of draining) this.log.info({ service: r.service, server: r.address, drainTimeout: next.drainTimeout }, 'server removed from the config: draining (weight 0) until its flows end');
    for (const r of dropped) this.log.info({ service: r.service, server: r.address }, 'server removed from the config (drainOnRemove is false): its flows are rescheduled');
    if (plan.notApplied.length > 0) this.log.warn({ keys: plan.notApplied, running: this.idleBoundSeconds }, 'reload: these keys keep their running value until a restart');
    return answer;
  }
}

function refused(error: unknown): never {
  throw new Refusal(`reload refused: ${(error as Error).message}`);
}

const ref = (r: { service: string; address: string }) => `${r.service}/${r.address}`;
