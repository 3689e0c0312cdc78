// The closed lists of values the config accepts. The ones the fast path also knows (schedulers,
// flow keys, tx modes) come from src/native/contract.ts, which checks them against the addon's own.
import { FLOW_KEYS, SCHEDULERS, TX_MODES as NATIVE_TX_MODES } from '../native/contract.js';

export { FLOW_KEYS, SCHEDULERS };
export const PROTOCOLS = ['tcp', 'udp'] as const;
/** "auto" is resolved by the daemon (control/tx-mode.ts); the others go to the addon as they are. */
export const TX_MODES = ['auto', ...NATIVE_TX_MODES] as const;
export const INGRESS_DROP_MODES = ['tc', 'none'] as const;
export const HEALTH_CHECK_TYPES = ['tcp', 'http', 'command'] as const;
export const ON_SERVER_DOWN = ['reschedule', 'keep'] as const;
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export const FLOW_TIMEOUT_KEYS = ['tcpEstablished', 'tcpSynRecv', 'tcpFinWait', 'tcpClose', 'tcpLastAck', 'udp'] as const;
