// Turns counters that should stay flat into log lines: a full flow table (new flows forwarded
// without an entry, so a later server change can move them), RX ring drops, frames too long for the
// egress interface, and frames the fanout handed the wrong worker.
import type { DataplaneStats } from '../native/binding.js';
import type { Logger } from './logger.js';

export class CounterWatch {
  private last = new Map<string, bigint>();

  /** egress: the interface forwarded frames leave by, and its MTU (named in the oversize line). */
  constructor(private readonly log: Logger, private readonly egress: { name: string; mtu: number }) {}

  check(stats: DataplaneStats): void {
    stats.workers.forEach((w, worker) => {
      const full = this.delta(`full/${worker}`, w.flowTableFull);
      if (full > 0n) {
        this.log.warn({ worker, increase: Number(full), total: Number(w.flowTableFull), flows: Number(w.flowsActive) },
          'flow table full: new flows forwarded without an entry (raise flowTable.capacity or lower flowTimeouts)');
      }
      const drops = this.delta(`ring/${worker}`, w.ringDrops);
      if (drops > 0n) {
        this.log.warn({ worker, increase: Number(drops), total: Number(w.ringDrops) }, 'RX ring drops: the kernel dropped frames (raise ring.blockCount or add workers)');
      }
      const oversize = this.delta(`oversize/${worker}`, w.drops.oversize ?? 0n);
      if (oversize > 0n) {
        this.log.warn({ worker, increase: Number(oversize), total: Number(w.drops.oversize), egressInterface: this.egress.name, mtu: this.egress.mtu },
          `frames longer than the MTU of ${this.egress.name} (${this.egress.mtu}) and not segmentable were dropped: give ${this.egress.name} the MTU of the ingress side`);
      }
      const wrong = this.delta(`wrong/${worker}`, w.wrongWorker);
      if (wrong > 0n) {
        this.log.warn({ worker, increase: Number(wrong), total: Number(w.wrongWorker) },
          'frames reached a worker that does not own their flow (expected only for an instant after a reload that changes a flow key)');
      }
    });
  }

  private delta(key: string, value: bigint): bigint {
    const before = this.last.get(key) ?? 0n;
    this.last.set(key, value);
    return value - before;
  }
}
