// The daemon refuses, at start, a TX ring slot too small for the egress interface's MTU, naming the
// field, the interface and the size needed, and leaves nothing behind: no tc filter on the
// interface (its clsact qdisc is gone or empty).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDrLab } from './support/dr-lab.js';
import { needsRoot } from './support/needs-root.js';

test('a ring.frameSize below the egress MTU is refused at start, naming the field and the size needed', { timeout: 60_000, skip: needsRoot('network namespaces') }, async () => {
  await withDrLab({ servers: 1, startDaemon: false, config: { txMode: 'ring', ring: { frameSize: 1024 } } }, async (lab) => {
    await assert.rejects(lab.startDaemon(), (error: Error) => {
      assert.match(error.message, /ring\.frameSize 1024 cannot hold a full frame for "eth0" \(MTU 1500\): use at least 1568/);
      assert.doesNotMatch(error.message, /\bat .*\.js:\d+/, 'a message, not a stack trace');
      return true;
    });
    const { stdout } = await lab.exec('dispatcher', 'tc', ['filter', 'show', 'dev', lab.segment.dispatcher.ifname, 'ingress']);
    assert.equal(stdout.trim(), '', 'no ingress filter left behind');
  });
});
