// `las demo`: an LVS-DR segment in network namespaces, end to end.
import { InvalidArgumentError, type Command } from 'commander';
import { examples } from './common.js';

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('build a client, a dispatcher and real HTTP servers in network namespaces and balance requests through LAS (root)')
    .option('--requests <n>', 'HTTP requests to send through the VIP', positiveInteger, 300)
    .option('--keep-going', 'do not stop at the first failed request; report all failures at the end')
    .option('--routed', 'the two-NIC layout: clients on their own subnet, the dispatcher routes between them and the servers (interface + egressInterface)')
    .option('--ha', 'three dispatchers behind a BIRD 2 router (ECMP, BGP): kill -9 one in the middle of long-lived connections, none breaks')
    .option('--ipv6', 'dual stack: a v6 VIP beside the v4 one (servers hold both on lo); the requests go to each')
    .addHelpText(
      'after',
      examples([
        'sudo las demo                            # 300 requests through the VIP',
        'sudo las demo --requests 5000 --keep-going',
        'sudo las demo --routed                   # the dispatcher as the clients\' gateway, two NICs',
        'sudo las demo --ha                       # 3 dispatchers behind ECMP + BGP, one killed',
        'sudo las demo --ipv6                     # also a v6 VIP: the requests go to http://[fd77::100]/ too',
        '',
        'The exit code is 0 when every request was answered by a real server.',
      ]),
    )
    .action(async (options: { requests: number; keepGoing?: boolean; routed?: boolean; ha?: boolean; ipv6?: boolean }) => {
      if (options.ha) {
        const { runHaDemo } = await import('../demo/ha-demo.js');
        process.exitCode = await runHaDemo({ requests: options.requests });
        return;
      }
      if (options.ipv6 && options.routed) throw new InvalidArgumentError('--ipv6 runs on the one-segment layout; leave out --routed');
      // Imported on use: the demo pulls in the daemon side, which the other verbs do not need.
      const { runDemo } = await import('../demo/demo.js');
      process.exitCode = await runDemo({ requests: options.requests, keepGoing: options.keepGoing === true, routed: options.routed === true, ipv6: options.ipv6 === true });
    });
}
