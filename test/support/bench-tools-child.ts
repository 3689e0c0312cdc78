// Runs a bench tool inside a network namespace for test/native-bench-tools.test.ts: a process can
// enter a namespace only by being started in it (`ip netns exec NS node bench-tools-child.js ...`).
//
//   sink <ifname> <keepFrames>  prints {"ready":true}, then on a stdin line {"expect":N} waits until
//                               N frames arrived (or 5 s), stops and prints {"counts":…,"frames":[hex…]}
//   generator <options JSON>    runs runGenerator and prints {"result":…}
// One JSON object per stdout line; bigints as decimal strings.
import { createInterface } from 'node:readline';
import { loadBenchAddon, type GeneratorOptions } from '../../src/native/bench-binding.js';

const toJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
const say = (value: unknown): void => {
  process.stdout.write(`${toJson(value)}\n`);
};
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function runSink(ifname: string, keepFrames: number): Promise<void> {
  const addon = loadBenchAddon();
  const sink = new addon.Sink(ifname, { keepFrames });
  sink.start();
  say({ ready: true });
  const input = createInterface({ input: process.stdin });
  for await (const line of input) {
    const { expect } = JSON.parse(line) as { expect: number };
    const until = Date.now() + 5000;
    while (sink.counts().total < BigInt(expect) && Date.now() < until) await sleep(20);
    await sleep(150); // anything beyond `expect` (a stray frame) gets time to show up too
    sink.stop();
    say({ counts: sink.counts(), frames: sink.frames().map((f) => f.toString('hex')) });
    break;
  }
  input.close();
}

async function runGenerator(options: GeneratorOptions): Promise<void> {
  const result = await loadBenchAddon().runGenerator(options);
  say({ result });
}

const [role, ...args] = process.argv.slice(2);
try {
  if (role === 'sink') await runSink(args[0] ?? '', Number(args[1] ?? 0));
  else if (role === 'generator') await runGenerator(JSON.parse(args[0] ?? '{}') as GeneratorOptions);
  else throw new Error(`unknown role "${role}"`);
} catch (error) {
  say({ error: String(error) });
  process.exitCode = 1;
}
