// Runs a system tool (ip, tc) and turns its failure into an error that says what was attempted.
import { execFile } from 'node:child_process';
import { toolEnv } from './child-env.js';

export function tool(command: string, args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: toolEnv() }, (error, stdout, stderr) => {
      if (error) {
        const detail = String(stderr || error.message).trim();
        reject(new Error(`${command} ${args.join(' ')}: ${detail}`));
      } else {
        resolve(stdout);
      }
    });
  });
}
