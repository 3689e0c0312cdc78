// Turns counters that should stay flat into log lines: a full flow table (new flows forwarded
// without an entry, so a later server change can move them) and RX ring drops.
import type { DataplaneStats } from '../native/binding.js';
import type { Logger } from './logger.js';

export class CounterWatch {
  private last = new Map<string, bigint>();

  constructor(private readonly log: Logger) {}

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
    });
  }

  private delta(key: string, value: bigint): bigint {
    const before = this.last.get(key);
    this.last.set(key, value);
    return before === undefined ? 0n : value - before;
  }
}
