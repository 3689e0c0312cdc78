// Readiness for systemd (`Type=notify`, deploy/las.service): READY=1 once the daemon serves,
// RELOADING=1 then READY=1 around a reload, STOPPING=1 on the way out, STATUS= lines for
// `systemctl status`. Started without $NOTIFY_SOCKET (by hand, by the tests) it sends nothing.
import type { Logger } from './logger.js';

export type SendDatagram = (socketPath: string, message: string) => void;

export class SystemdNotifier {
  private constructor(private readonly socketPath: string | undefined, private readonly send: SendDatagram, private readonly log: Logger) {}

  /**
   * Takes $NOTIFY_SOCKET out of the environment (as sd_notify(3)'s unset_environment does), so the
   * programs the daemon starts (tc, command health checks) cannot speak for it.
   */
  static fromEnv(send: SendDatagram, log: Logger, env: NodeJS.ProcessEnv = process.env): SystemdNotifier {
    const socketPath = env.NOTIFY_SOCKET || undefined;
    delete env.NOTIFY_SOCKET;
    return new SystemdNotifier(socketPath, send, log);
  }

  get enabled(): boolean {
    return this.socketPath !== undefined;
  }

  /** The packet sockets are open, the ingress drop is in place and the admin socket listens. */
  ready(status: string): void {
    this.notify(['READY=1', `STATUS=${status}`]);
  }

  /** Runs a reload between RELOADING=1 and READY=1; a refused reload is ready too (the running config stays). */
  async reloading<T>(apply: () => Promise<T>): Promise<T> {
    // systemd wants the CLOCK_MONOTONIC time of the reload's start; hrtime is that clock on Linux.
    this.notify(['RELOADING=1', `MONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`, 'STATUS=reloading the config']);
    try {
      const result = await apply();
      this.ready(`reloaded at ${new Date().toISOString()}`);
      return result;
    } catch (error) {
      const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
      this.ready(`reload refused, the running config stays: ${reason}`);
      throw error;
    }
  }

  stopping(): void {
    this.notify(['STOPPING=1', 'STATUS=stopping']);
  }

  private notify(lines: string[]): void {
    if (this.socketPath === undefined) return;
    try {
      // One line per field: a newline inside a STATUS text would start a field of its own.
      this.send(this.socketPath, lines.map((l) => l.replace(/[\r\n]+/g, ' ')).join('\n'));
    } catch (error) {
      // Readiness is systemd's business: a lost datagram must never stop the dispatcher.
      this.log.warn({ err: error, notifySocket: this.socketPath, message: lines[0] }, 'could not notify systemd');
    }
  }
}
