// `npm run fuzz [-- --minutes N] [--target frame|config|all]`: builds the libFuzzer targets if needed
// and runs each for N minutes on its seeds (test/fuzz-corpus/<target>) and its growing corpus,
// printing executions per second, coverage and findings. Exits 1 on any finding.
import { Command, InvalidArgumentError, Option } from 'commander';
import { join } from 'node:path';
import { FUZZ_BUILD_DIR, FUZZ_TARGETS, buildFuzzTargets, describeResult, runFuzzTarget, type FuzzTarget } from './fuzz-run.js';

interface CliOptions { minutes: number; target: FuzzTarget | 'all'; corpus: string; findings: string; build: boolean }

const positive = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('--minutes must be a number above 0 (e.g. 0.5 or 60)');
  return n;
};

const program = new Command('fuzz')
  .description('coverage-guided fuzzing of the frame decision and the snapshot builders (libFuzzer, ASan, UBSan)')
  .option('--minutes <n>', 'how long each target runs', positive, 1)
  .addOption(new Option('--target <name>', 'which target').choices([...FUZZ_TARGETS, 'all']).default('all'))
  .option('--corpus <dir>', 'where each target keeps the inputs it finds (<dir>/<target>)', join(FUZZ_BUILD_DIR, 'corpus'))
  .option('--findings <dir>', 'where reproducers of findings are written (<dir>/<target>)', join(FUZZ_BUILD_DIR, 'findings'))
  .option('--no-build', 'use the targets already in build-fuzz/')
  .parse();

const opts = program.opts<CliOptions>();
const log = (message: string) => process.stdout.write(`${message}\n`);
if (opts.build) await buildFuzzTargets(log);
const targets = opts.target === 'all' ? [...FUZZ_TARGETS] : [opts.target];
let failed = false;
for (const target of targets) {
  log(`fuzzing ${target} for ${opts.minutes} min ...`);
  let lastPulse = 0;
  const result = await runFuzzTarget(target, {
    seconds: opts.minutes * 60,
    corpusDir: join(opts.corpus, target),
    findingsDir: join(opts.findings, target),
    // libFuzzer's own status lines (runs, coverage, corpus, exec/s), at most one a minute, so a long
    // run leaves a timeline.
    onLine: (line) => {
      if (/^#\d+\s+\w+\s+cov:/.test(line) && Date.now() - lastPulse > 60_000) {
        lastPulse = Date.now();
        log(`  ${new Date().toISOString()} ${line}`);
      }
    },
  });
  log(describeResult(result));
  failed ||= result.exitCode !== 0 || result.findings.length > 0;
}
process.exitCode = failed ? 1 : 0;
