// The MACs of servers without a configured "mac", and which of them have not answered ARP yet. A
// server that does not answer is not a reason to refuse a start or a reload: it is published down
// ("no ARP answer") and asked again every RETRY_MS until it answers. Resolved MACs are re-checked
// every neighbourRefresh seconds by a fresh broadcast ARP, so a changed MAC is followed within
// neighbourRefresh + REFRESH_WAIT_MS (docs/hardening.md).
import type { Logger } from './logger.js';
import { checkOnLink, forgetNeighbours, poke, readNeighbourTable, resolveSome } from './neighbours.js';

/** How often unresolved servers are asked again (one datagram and one `ip neigh show` per tick). */
export const RETRY_MS = 1000;
/** How long a refresh waits for the re-asked servers to answer. */
export const REFRESH_WAIT_MS = 1000;
/** How long a start or a reload waits for servers to answer ARP before publishing the silent ones down. */
export const ARP_WAIT_MS = 3000;

export class ServerMacs {
  private readonly macs = new Map<string, string>();
  private readonly missingSince = new Map<string, number>(); // address -> when it was first found silent

  constructor(private readonly ifname: string, private readonly log: Logger) {}

  /** The known MACs (what the snapshot uses). */
  get known(): ReadonlyMap<string, string> {
    return this.macs;
  }

  /** When `address` was first found not answering ARP; undefined if it is resolved or not asked for. */
  silentSince(address: string): number | undefined {
    return this.macs.has(address) ? undefined : this.missingSince.get(address);
  }

  /**
   * Resolves the addresses not known yet, waiting at most timeoutMs. Throws only for an address off
   * the interface's subnets (a config error); silent servers are logged once and left for retry().
   */
  async resolve(addresses: string[], timeoutMs: number): Promise<void> {
    // `addresses` is every server of the config (being) applied: silence is remembered for those only.
    const configured = new Set(addresses);
    for (const a of this.missingSince.keys()) if (!configured.has(a)) this.missingSince.delete(a);
    // Known-silent servers are not waited for again: retry() asks them every RETRY_MS.
    const wanted = addresses.filter((a) => !this.macs.has(a) && !this.missingSince.has(a));
    if (wanted.length === 0) return;
    await checkOnLink(this.ifname, wanted);
    const { macs, missing } = await resolveSome(this.ifname, wanted, timeoutMs);
    for (const [a, mac] of macs) this.learn(a, mac);
    const now = Date.now();
    for (const a of missing) {
      if (this.missingSince.has(a)) continue;
      this.missingSince.set(a, now);
      this.log.warn({ server: a, interface: this.ifname, waitedMs: timeoutMs, retryMs: RETRY_MS },
        `no ${a.includes(':') ? 'NDP' : 'ARP'} answer from server: it is marked down (no new flows) and asked again until it answers; set "mac" for it to skip resolution`);
    }
  }

  /** One retry tick for the silent servers among `wanted`; returns those that answered since the last tick. */
  async retry(wanted: string[]): Promise<string[]> {
    // Every configured server without a MAC is asked, whatever missingSince says (that only dates
    // the silence for status and keeps the warning to one line per server; resolve() prunes it).
    const silent = wanted.filter((a) => !this.macs.has(a));
    if (silent.length === 0) return [];
    const table = await readNeighbourTable(this.ifname);
    const answered: string[] = [];
    for (const a of silent) {
      const entry = table.get(a);
      if (!entry) continue;
      this.log.info({ server: a, mac: entry.mac, silentMs: Date.now() - (this.missingSince.get(a) ?? Date.now()) },
        'server answered ARP: it takes new flows again (if healthy)');
      this.learn(a, entry.mac);
      answered.push(a);
    }
    await Promise.all(silent.filter((a) => !this.macs.has(a)).map(poke)); // the answer is read on the next tick
    return answered;
  }

  /**
   * Asks every resolved server among `wanted` again by broadcast ARP (the kernel's own entry can
   * keep a stale MAC for up to a minute) and returns the addresses whose MAC changed. A server
   * that does not answer keeps its last MAC: health checks, not ARP, decide that it is gone.
   */
  async refresh(wanted: string[]): Promise<string[]> {
    const table = await readNeighbourTable(this.ifname);
    const resolved = wanted.filter((a) => this.macs.has(a));
    // Only entries the kernel has (see forgetNeighbours); an operator's static entry stays.
    await forgetNeighbours(this.ifname, resolved.filter((a) => table.has(a) && !table.get(a)?.pinned));
    const { macs } = await resolveSome(this.ifname, resolved, REFRESH_WAIT_MS);
    const changed: string[] = [];
    for (const [a, mac] of macs) {
      if (this.macs.get(a) === mac) continue;
      this.log.info({ server: a, from: this.macs.get(a), to: mac }, 'server MAC changed');
      this.learn(a, mac);
      changed.push(a);
    }
    return changed;
  }

  private learn(address: string, mac: string): void {
    this.macs.set(address, mac);
    this.missingSince.delete(address);
  }
}
