// The two timers that keep the servers' MACs current while the daemon runs: every RETRY_MS the
// servers that have not answered ARP yet are asked again, every neighbourRefresh s the resolved
// ones are asked again by broadcast ARP (a changed MAC is followed). Either one that learns a MAC
// calls onChange, which republishes the snapshot.
import type { Logger } from './logger.js';
import { RETRY_MS, type ServerMacs } from './server-macs.js';

type Kind = 'refresh' | 'retry';

export class NeighbourRefresh {
  private refreshTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private readonly busy: Record<Kind, boolean> = { refresh: false, retry: false }; // a slow `ip` must not stack ticks

  /** wanted: the servers of the running config that need a MAC (read on every tick: a reload changes them). */
  constructor(
    private readonly macs: ServerMacs,
    private readonly wanted: () => string[],
    private readonly onChange: () => void,
    private readonly log: Logger,
  ) {}

  start(refreshSeconds: number): void {
    this.setRefreshInterval(refreshSeconds);
    this.retryTimer = setInterval(() => void this.retryUnresolved(), RETRY_MS);
    this.retryTimer.unref();
  }

  /** neighbourRefresh changed on a reload: the next refresh comes a whole new interval from now. */
  setRefreshInterval(seconds: number): void {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.refreshTimer = setInterval(() => void this.refreshMacs(), seconds * 1000);
    this.refreshTimer.unref();
  }

  stop(): void {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.retryTimer) clearInterval(this.retryTimer);
  }

  /** Re-asks resolved servers by broadcast ARP, so a changed MAC is followed. */
  private async refreshMacs(): Promise<void> {
    await this.tick('refresh', () => this.macs.refresh(this.wanted()));
  }

  /** Asks servers that have not answered ARP yet; one that answers is published (up if healthy). */
  private async retryUnresolved(): Promise<void> {
    await this.tick('retry', () => this.macs.retry(this.wanted()));
  }

  private async tick(kind: Kind, ask: () => Promise<string[]>): Promise<void> {
    if (this.busy[kind]) return;
    this.busy[kind] = true;
    try {
      if ((await ask()).length > 0) this.onChange();
    } catch (error) {
      this.log.warn({ err: error }, `neighbour ${kind} failed`);
    } finally {
      this.busy[kind] = false;
    }
  }
}
