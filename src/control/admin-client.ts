// Client side of the admin socket (see admin-server.ts): one request per connection.
import net from 'node:net';

let nextId = 1;

/** Sends one command to the daemon and resolves with its result; rejects with a readable message. */
export function adminRequest(path: string, cmd: string, args: unknown = {}, timeoutMs = 3000): Promise<unknown> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(path);
    let buffered = '';
    let settled = false;
    const finish = (error: Error | undefined, result?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(result);
    };
    const timer = setTimeout(() => finish(new Error(`the las daemon on ${path} did not answer "${cmd}" within ${timeoutMs} ms`)), timeoutMs);

    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify({ id, cmd, args })}\n`));
    socket.on('error', (error: NodeJS.ErrnoException) => finish(connectProblem(path, error)));
    socket.on('close', () => finish(new Error(`the las daemon on ${path} closed the connection without answering "${cmd}"`)));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        let response: { id?: unknown; ok?: unknown; result?: unknown; error?: unknown };
        try {
          response = JSON.parse(line) as typeof response;
        } catch {
          return finish(new Error(`the process on ${path} answered something that is not JSON: is it a las daemon?`));
        }
        if (response.id !== id && response.id !== null) continue; // not ours
        if (response.ok === true) return finish(undefined, response.result);
        return finish(new Error(`${cmd}: ${typeof response.error === 'string' ? response.error : 'the daemon reported an error'}`));
      }
    });
  });
}

function connectProblem(path: string, error: NodeJS.ErrnoException): Error {
  let message: string;
  switch (error.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      message = `no las daemon is listening on ${path}: is \`las run\` running? pass --socket or --config`;
      break;
    case 'EACCES':
    case 'EPERM':
      message = `permission denied on ${path}: the admin socket is for root and its adminSocketGroup, if set; run this command as root (sudo) or as a member of that group`;
      break;
    case 'ENOTSOCK':
      message = `${path} is not a socket: pass the daemon's adminSocket with --socket or --config`;
      break;
    default:
      message = `cannot reach the las daemon on ${path}: ${error.message}`;
  }
  return Object.assign(new Error(message), { code: error.code });
}

export interface AdminStreamHandle {
  /** Resolves when the stream ends (close(), or the daemon ended it); rejects if the command was refused. */
  done: Promise<void>;
  close(): void;
}

/**
 * A streaming command (`las trace`): the first answer is the usual response (its result goes to
 * onStart, within timeoutMs), then every further line of the same id goes to onLine until close()
 * or the daemon hangs up.
 */
export function adminStream(
  path: string, cmd: string, args: unknown, onStart: (result: unknown) => void, onLine: (line: Record<string, unknown>) => void, timeoutMs = 3000,
): AdminStreamHandle {
  const id = nextId++;
  const socket = net.createConnection(path);
  let started = false;
  let settled = false;
  let resolveDone!: () => void;
  let rejectDone!: (error: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  const finish = (error?: Error) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.destroy();
    if (error) rejectDone(error);
    else resolveDone();
  };
  const timer = setTimeout(() => finish(new Error(`the las daemon on ${path} did not answer "${cmd}" within ${timeoutMs} ms`)), timeoutMs);
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('connect', () => socket.write(`${JSON.stringify({ id, cmd, args })}\n`));
  socket.on('error', (error: NodeJS.ErrnoException) => finish(started ? undefined : connectProblem(path, error)));
  socket.on('close', () => finish(started ? undefined : new Error(`the las daemon on ${path} closed the connection without answering "${cmd}"`)));
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while (!settled && (newline = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return finish(new Error(`the process on ${path} answered something that is not JSON: is it a las daemon?`));
      }
      if (line.id !== id && line.id !== null) continue;
      if (!started) {
        if (line.ok !== true) return finish(new Error(`${cmd}: ${typeof line.error === 'string' ? line.error : 'the daemon reported an error'}`));
        started = true;
        clearTimeout(timer);
        onStart(line.result);
        continue;
      }
      onLine(line);
    }
  });
  return { done, close: () => finish() };
}
