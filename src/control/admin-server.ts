// The daemon's admin socket: a Unix stream socket speaking newline-delimited JSON.
//   request  {"id":1,"cmd":"stats","args":{}}
//   response {"id":1,"ok":true,"result":...} | {"id":1,"ok":false,"error":"..."}
// Access control is the file mode and group (root only by default): anyone who can connect can
// command. Every client is bounded (see ADMIN_LIMITS): a client that floods, never reads or idles
// costs the daemon a fixed amount of memory and is cut off, never the whole control plane.
import { chmod, chown, lstat, mkdir, unlink } from 'node:fs/promises';
import net from 'node:net';
import { dirname } from 'node:path';

export type AdminHandler = (args: unknown) => unknown | Promise<unknown>;

/** More lines for a streaming reply, each {"id":..., ...line}; ready() is false while the client lags. */
export interface AdminStreamSink {
  ready(): boolean;
  send(lines: unknown[]): void;
  end(line: unknown): void;
}

/**
 * A handler's answer that keeps the connection open (`las trace`): start() runs first (it may throw:
 * an error answer), then the usual ok response carries `result`, then the stream's own lines follow
 * until the client goes away, which calls the function start() returned. The connection takes no
 * more requests, has no idle timeout, is never evicted, and is cut off when it stops reading for
 * replyStallMs.
 */
export class AdminStream {
  constructor(readonly result: unknown, readonly start: (sink: AdminStreamSink) => () => void) {}
}
export type AdminHandlers = Record<string, AdminHandler>;

export interface AdminServer {
  /** Changes the socket file's mode (adminSocketMode on reload). */
  setMode(mode: number): Promise<void>;
  /** Changes the socket file's group (adminSocketGroup on reload; undefined: the daemon's own). */
  setGroup(gid: number | undefined): Promise<void>;
  /** Open connections, for tests and the status. */
  connections(): number;
  close(): Promise<void>;
}

export const MAX_LINE_BYTES = 64 * 1024;

/** What one client may cost; each is documented in docs/hardening.md. */
export interface AdminLimits {
  maxLineBytes: number;        // a request line longer than this: error answer, then cut off
  maxConnections: number;      // past this, a new client evicts the longest-idle one
  idleTimeoutMs: number;       // a connection with no request and no reply moving this long is closed
  maxBufferedBytes: number;    // unread request bytes held per connection; past it, reading pauses
  maxPendingReplyBytes: number; // unsent reply bytes per connection; past it, no request is handled until they drain
  replyStallMs: number;        // replies that do not drain within this: the client does not read, cut off
}

/** Requests handled back to back before the pump lets other clients and timers run. */
const REQUESTS_PER_TURN = 32;

export const ADMIN_LIMITS: AdminLimits = {
  maxLineBytes: MAX_LINE_BYTES,
  maxConnections: 64,
  idleTimeoutMs: 60_000,
  maxBufferedBytes: 4 * MAX_LINE_BYTES,
  maxPendingReplyBytes: 256 * 1024,
  replyStallMs: 10_000,
};

type Response = { id: unknown; ok: true; result: unknown } | { id: unknown; ok: false; error: string };

/** JSON with bigint counters as decimal strings (JSON has no 64-bit integers). */
function encodeJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

export interface AdminServerOptions {
  mode?: number;
  gid?: number;                 // adminSocketGroup, resolved
  limits?: Partial<AdminLimits>;
}

interface Connection {
  socket: net.Socket;
  busy: boolean;                // a request is being handled or its reply is waiting to drain
  lastActive: number;
}

export async function startAdminServer(path: string, handlers: AdminHandlers, options: AdminServerOptions = {}): Promise<AdminServer> {
  const mode = options.mode ?? 0o600;
  const limits = { ...ADMIN_LIMITS, ...options.limits };
  await prepareDirectory(dirname(path), options.gid);
  await clearStaleSocket(path);

  const connections = new Set<Connection>();
  const server = net.createServer((socket) => {
    if (connections.size >= limits.maxConnections) evictOne(connections, socket);
    if (socket.destroyed) return;
    const connection: Connection = { socket, busy: false, lastActive: Date.now() };
    connections.add(connection);
    socket.on('close', () => connections.delete(connection));
    serveConnection(connection, handlers, limits);
  });

  // bind() creates the socket file with the umask's mode; narrowing the umask around it closes
  // the window before chmod in which another user could connect.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(umask);
  }
  // Group before mode: the group bits never apply to the daemon's own group by accident.
  if (options.gid !== undefined) await chown(path, process.getuid?.() ?? 0, options.gid);
  await chmod(path, mode);

  let closing: Promise<void> | undefined;
  return {
    setMode: (next) => chmod(path, next),
    async setGroup(gid) {
      await prepareDirectory(dirname(path), gid);
      await chown(path, process.getuid?.() ?? 0, gid ?? process.getgid?.() ?? 0);
    },
    connections: () => connections.size,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const c of connections) c.socket.destroy();
      }).then(() => unlink(path).catch(() => undefined));
      return closing;
    },
  };
}

