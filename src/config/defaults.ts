// The value of every key the config may leave out.
export const DEFAULTS = {
  workers: 1,
  txMode: 'auto',
  ingressDrop: 'tc',
  gratuitousArp: true,
  flowTable: { capacity: 1_048_576 }, // idleTimeout: the largest flowTimeouts value
  // IPVS's defaults (ipvsadm --set and the per-state table), seconds.
  flowTimeouts: { tcpEstablished: 900, tcpSynRecv: 60, tcpFinWait: 120, tcpClose: 10, tcpLastAck: 30, udp: 300 },
  ring: { blockSize: 1_048_576, blockCount: 32, frameSize: 'auto' as const, retireTimeoutMs: 10 },
  neighbourRefresh: 5,
  adminSocket: '/run/las/admin.sock',
  adminSocketMode: '0600',
  metricsListen: '127.0.0.1:9477',
  drainOnRemove: true,
  drainTimeout: 300,
  logLevel: 'info',
  haMode: 'none',
  port: 0,
  protocol: 'tcp',
  flowKey: '5tuple',
  scheduler: 'maglev',
  maglevTableSize: 65_537,
  weight: 1,
  onServerDown: 'reschedule',
  healthCheck: { type: 'tcp', path: '/', expectStatus: [200, 399], interval: 2, timeout: 1, rise: 2, fall: 3, flapWindow: 60, flapThreshold: 4 },
} as const;
