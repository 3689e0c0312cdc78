// What the fuzz targets found outside frames, each as a test against the real addon (frame findings
// become rows of test/fixtures/golden-frames.ts instead). The reproducers themselves stay in
// test/fuzz-corpus/<target>/regress-*, so every fuzz run replays them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NativeService } from '../src/native/binding.js';
import { loadBenchAddon, type ClassifierOptions } from '../src/native/bench-binding.js';

const OPTIONS: ClassifierOptions = { ingressMac: '02:00:00:00:00:01', egressMac: '02:00:00:00:00:02', flowCapacity: 16, flowIdleTimeoutMs: 1_000 };

const service = (flowKey: NativeService['flowKey'], port = 0): NativeService => ({
  vip: '10.30.0.1', port, protocol: 'tcp', flowKey, scheduler: 'maglev', maglevTableSize: 251,
  servers: [{ address: '10.30.1.1', mac: '02:00:00:00:1e:01', weight: 1 }],
});

describe('fuzz findings', () => {
  // fuzz_config: two all-ports services of one VIP with different flow keys. The snapshot found the
  // first, the fanout program keyed by the last, so their flows were hashed to the wrong worker. The
  // config refuses such a file, but the addon took it from any caller.
  test('the addon refuses two services with the same vip, port and protocol, naming both', () => {
    const addon = loadBenchAddon();
    const twice = { services: [service('addresses'), service('5tuple')] };
    const refusal = /services\[1\] has the vip, port and protocol of services\[0\]/;
    assert.throws(() => new addon.Classifier(OPTIONS, twice), refusal);
    const classifier = new addon.Classifier(OPTIONS, { services: [service('addresses')] });
    assert.throws(() => classifier.setSnapshot(twice), refusal);
    // Same VIP and protocol on another port, or another protocol: still one service each.
    assert.doesNotThrow(() => classifier.setSnapshot({ services: [service('addresses'), service('5tuple', 80)] }));
    assert.doesNotThrow(() => classifier.setSnapshot({ services: [service('addresses'), { ...service('5tuple'), protocol: 'udp' }] }));
  });
});