/**
 * Makes room for a new client: the longest-idle connection goes, so a pile of idle clients can
 * never lock the operator out. If every connection is busy the newcomer is refused instead.
 */
function evictOne(connections: Set<Connection>, newcomer: net.Socket): void {
  let oldest: Connection | undefined;
  for (const c of connections) if (!c.busy && (!oldest || c.lastActive < oldest.lastActive)) oldest = c;
  if (oldest) {
    oldest.socket.destroy();
    connections.delete(oldest);
    return;
  }
  newcomer.on('error', () => newcomer.destroy()); // it may have hung up already: never an unhandled 'error'
  newcomer.end(`${encodeJson({ id: null, ok: false, error: `too many admin connections (${connections.size}), all busy; try again` })}\n`);
  newcomer.destroySoon();
}

/**
 * The socket's directory: created 0700 (0750 and the group's, with adminSocketGroup). An existing
 * one is left as it is, but the group must be able to search it (only the socket's own directory
 * is checked: its parents, like /run, are normally searchable by everyone).
 */
async function prepareDirectory(dir: string, gid: number | undefined): Promise<void> {
  const created = await mkdir(dir, { recursive: true, mode: gid === undefined ? 0o700 : 0o750 });
  if (gid === undefined) return;
  if (created !== undefined) {
    // Every directory created here, from the socket's up to the first one mkdir made.
    for (let d = dir; ; d = dirname(d)) {
      await chown(d, process.getuid?.() ?? 0, gid);
      await chmod(d, 0o750);
      if (d === created || d === dirname(d)) break;
    }
    return;
  }
  const st = await lstat(dir);
  const searchable = (st.mode & 0o001) !== 0 || (st.gid === gid && (st.mode & 0o010) !== 0);
  if (!searchable) {
    throw new Error(`"adminSocketGroup": members of gid ${gid} cannot reach the socket because its directory ${dir} is mode ${(st.mode & 0o777).toString(8).padStart(4, '0')} group ${st.gid}; run \`chgrp ${gid} ${dir} && chmod 0750 ${dir}\` or remove the directory (the daemon then creates it)`);
  }
}

/** Removes a socket file left by a daemon that died; refuses if a daemon still answers on it. */
async function clearStaleSocket(path: string): Promise<void> {
  let stat;
  try {
    stat = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  // Never unlink something that is not a socket: adminSocket may point at a file by mistake.
  if (!stat.isSocket()) throw new Error(`${path} exists and is not a socket; remove it or set another "adminSocket"`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false)); // ECONNREFUSED: nobody listens, the file is stale
  });
  if (alive) throw new Error(`another las daemon is already listening on ${path}`);
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

/**
 * One connection: requests are handled one at a time, in order. Bytes are kept as a Buffer until
 * a whole line is there, so an endless line is refused by its length, never decoded. Reading
 * pauses while too many bytes wait, and no request is handled while its predecessors' replies
 * are unsent: a client that writes and never reads stops being read, then is cut off.
 */
