// Hostile local clients of the admin socket and the metrics listener: a writer that keeps writing
// until the server cuts it off, never reading, and a bounded wait for that cut-off.
import type net from 'node:net';

/**
 * Writes `chunk` up to `max` times, waiting for 'drain' when the kernel is full, until the server
 * closes; returns how many chunks it got rid of (bounded: the server takes at most that much).
 */
export async function writeUntilCutOff(socket: net.Socket, chunk: Buffer, max: number): Promise<number> {
  let taken = 0;
  while (!socket.destroyed && taken < max) {
    taken++;
    if (socket.write(chunk)) continue;
    const closed = await new Promise<boolean>((resolve) => {
      const onDrain = () => done(false);
      const onClose = () => done(true);
      const done = (c: boolean) => {
        socket.off('drain', onDrain).off('close', onClose);
        resolve(c);
      };
      socket.on('drain', onDrain).on('close', onClose);
    });
    if (closed) break;
  }
  return taken;
}

/** Resolves true when the socket is closed (by the server), false if it is still open after `ms`. */
export function closedWithin(socket: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
