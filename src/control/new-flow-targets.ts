// Logs when a service loses (or regains) every server that can take new flows, and where its new
// flows go meanwhile: to the sorry server if it can take them, else nowhere (counted as no_server).
// Checked after every change of the published snapshot; only a change of a service's mode is logged.
import type { Logger } from './logger.js';
import type { ServerState } from './server-state.js';

type Mode = 'sorry' | 'dropped';

export class NewFlowTargetWatch {
  private readonly withoutServers = new Map<string, Mode>(); // services no server can take new flows for

  constructor(private readonly log: Logger) {}

  check(state: ServerState, macs: ReadonlyMap<string, string>): void {
    for (const svc of state.list()) {
      const name = svc.config.name;
      const sorry = svc.config.sorryServer?.address;
      const mode: Mode | undefined = state.hasServerForNewFlows(svc, macs) ? undefined : state.sorryReady(svc, macs) ? 'sorry' : 'dropped';
      if (mode === this.withoutServers.get(name)) continue;
      if (mode) {
        this.withoutServers.set(name, mode);
        this.log.warn({ service: name, sorryServer: sorry ?? null },
          mode === 'sorry' ? 'no server can take new flows (all down, drained or without ARP answer): new flows go to the sorry server'
            : 'no server can take new flows (all down, drained or without ARP answer): new flows are dropped and counted as no_server');
      } else {
        this.withoutServers.delete(name);
        this.log.info({ service: name }, 'a server can take new flows again');
      }
    }
    // A removed service is forgotten: added again later, it is judged afresh.
    for (const name of this.withoutServers.keys()) if (!state.service(name)) this.withoutServers.delete(name);
  }
}