function serveConnection(connection: Connection, handlers: AdminHandlers, limits: AdminLimits): void {
  const { socket } = connection;
  let buffered: Buffer = Buffer.alloc(0);
  let pumping = false;
  let refused = false;
  let streaming = false;

  socket.setTimeout(limits.idleTimeoutMs, () => socket.destroy());
  socket.on('error', () => socket.destroy()); // a client hanging up mid-response is not our problem
  socket.on('data', (chunk: Buffer) => {
    if (refused || streaming) return; // a streaming client has nothing more to ask: its bytes are ignored
    connection.lastActive = Date.now();
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    if (buffered.length >= limits.maxBufferedBytes) socket.pause();
    void pump();
  });

  const send = (response: Response): boolean => {
    let line: string;
    try {
      line = encodeJson(response);
    } catch (error) {
      // A handler returned something JSON cannot carry (a cycle): report it, keep serving.
      line = encodeJson({ id: response.id, ok: false, error: `cannot encode the result: ${(error as Error).message}` });
    }
    socket.write(`${line}\n`);
    return socket.writableLength <= limits.maxPendingReplyBytes;
  };

  /** Resolves when the unsent replies are below the bound; false if the client does not read them in time. */
  const drained = () => new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    const timer = setTimeout(() => done(false), limits.replyStallMs);
    socket.on('drain', onDrain);
    socket.on('close', onClose);
  });

  const refuse = (error: string) => {
    refused = true;
    buffered = Buffer.alloc(0);
    socket.pause(); // read nothing more from a client that ignores the protocol
    send({ id: null, ok: false, error });
    socket.end();
    // end() waits for the reply to be read; a client that never reads is not waited for long.
    setTimeout(() => socket.destroy(), limits.replyStallMs).unref();
  };

  async function pump(): Promise<void> {
    if (pumping) return;
    pumping = true;
    let handled = 0;
    try {
      while (!socket.destroyed && !refused) {
        const newline = buffered.indexOf(0x0a);
        const lineLength = newline < 0 ? buffered.length : newline;
        if (lineLength > limits.maxLineBytes) return refuse(`request line longer than ${limits.maxLineBytes} bytes`);
        if (newline < 0) break;
        const line = buffered.subarray(0, newline).toString('utf8');
        buffered = buffered.subarray(newline + 1);
        if (line.trim() === '') continue;
        connection.busy = true;
        let response = await handleLine(line, handlers);
        connection.lastActive = Date.now();
        if (socket.destroyed) break;
        if (response.ok && response.result instanceof AdminStream) {
          const stream = response.result;
          try {
            const stop = stream.start(streamSink(socket, response.id, limits));
            streaming = true;
            buffered = Buffer.alloc(0);
            socket.setTimeout(0);
            socket.once('close', stop);
            send({ id: response.id, ok: true, result: stream.result ?? null });
            break;
          } catch (error) {
            response = { id: response.id, ok: false, error: error instanceof Error ? error.message : String(error) };
          }
        }
        if (!send(response) && !(await drained())) {
          socket.destroy(); // replies pile up unread: cut off before they cost more
          break;
        }
        connection.busy = false;
        // Handlers that answer at once would otherwise run a whole buffer of requests in one turn.
        if (++handled % REQUESTS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      // Everything complete is handled: read again (also after a pause for too many bytes).
      if (!socket.destroyed && !refused && socket.isPaused()) socket.resume();
    } finally {
      connection.busy = streaming;
      pumping = false;
    }
  }
}

function streamSink(socket: net.Socket, id: unknown, limits: AdminLimits): AdminStreamSink {
  let stalledSince: number | undefined;
  const line = (value: unknown) => encodeJson({ id, ...(value as object) });
  return {
    ready() {
      if (socket.destroyed) return false;
      if (socket.writableLength <= limits.maxPendingReplyBytes) {
        stalledSince = undefined;
        return true;
      }
      stalledSince ??= Date.now();
      if (Date.now() - stalledSince > limits.replyStallMs) socket.destroy(); // it stopped reading
      return false;
    },
    send(lines) {
      if (!socket.destroyed && lines.length > 0) socket.write(`${lines.map(line).join('\n')}\n`);
    },
    end(value) {
      if (socket.destroyed) return;
      socket.end(`${line(value)}\n`);
      setTimeout(() => socket.destroy(), limits.replyStallMs).unref();
    },
  };
}

async function handleLine(line: string, handlers: AdminHandlers): Promise<Response> {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch (error) {
    return { id: null, ok: false, error: `malformed JSON request: ${(error as Error).message}` };
  }
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    return { id: null, ok: false, error: 'a request must be an object like {"id":1,"cmd":"stats","args":{}}' };
  }
  const { id = null, cmd, args = {} } = request as { id?: unknown; cmd?: unknown; args?: unknown };
  if (typeof cmd !== 'string') return { id, ok: false, error: 'missing "cmd" (a string naming the command)' };
  // hasOwn: "toString" or "__proto__" must not reach Object.prototype.
  const handler = Object.hasOwn(handlers, cmd) ? handlers[cmd] : undefined;
  if (!handler) return { id, ok: false, error: `unknown command "${cmd.slice(0, 64)}"; known: ${Object.keys(handlers).sort().join(', ')}` };
  try {
    return { id, ok: true, result: (await handler(args)) ?? null };
  } catch (error) {
    return { id, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}
