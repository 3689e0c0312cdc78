// The suite's side of an agent (bench/agent.ts): start it in a namespace, send requests, stop it.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnInNs } from '../src/netns/namespace.js';
import { OutputTail, stopProcess } from '../src/demo/processes.js';
import { decode, encode, type Response } from './wire.js';

const AGENT_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'agent.js');

export class Agent {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private readonly stderr = new OutputTail(16 * 1024);
  private exitedWith: string | undefined;

  private constructor(readonly ns: string, readonly role: string, readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(line));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => this.stderr.push(chunk));
    child.once('exit', (code, signal) => {
      this.exitedWith = `exited (${code ?? signal})`;
      for (const [, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new Error(`the ${role} agent in ${ns} ${this.exitedWith}: ${String(this.stderr).trim().slice(-2000)}`));
      }
      this.pending.clear();
    });
  }

  static async start(ns: string, role: string): Promise<Agent> {
    const child = spawnInNs(ns, process.execPath, [AGENT_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    const agent = new Agent(ns, role, child);
    await agent.request('ping', {}, 20_000);
    return agent;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private onLine(line: string): void {
    let response: Response;
    try {
      response = decode(line) as Response;
    } catch {
      return; // not ours (a stray log line)
    }
    const pending = this.pending.get(response.id);
    if (!pending) return;
    this.pending.delete(response.id);
    clearTimeout(pending.timer);
    if (response.ok) pending.resolve(response.result);
    else pending.reject(new Error(`${this.role} agent: ${response.error}`));
  }

  request<T = unknown>(cmd: string, args: unknown = {}, timeoutMs = 30_000): Promise<T> {
    if (this.exitedWith) return Promise.reject(new Error(`the ${this.role} agent in ${this.ns} ${this.exitedWith}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the ${this.role} agent in ${this.ns} did not answer "${cmd}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.stdin!.write(`${encode({ id, cmd, args })}\n`);
    });
  }

  /** Asks the agent to clean up and exit; SIGTERM/SIGKILL if it does not. */
  async stop(): Promise<void> {
    if (this.exitedWith) return;
    try {
      await this.request('exit', {}, 5000);
    } catch { /* forced below */ }
    await stopProcess(this.child, 3000);
  }
}
