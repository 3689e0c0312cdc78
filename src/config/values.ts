// The closed lists of values the config accepts. One place, named, so that the lists the fast path
// also knows (schedulers, flow keys, tx modes) can later be checked against the addon's own.
export const SCHEDULERS = ['maglev', 'wrr', 'rr', 'wlc', 'sh'] as const;
export const FLOW_KEYS = ['addresses', '5tuple'] as const;
export const PROTOCOLS = ['tcp', 'udp'] as const;
/** "auto" is resolved by the daemon (control/tx-mode.ts); the others go to the addon as they are. */
export const TX_MODES = ['auto', 'ring', 'send', 'sendmmsg'] as const;
export const INGRESS_DROP_MODES = ['tc', 'none'] as const;
export const HEALTH_CHECK_TYPES = ['tcp', 'http', 'command'] as const;
export const ON_SERVER_DOWN = ['reschedule', 'keep'] as const;
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export const FLOW_TIMEOUT_KEYS = ['tcpEstablished', 'tcpSynRecv', 'tcpFinWait', 'tcpClose', 'tcpLastAck', 'udp'] as const;
