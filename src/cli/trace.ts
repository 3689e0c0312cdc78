// `las trace`: the fast path's decisions, live, for a filter; until Ctrl-C or --count N.
import { InvalidArgumentError, type Command } from 'commander';
import { adminStream } from '../control/admin-client.js';
import { MAX_TRACE_SAMPLE, TRACE_VERDICTS, type TraceFilterArgs } from '../control/trace-filter.js';
import type { TraceEvent } from '../control/trace-records.js';
import { printable } from '../config/printable.js';
import { adminSocketFrom, ExitError, examples, withSocketOptions } from './common.js';

function wholeNumber(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`expected a whole number from 1 to ${max}`);
    return n;
  };
}

interface TraceOptions extends Omit<TraceFilterArgs, 'verdict'> {
  socket?: string;
  config?: string;
  drops?: boolean;
  verdict?: string;
  count?: number;
  json?: boolean;
}

export function registerTrace(program: Command): void {
  withSocketOptions(program.command('trace'))
    .description('show the fast path\'s decisions live: time, worker, tuple, verdict, server and why (until Ctrl-C or --count)')
    .option('--service <name>', 'frames to this service\'s VIP, port and protocol')
    .option('--vip <addr[:port]>', 'frames to this VIP (and port); IPv6: 2001:db8::100 or [2001:db8::100]:80')
    .option('--client <addr[/len]>', 'frames from this client address or prefix (IPv4 or IPv6)')
    .option('--server <addr>', 'frames forwarded to this real server (IPv4 or IPv6)')
    .option('--drops', 'only dropped frames (with their reason)')
    .option('--reason <reason>', 'only frames dropped for this reason (no_service, no_server, fragment, truncated_ip, ... see las stats)')
    .option('--verdict <verdict>', `only this verdict: ${TRACE_VERDICTS.join(', ')}`)
    .option('--protocol <proto>', 'tcp, udp, icmp or icmpv6')
    .option('--sample <n>', 'show 1 in n matching decisions (per worker); default every one', wholeNumber(MAX_TRACE_SAMPLE))
    .option('-n, --count <n>', 'stop after n decisions', wholeNumber(Number.MAX_SAFE_INTEGER))
    .option('--json', 'one JSON object per line')
    .addHelpText(
      'after',
      examples([
        'sudo las trace --client 198.51.100.7     # why is it not getting through?',
        'sudo las trace --client 198.51.100.0/24 --drops  # drops, with the reason',
        'sudo las trace --vip 10.0.0.100:80 --count 20    # 20 decisions, one port',
        'sudo las trace --service web --server 10.0.0.11  # what goes to a server',
        'sudo las trace --vip [2001:db8::100]:80 --client 2001:db8:7::/48  # IPv6',
        'sudo las trace --reason no_service --sample 100  # 1 in 100 such drops',
        'sudo las trace --json -n 1000 | jq -r .reason | sort | uniq -c',
        '',
        'Output (the kernel\'s receive time, UTC; worker; tuple; verdict; server; why):',
        '  10:31:02.123456 w0 tcp 198.51.100.7:40112 > 10.0.0.100:80',
        '    forward 10.0.0.11 new flow [web]     (printed on one line)',
        '  10:31:02.123500 w0 tcp [2001:db8:7::9]:40112 > [2001:db8::100]:80',
        '    forward 2001:db8::11 new flow [web6]',
        '  10:31:02.124020 w1 tcp 198.51.100.7:40113 > 10.0.0.100:81 drop no_service',
        'Why a frame went: "new flow" (the scheduler chose), "flow table" (its',
        'entry), "icmp error" (to the server of the quoted flow). A trace costs',
        'nothing while none runs; at most 4 run at once. A "lost" line counts',
        'decisions not shown because the trace fell behind: narrow the filter',
        'or use --sample.',
      ]),
    )
    .action(async (options: TraceOptions) => {
      const verdict = options.drops ? 'drop' : options.verdict;
      if (options.drops && options.verdict !== undefined && options.verdict !== 'drop') throw new Error('--drops and --verdict other than drop contradict each other');
      const args: Record<string, unknown> = {};
      for (const key of ['service', 'vip', 'client', 'server', 'reason', 'protocol', 'sample'] as const) {
        if (options[key] !== undefined) args[key] = options[key];
      }
      if (verdict !== undefined) args.verdict = verdict;
      const socket = await adminSocketFrom(options);
      let shown = 0;
      let ended: string | undefined;
      const handle = adminStream(socket, 'trace', args, (result) => {
        const r = result as { filter?: string; workers?: number };
        process.stderr.write(`tracing ${printable(String(r.filter ?? ''))} on ${r.workers ?? '?'} worker${r.workers === 1 ? '' : 's'}${options.count ? `, ${options.count} decisions` : ''}; Ctrl-C to stop\n`);
      }, (line) => {
        if (line.event !== undefined) {
          if (options.count !== undefined && shown >= options.count) return;
          shown++;
          process.stdout.write(options.json ? `${JSON.stringify(line.event)}\n` : `${formatTraceEvent(line.event as TraceEvent)}\n`);
          if (options.count !== undefined && shown >= options.count) handle.close();
        } else if (typeof line.lost === 'number') {
          if (options.json) process.stdout.write(`${JSON.stringify({ lost: line.lost })}\n`);
          else process.stderr.write(`# ${line.lost} decision${line.lost === 1 ? '' : 's'} not shown: the trace did not keep up (narrow the filter or use --sample)\n`);
        } else if (typeof line.end === 'string') {
          ended = line.end;
        }
      }, 10_000);
      const stop = () => handle.close();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await handle.done;
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
      if (ended !== undefined) {
        process.stderr.write(`las trace: ${printable(ended)}\n`);
        throw new ExitError(1);
      }
    });
}

export function formatTraceEvent(e: TraceEvent): string {
  const time = e.time.slice(11, 26);
  const tuple = e.client === null ? '-' : `${e.client} > ${e.vip}`;
  const where = e.verdict === 'forward' ? `forward ${e.server ?? '-'} ${e.reason}` : e.verdict === 'drop' ? `drop ${e.reason}` : `${e.verdict} ${e.reason}`;
  const extra = [e.fragment ? 'fragment' : '', e.service ? `[${e.service}]` : ''].filter((x) => x !== '').join(' ');
  return `${time} w${e.worker} ${e.protocol} ${tuple} ${where}${extra ? ` ${extra}` : ''}`;
}
