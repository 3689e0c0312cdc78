// A real sd_notify receiver for the tests: a unix datagram socket bound at a path (or an abstract
// "@name") by a small python3 program (Node cannot receive unix datagrams), which prints each
// datagram as one JSON line, so datagram boundaries survive. Plays systemd's part of the protocol.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ensureCommand } from '../../src/netns/ensure-package.js';
import { OutputTail, stopProcess } from '../../src/demo/processes.js';
import { waitFor } from './control.js';

const RECEIVER = `
import json, socket, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\\0" + path[1:] if path.startswith("@") else path)
print(json.dumps({"bound": path}), flush=True)
while True:
    data = s.recv(65536)
    print(json.dumps(data.decode("utf-8", "replace")), flush=True)
`;

export interface NotifyReceiver {
  path: string;
  /** Every datagram so far, in arrival order. */
  messages(): string[];
  /** Waits (bounded) until the datagram at index `from` or later satisfies `match`; returns its index. */
  next(what: string, match: (message: string) => boolean, from: number, timeoutMs?: number): Promise<number>;
  close(): Promise<void>;
}

/** Binds `path` ("/run/…/notify.sock" or "@name") and resolves once the socket is bound. */
export async function startNotifyReceiver(path: string): Promise<NotifyReceiver> {
  await ensureCommand('python3', 'python3-minimal');
  const child = spawn('python3', ['-c', RECEIVER, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout = new OutputTail();
  const stderr = new OutputTail();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => stdout.push(chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const lines = () => String(stdout).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as unknown);
  const receiver: NotifyReceiver = {
    path,
    messages: () => lines().filter((l): l is string => typeof l === 'string'),
    async next(what, match, from, timeoutMs = 20_000) {
      let found = -1;
      await waitFor(what, () => {
        found = receiver.messages().findIndex((m, i) => i >= from && match(m));
        return found >= 0;
      }, timeoutMs, () => ({ received: receiver.messages(), receiverStderr: String(stderr) }));
      return found;
    },
    close: async () => { await stopProcess(child, 2000); },
  };
  try {
    await waitFor('the notify receiver bound its socket', () => lines().length > 0 || child.exitCode !== null, 10_000);
    assert.equal(child.exitCode, null, `the notify receiver exited: ${String(stderr)}`);
  } catch (error) {
    await receiver.close();
    throw error;
  }
  return receiver;
}

/** The fields of one sd_notify message ("READY=1\nSTATUS=x" → { READY: "1", STATUS: "x" }). */
export function notifyFields(message: string): Record<string, string> {
  return Object.fromEntries(message.split('\n').filter((l) => l !== '').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}
