// What the metrics tell about reloads, like Prometheus's own prometheus_config_last_reload_successful
// and _success_timestamp_seconds: counts by result, whether the last one took, and when the running
// config was last loaded. The start counts as a successful load, so the timestamp is never 0.
export class ReloadRecord {
  ok = 0;
  refused = 0;
  lastOk = true;
  lastSuccessMs: number;

  constructor(startedMs = Date.now()) {
    this.lastSuccessMs = startedMs;
  }

  record(ok: boolean, nowMs = Date.now()): void {
    this.lastOk = ok;
    if (ok) {
      this.ok++;
      this.lastSuccessMs = nowMs;
    } else {
      this.refused++;
    }
  }
}
