// The daemon's admin socket: a Unix stream socket speaking newline-delimited JSON.
//   request  {"id":1,"cmd":"stats","args":{}}
//   response {"id":1,"ok":true,"result":...} | {"id":1,"ok":false,"error":"..."}
// Access control is the file mode (root only by default): anyone who can connect can command.
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import net from 'node:net';
import { dirname } from 'node:path';

export type AdminHandler = (args: unknown) => unknown | Promise<unknown>;
export type AdminHandlers = Record<string, AdminHandler>;

export interface AdminServer {
  /** Changes the socket file's mode (adminSocketMode on reload). */
  setMode(mode: number): Promise<void>;
  close(): Promise<void>;
}

export const MAX_LINE_BYTES = 64 * 1024;

type Response = { id: unknown; ok: true; result: unknown } | { id: unknown; ok: false; error: string };

/** JSON with bigint counters as decimal strings (JSON has no 64-bit integers). */
export function encodeJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

export async function startAdminServer(path: string, handlers: AdminHandlers, options: { mode?: number } = {}): Promise<AdminServer> {
  const mode = options.mode ?? 0o600;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await clearStaleSocket(path);

  const connections = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    serveConnection(socket, handlers);
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
  await chmod(path, mode);

  let closing: Promise<void> | undefined;
  return {
    setMode: (next) => chmod(path, next),
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of connections) socket.destroy();
      }).then(() => unlink(path).catch(() => undefined));
      return closing;
    },
  };
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

function serveConnection(socket: net.Socket, handlers: AdminHandlers): void {
  let buffered = '';
  let queue = Promise.resolve(); // one request at a time per connection: responses keep request order
  const send = (response: Response) => {
    if (socket.destroyed) return;
    let line: string;
    try {
      line = encodeJson(response);
    } catch (error) {
      // A handler returned something JSON cannot carry (a cycle): report it, keep serving.
      line = encodeJson({ id: response.id, ok: false, error: `cannot encode the result: ${(error as Error).message}` });
    }
    socket.write(`${line}\n`);
  };

  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy()); // a client hanging up mid-response is not our problem
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (Buffer.byteLength(line) > MAX_LINE_BYTES) return refuseLongLine();
      if (line.trim() !== '') queue = queue.then(() => handleLine(line, handlers).then(send));
    }
    if (Buffer.byteLength(buffered) > MAX_LINE_BYTES) refuseLongLine();
  });

  function refuseLongLine(): void {
    buffered = '';
    queue = queue.then(() => {
      send({ id: null, ok: false, error: `request line longer than ${MAX_LINE_BYTES} bytes` });
      socket.end();
    });
    socket.pause(); // read nothing more from a client that ignores the protocol
  }
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
  if (!handler) return { id, ok: false, error: `unknown command "${cmd}"; known: ${Object.keys(handlers).sort().join(', ')}` };
  try {
    return { id, ok: true, result: (await handler(args)) ?? null };
  } catch (error) {
    return { id, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}
