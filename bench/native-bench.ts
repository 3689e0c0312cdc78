// The benchmark-only part of the addon (traffic generator, sink, micro-benchmarks), loaded through
// src/native/bench-binding.ts; an addon built before those tools existed fails with a message that
// says what to do instead of "runGenerator is not a function" halfway through a run.
import { loadBenchAddon, type BenchAddon } from '../src/native/bench-binding.js';

export type {
  BenchAddon, ClassifyBenchOptions, ClassifyBenchResult, FlowTableBenchResult, GeneratorKind, GeneratorOptions,
  GeneratorResult, MaglevBenchResult, NativeSink, SinkCounts,
} from '../src/native/bench-binding.js';

const REQUIRED = ['runGenerator', 'Sink', 'microbenchClassify', 'microbenchFlowTable', 'microbenchMaglev', 'maglevTable'] as const;

let cached: BenchAddon | undefined;

export async function benchAddon(): Promise<BenchAddon> {
  if (cached) return cached;
  let addon: BenchAddon;
  try {
    addon = loadBenchAddon();
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)}`);
  }
  const missing = REQUIRED.filter((name) => typeof (addon as unknown as Record<string, unknown>)[name] !== 'function');
  if (missing.length > 0) {
    throw new Error(`the native addon lacks ${missing.join(', ')}: it was built before the benchmark tools; rebuild it with "npm run build:native"`);
  }
  cached = addon;
  return cached;
}

/** True when the bench tools load (tests skip without them). */
export async function benchAddonAvailable(): Promise<boolean> {
  try {
    await benchAddon();
    return true;
  } catch {
    return false;
  }
}
