// The three kinds of health check, each bounded by its own timeout. They run in the health worker
// threads (health-worker.ts) and go to the server's own address, never to the VIP.
import { spawn } from 'node:child_process';
import { toolEnv } from '../child-env.js';
import { request } from 'node:http';
import net from 'node:net';
import { hostPort } from '../../config/addresses.js';

export interface CheckTask {
  type: 'tcp' | 'http' | 'command';
  address: string;          // the real server's own address
  port: number;
  path: string;
  expectStatus: [number, number];
  command?: string;
  timeoutMs: number;
  service: string;          // for the command's environment
  vip: string;
}

export interface CheckResult {
  ok: boolean;
  message: string;          // what happened, for logs and `las status`
  durationMs: number;       // fractional (performance.now())
}

type Outcome = { ok: boolean; message: string };

/** Runs one check; never rejects, never outlives task.timeoutMs by more than the cleanup. */
export async function runCheck(task: CheckTask): Promise<CheckResult> {
  const started = performance.now(); // sub-millisecond: a check on the segment takes well under 1 ms
  let outcome: Outcome;
  try {
    switch (task.type) {
      case 'tcp':
        outcome = await tcpCheck(task);
        break;
      case 'http':
        outcome = await httpCheck(task);
        break;
      case 'command':
        outcome = await commandCheck(task);
        break;
      default:
        outcome = { ok: false, message: `unknown check type ${String((task as { type: unknown }).type)}` };
    }
  } catch (error) {
    outcome = { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
  return { ...outcome, durationMs: performance.now() - started };
}

function tcpCheck(task: CheckTask): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.createConnection({ host: task.address, port: task.port });
    const done = (outcome: Outcome) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done({ ok: false, message: `tcp ${hostPort(task.address, task.port)}: no connection within ${task.timeoutMs} ms` }), task.timeoutMs);
    socket.once('connect', () => done({ ok: true, message: `tcp ${hostPort(task.address, task.port)}: connected` }));
    socket.once('error', (error: NodeJS.ErrnoException) => done({ ok: false, message: `tcp ${hostPort(task.address, task.port)}: ${error.code ?? error.message}` }));
  });
}

function httpCheck(task: CheckTask): Promise<Outcome> {
  const where = `http://${hostPort(task.address, task.port)}${task.path}`;
  return new Promise((resolve) => {
    let settled = false;
    const done = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(outcome);
    };
    // One timer for connect, headers and body together.
    const timer = setTimeout(() => done({ ok: false, message: `GET ${where}: no complete answer within ${task.timeoutMs} ms` }), task.timeoutMs);
    const req = request(
      { host: task.address, port: task.port, path: task.path, method: 'GET', agent: false, headers: { 'user-agent': 'las-health-check', connection: 'close' } },
      (res) => {
        const status = res.statusCode ?? 0;
        const [lo, hi] = task.expectStatus;
        res.resume(); // the body is not judged; read it so the server can finish
        res.once('end', () => done({ ok: status >= lo && status <= hi, message: `GET ${where}: ${status}${status >= lo && status <= hi ? '' : ` (expected ${lo}-${hi})`}` }));
        res.once('error', (error: NodeJS.ErrnoException) => done({ ok: false, message: `GET ${where}: ${error.code ?? error.message}` }));
      },
    );
    req.once('error', (error: NodeJS.ErrnoException) => done({ ok: false, message: `GET ${where}: ${error.code ?? error.message}` }));
    req.end();
  });
}

function commandCheck(task: CheckTask): Promise<Outcome> {
  const command = task.command ?? 'false';
  return new Promise((resolve) => {
    // Its own process group, so a timeout kills the shell and whatever it started.
    const child = spawn('/bin/sh', ['-c', command], {
      detached: true,
      stdio: 'ignore',
      env: { ...toolEnv(), LAS_SERVER: task.address, LAS_PORT: String(task.port), LAS_SERVICE: task.service, LAS_VIP: task.vip },
    });
    let settled = false;
    const done = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const timer = setTimeout(() => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      done({ ok: false, message: `command for ${task.address}: still running after ${task.timeoutMs} ms (killed)` });
    }, task.timeoutMs);
    child.once('error', (error) => done({ ok: false, message: `command for ${task.address}: ${error.message}` }));
    child.once('exit', (code, signal) =>
      done(code === 0 ? { ok: true, message: `command for ${task.address}: exit 0` } : { ok: false, message: `command for ${task.address}: ${signal ? `killed by ${signal}` : `exit ${code}`}` }));
  });
}
