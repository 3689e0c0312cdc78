// What scrapers of the metrics listener may cost (documented in docs/hardening.md), and the
// messages between the daemon and the listener thread.
export const METRICS_LIMITS = {
  maxConnections: 32,          // past this, a new connection evicts an idle or stuck one
  maxPipelined: 4,             // requests waiting per connection; more: cut off (Prometheus sends one at a time)
  headersTimeoutMs: 5_000,     // a request's headers must arrive within this
  requestTimeoutMs: 10_000,    // a whole request must arrive within this
  keepAliveTimeoutMs: 5_000,   // an idle keep-alive connection is closed after this
  idleTimeoutMs: 10_000,       // a connection on which nothing moves (a client that never reads) is closed after this
  maxRequestsPerSocket: 1000,  // then the connection is closed and the scraper reconnects
  renderTimeoutMs: 5_000,      // the daemon must hand over the text within this, else 503
};
export type MetricsLimits = typeof METRICS_LIMITS;

/** What the listener asks the main thread for: the metrics text, or the status page's current state. */
export type RenderWhat = 'metrics' | 'status';

export type WorkerMessage =
  | { type: 'listening'; port: number }
  | { type: 'listen-error'; code: string }
  | { type: 'render'; what: RenderWhat };

export type MainMessage =
  | { type: 'text'; what: RenderWhat; text: string; contentType: string }
  | { type: 'error'; what: RenderWhat; error: string }
  // A new sample of the status page's history (status-history.ts): the listener keeps the window,
  // so a page asking for it costs the main thread nothing.
  | { type: 'history'; point: string; seq: number };
