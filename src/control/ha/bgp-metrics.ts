// ha.mode "bgp" on /metrics: what one dispatcher can tell about its own announcements, for the
// alerts in deploy/prometheus/las-alerts.yml (its speaker died, a router is not peered, a drain left on).
import type { AnnouncerStatus } from './bgp-announcer.js';

type GaugeFactory = (name: string, help: string, labelNames: string[], fill: (set: (labels: Record<string, string>, value: number) => void) => void) => unknown;

export function bgpGauges(gauge: GaugeFactory, status: () => AnnouncerStatus | undefined): void {
  gauge('las_bgp_speaker_up', 'ha.mode "bgp": 1 while the BGP speaker (BIRD) LAS started runs, 0 once it failed or died (nothing is announced then)', [], (set) => {
    const s = status();
    if (s) set({}, s.speaker.running ? 1 : 0);
  });
  gauge('las_bgp_peer_established', 'ha.mode "bgp": 1 while the session to this peer (ha.bgp.peers) is Established', ['peer'], (set) => {
    for (const p of status()?.peers ?? []) set({ peer: p.address }, p.established ? 1 : 0);
  });
  gauge('las_bgp_announced_prefixes', 'ha.mode "bgp": VIP prefixes the speaker was last told to announce', [], (set) => {
    const s = status();
    if (s) set({}, s.announced.prefixes.length);
  });
  gauge('las_bgp_drained', 'ha.mode "bgp": 1 while `las drain` keeps every VIP withdrawn', [], (set) => {
    const s = status();
    if (s) set({}, s.drained ? 1 : 0);
  });
}
