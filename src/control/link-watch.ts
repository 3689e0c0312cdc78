// Logs when an interface LAS uses goes down and when it is back. Nothing needs restarting: the
// packet sockets stay bound to the interface and receive again once it is up; this only tells the
// operator why nothing is forwarded meanwhile.
import { readFile } from 'node:fs/promises';
import type { Logger } from './logger.js';

// operstate "unknown": drivers that do not report carrier (dummy, some tunnels) are usable.
const USABLE = new Set(['up', 'unknown']);

export class LinkWatch {
  private readonly last = new Map<string, string>();

  constructor(private readonly log: Logger, private readonly names: string[]) {}

  async check(): Promise<void> {
    for (const name of this.names) {
      const state = (await readFile(`/sys/class/net/${name}/operstate`, 'utf8').catch(() => 'missing')).trim();
      const before = this.last.get(name) ?? 'up';
      this.last.set(name, state);
      if (USABLE.has(state) === USABLE.has(before)) continue;
      if (USABLE.has(state)) this.log.info({ interface: name }, 'interface is up again: receiving and forwarding');
      else this.log.warn({ interface: name, operstate: state }, 'interface is down: nothing is received or forwarded on it until it is up');
    }
  }
}
