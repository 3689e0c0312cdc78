// Structured JSON logs (pino) on stdout: one line per state change, readable by journald and jq.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Levels are written by name ("level":"warn"), not pino's numbers (40), so `journalctl -o cat` and
 * `jq 'select(.level == "warn")'` read them without a lookup table.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { svc: 'las' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}
