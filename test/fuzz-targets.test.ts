// Coverage-guided fuzzing in the suite: each libFuzzer target of native/fuzz (built with ASan, UBSan
// and libFuzzer by cmake-js, installing clang from Debian if needed) runs for a bounded time on its
// committed seeds, from an empty scratch corpus, and any finding (a crash, a broken invariant, a
// leak, a sanitizer report, a timeout) fails the test with its reproducer. `npm run fuzz` runs the
// same targets for longer.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REGRESSION_PREFIX, configSeeds, frameSeeds } from '../bench/fuzz-seeds.js';
import { FUZZ_TARGETS, SEED_DIR, buildFuzzTargets, describeResult, runFuzzTarget, type FuzzTarget } from '../bench/fuzz-run.js';
import { slowForUnitRun } from './support/needs-root.js';

// At most 45 s per target and 90 s of fuzzing in all.
const SECONDS: Record<FuzzTarget, number> = { frame: 45, config: 40 };

describe('fuzz targets', { skip: slowForUnitRun('builds the libFuzzer targets and fuzzes for 85 s') }, () => {
  let scratch = '';
  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'las-fuzz-test-'));
    await buildFuzzTargets((message) => process.stderr.write(`${message}\n`));
  });
  after(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  test('the committed seeds are the golden frames and snapshots as bench/fuzz-seeds.ts writes them', async () => {
    for (const [target, seeds] of [['frame', frameSeeds()], ['config', configSeeds()]] as const) {
      const dir = join(SEED_DIR, target);
      const files = (await readdir(dir)).filter((f) => !f.startsWith(REGRESSION_PREFIX)).sort();
      assert.deepEqual(files, [...seeds.keys()].sort(), `${dir} is stale: run npm run fuzz:seeds`);
      for (const [name, bytes] of seeds) assert.ok(bytes.equals(await readFile(join(dir, name))), `${dir}/${name} is stale: run npm run fuzz:seeds`);
    }
  });

  for (const target of FUZZ_TARGETS) {
    test(`${target}: ${SECONDS[target]} s of fuzzing find nothing`, async () => {
      // Findings go to a directory that outlives the test, so the reproducer it names is still there.
      const findingsDir = await mkdtemp(join(tmpdir(), `las-fuzz-findings-${target}-`));
      const result = await runFuzzTarget(target, {
        seconds: SECONDS[target], corpusDir: join(scratch, target), findingsDir,
      });
      process.stderr.write(`${describeResult(result)}\n`);
      assert.ok(result.exitCode === 0 && result.findings.length === 0, describeResult(result));
      await rm(findingsDir, { recursive: true, force: true });
      // It really ran: every seed was executed and mutated inputs after them.
      const seeds = (await readdir(join(SEED_DIR, target))).length;
      assert.ok(result.execs > seeds, `only ${result.execs} runs for ${seeds} seeds`);
      assert.ok(result.cov > 0, 'no coverage reported');
    });
  }
});
