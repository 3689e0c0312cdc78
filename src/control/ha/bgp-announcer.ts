// ha.mode "bgp": keeps the speaker announcing exactly what LAS decides (announce-set.ts), one change
// at a time, and says clearly when it cannot: a missing speaker or an unreachable peer is a warning
// naming what is missing, never a stop: LAS keeps forwarding whatever reaches it, as a single dispatcher.
import { writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { BgpConfig } from '../../config/ha-bgp.js';
import type { Logger } from '../logger.js';
import type { ServerState } from '../server-state.js';
import { announceSet, sameSet, type AnnounceSet } from './announce-set.js';
import { BirdSpeaker, type PeerState } from './bird-speaker.js';

const PEER_POLL_MS = 2000;
const UNREACHABLE_AFTER_MS = 10_000;   // a peer not Established this long after start is reported

export interface AnnouncerStatus {
  mode: 'bgp';
  drained: boolean;
  speaker: { running: boolean; error: string | null };
  announced: AnnounceSet;
  peers: PeerState[];
}

export class BgpAnnouncer {
  private readonly speaker: BirdSpeaker;
  private drained = false;
  private wanted: AnnounceSet;
  private announced: AnnounceSet;   // what the speaker was last told (empty until it runs)
  private speakerError: string | null = null;
  private queue: Promise<void> = Promise.resolve();
  private peerStates: PeerState[] = [];
  private reported = new Map<string, string>();   // peer -> last state logged
  private pollTimer?: NodeJS.Timeout;
  private readonly startedAt = Date.now();
  private stopping = false;
  private running = false;          // the speaker started (its later exit is an error of its own)

  constructor(private readonly bgp: BgpConfig, private readonly dir: string, private readonly log: Logger) {
    this.wanted = { nextHop: bgp.localAddress, prefixes: [] };
    this.announced = this.wanted;
    this.speaker = new BirdSpeaker(bgp, dir, (why) => {
      if (this.stopping || !this.running) return;  // a failed start is reported by start()
      this.speakerError = why;
      this.log.error({ speaker: bgp.speakerPath }, `BGP speaker stopped: ${why}; no VIP is announced, LAS keeps forwarding what reaches it as a single dispatcher`);
    });
  }

  /** Starts the speaker with the current set; a failure is logged (with what is missing), not thrown. */
  async start(state: ServerState, macs: ReadonlyMap<string, string>): Promise<void> {
    this.wanted = announceSet(state, macs, this.bgp.localAddress, this.drained);
    try {
      await this.speaker.start(this.wanted);
      this.running = true;
      this.announced = this.wanted;
      await this.publish();
      this.log.info({ prefixes: this.wanted.prefixes, nextHop: this.wanted.nextHop, peers: this.bgp.peers.map((p) => p.address) }, 'BGP speaker (BIRD) started: announcing the VIPs that have a server up');
    } catch (error) {
      this.speakerError = error instanceof Error ? error.message : String(error);
      this.log.error({ speaker: this.bgp.speakerPath }, `ha.mode "bgp": the BGP speaker could not start: ${this.speakerError}; no VIP is announced, LAS keeps forwarding what reaches it as a single dispatcher`);
      return;
    }
    this.pollTimer = setInterval(() => { this.pollPeers().catch(() => undefined); }, PEER_POLL_MS);
    this.pollTimer.unref();
  }

  /** After every change of the published snapshot: announce or withdraw what changed. */
  update(state: ServerState, macs: ReadonlyMap<string, string>): Promise<void> {
    this.wanted = announceSet(state, macs, this.bgp.localAddress, this.drained);
    return this.apply();
  }

  /** `las drain`: every VIP withdrawn (resolves once the speaker took it); forwarding goes on. */
  async setDrained(drained: boolean, state: ServerState, macs: ReadonlyMap<string, string>): Promise<AnnouncerStatus> {
    this.drained = drained;
    await this.update(state, macs);
    this.log.info({ prefixes: this.announced.prefixes }, drained
      ? 'dispatcher drained: every VIP withdrawn from BGP; flows that still arrive are forwarded'
      : 'dispatcher undrained: the VIPs with a server up are announced again');
    return this.status();
  }

  status(): AnnouncerStatus {
    return {
      mode: 'bgp', drained: this.drained, speaker: { running: this.speakerError === null, error: this.speakerError },
      announced: this.announced, peers: this.peerStates,
    };
  }

  /** Withdraws everything (the speaker's sessions close with a notification) and stops the speaker. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    await this.queue;
    await this.speaker.stop();
  }

  private apply(): Promise<void> {
    const run = async () => {
      const want = this.wanted;
      if (this.speakerError !== null || this.stopping || sameSet(this.announced, want)) return;
      try {
        await this.speaker.announce(want);
        const added = want.prefixes.filter((p) => !this.announced.prefixes.includes(p));
        const withdrawn = this.announced.prefixes.filter((p) => !want.prefixes.includes(p));
        this.announced = want;
        await this.publish();
        this.log.info({ announced: added, withdrawn }, 'BGP announcements changed');
      } catch (error) {
        this.log.warn({ err: error }, 'BGP: the speaker refused the new announcements; it keeps the previous ones');
      }
    };
    this.queue = this.queue.then(run);
    return this.queue;
  }

  /** The speaker-neutral form, for another speaker's adapter (ExaBGP, GoBGP...) to follow. */
  private async publish(): Promise<void> {
    const file = join(this.dir, 'announce.json');
    await writeFile(`${file}.tmp`, `${JSON.stringify({ ...this.announced, drained: this.drained }, null, 2)}\n`);
    await rename(`${file}.tmp`, file);
  }

  private async pollPeers(): Promise<void> {
    if (this.speakerError !== null || this.stopping) return;
    this.peerStates = await this.speaker.peers();
    const late = Date.now() - this.startedAt >= UNREACHABLE_AFTER_MS;
    this.bgp.peers.forEach((peer, i) => {
      const s = this.peerStates[i];
      if (!s) return;
      const was = this.reported.get(s.address);
      if (s.established && was !== 'up') {
        this.reported.set(s.address, 'up');
        this.log.info({ peer: s.peer }, 'BGP session established: the VIPs are announced to this router');
      } else if (!s.established && late && was !== 'down') {
        this.reported.set(s.address, 'down');
        this.log.warn({ peer: s.peer, state: s.state, info: s.info, field: `ha.bgp.peers[${i}]` },
          `BGP peer ${peer.address} (ha.bgp.peers[${i}]) is not reachable (${s.state}${s.info ? `: ${s.info}` : ''}): nothing is announced to it; check the router's address, AS number and that it peers with ${this.bgp.localAddress} as AS ${this.bgp.localAsn}. LAS keeps forwarding what reaches it as a single dispatcher`);
      }
    });
  }
}
