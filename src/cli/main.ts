#!/usr/bin/env node
// The `las` command: one module per verb, registered here.
import { Command } from 'commander';
import { packageVersion } from '../control/build-info.js';
import { printableLines } from '../config/printable.js';
import { registerCheck } from './check.js';
import { ExitError, examples } from './common.js';
import { registerDemo } from './demo.js';
import { registerDrain } from './drain.js';
import { registerRun } from './run.js';
import { registerFlows } from './flows.js';
import { registerExplain } from './explain.js';
import { registerReload } from './reload.js';
import { registerServer } from './server.js';
import { registerRole } from './role.js';
import { registerStats } from './stats.js';
import { registerStatus } from './status.js';
import { registerTrace } from './trace.js';

// Lines stay under 80 columns: commander wraps longer ones at the terminal width.
const DESCRIPTION = `LAS (Link Address Selector): a layer-2 direct-routing load balancer,
like LVS-DR (ipvsadm -g).

Clients send to a virtual IP (VIP) that LAS answers ARP for. For each flow
LAS picks a healthy real server (Maglev, wrr, rr, wlc or source hash) and
forwards the unchanged IP packet to that server's MAC address on the same
segment. Each real server carries the VIP on loopback and answers the client
directly, so replies never pass the dispatcher. On every real server:

  ip addr add 10.0.0.100/32 dev lo
  sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2`;

export function buildProgram(): Command {
  const program = new Command('las')
    .description(DESCRIPTION)
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(run "las --help" or "las <command> --help" for usage)')
    .addHelpText(
      'after',
      examples([
        'las check /etc/las/las.json          # validate, list the services',
        'sudo las run -c /etc/las/las.json    # start the dispatcher',
        'sudo las status -c /etc/las/las.json # services, servers, health, flows',
        'sudo las stats -c /etc/las/las.json  # counters of the running daemon',
        'sudo las trace --client 198.51.100.7 # live decisions for one client',
        'sudo las reload -c /etc/las/las.json # apply the edited config',
        'sudo las explain tcp 198.51.100.7:40112 10.0.0.100:80 # which server, why',
        'sudo las demo                        # LVS-DR in network namespaces',
        '',
        'Config reference: docs/configuration.md. "las <command> --help" for more.',
      ]),
    );
  registerCheck(program);
  registerRun(program);
  registerStatus(program);
  registerStats(program);
  registerFlows(program);
  registerExplain(program);
  registerTrace(program);
  registerServer(program);
  registerRole(program);
  registerReload(program);
  registerDrain(program);
  registerDemo(program);
  return program;
}

// `las check big.json | head`: a reader that stops early ends the output, it is not a crash.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(process.exitCode ?? 0);
  });
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  if (error instanceof ExitError) {
    process.exitCode = error.exitCode;
  } else {
    const message = error instanceof Error ? error.message : String(error);
    // The message may quote a config or a daemon answer: no raw control or bidi characters.
    process.stderr.write(`las: ${printableLines(process.env.LAS_DEBUG === '1' && error instanceof Error ? error.stack ?? message : message)}\n`);
    process.exitCode = 1;
  }
}
