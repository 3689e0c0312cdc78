// Structured JSON logs (pino) on stdout: one line per state change, readable by journald and jq.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({ level, base: { svc: 'las' }, timestamp: pino.stdTimeFunctions.isoTime });
}
