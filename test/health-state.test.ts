// The health state machine: fall failures take a server down at once, rise successes bring it
// back, and a flapping server needs FLAP_RISE_FACTOR × rise successes to come back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyResult, FLAP_RISE_FACTOR, initialHealth, type HealthParams, type HealthState } from '../src/control/health/health-state.js';

const params: HealthParams = { rise: 2, fall: 3, flapWindowMs: 60_000, flapThreshold: 4 };

/** Feeds results ("+" ok, "-" failed) one second apart; returns the states after each and the changes. */
function feed(pattern: string, start: HealthState = initialHealth(), p = params, t0 = 0) {
  let state = start;
  const changes: string[] = [];
  const flapping: string[] = [];
  [...pattern].forEach((c, i) => {
    const t = applyResult(state, c === '+', t0 + i * 1000, p);
    state = t.state;
    if (t.changed) changes.push(`${i}:${t.changed}`);
    if (t.flapping) flapping.push(`${i}:${t.flapping}`);
  });
  return { state, changes, flapping };
}

describe('health state', () => {
  it('starts up and stays up on successes', () => {
    const { state, changes } = feed('+++++');
    assert.equal(state.health, 'up');
    assert.deepEqual(changes, []);
    assert.equal(state.checks, 5);
  });

  it('goes down after exactly `fall` consecutive failures; a success in between resets the count', () => {
    assert.deepEqual(feed('--+--+--').changes, []);
    assert.deepEqual(feed('---').changes, ['2:down']);
    assert.deepEqual(feed('+--+---').changes, ['6:down']);
  });

  it('comes back after exactly `rise` consecutive successes', () => {
    assert.deepEqual(feed('---+-++').changes, ['2:down', '6:up']);
    assert.deepEqual(feed('---++').changes, ['2:down', '4:up']);
  });

  it('the original state is not modified', () => {
    const start = initialHealth();
    applyResult(start, false, 0, { ...params, fall: 1 });
    assert.deepEqual(start, initialHealth());
  });

  it('a flapping server needs FLAP_RISE_FACTOR × rise successes to come back, and is not delayed going down', () => {
    const p = { rise: 1, fall: 1, flapWindowMs: 60_000, flapThreshold: 4 };
    // down, up, down, up: 4 changes in the window -> flapping.
    const first = feed('-+-+', initialHealth(), p);
    assert.deepEqual(first.changes, ['0:down', '1:up', '2:down', '3:up']);
    assert.deepEqual(first.flapping, ['3:started']);
    assert.equal(first.state.flapping, true);
    // Going down is immediate even while flapping.
    const down = feed('-', first.state, p, 4000);
    assert.deepEqual(down.changes, ['0:down']);
    // Coming back needs 4 × rise successes.
    const back = feed('+'.repeat(FLAP_RISE_FACTOR), down.state, p, 5000);
    assert.deepEqual(back.changes, [`${FLAP_RISE_FACTOR - 1}:up`]);
  });

  it('flapping ends when the changes leave the window', () => {
    const p = { rise: 1, fall: 1, flapWindowMs: 10_000, flapThreshold: 4 };
    const { state } = feed('-+-+', initialHealth(), p);
    assert.equal(state.flapping, true);
    const later = applyResult(state, true, 3000 + 10_001, p);
    assert.equal(later.state.flapping, false);
    assert.equal(later.flapping, 'ended');
  });

  it('flapThreshold 0 turns damping off', () => {
    const p = { rise: 1, fall: 1, flapWindowMs: 60_000, flapThreshold: 0 };
    const { state, changes, flapping } = feed('-+-+-+-+', initialHealth(), p);
    assert.equal(changes.length, 8);
    assert.deepEqual(flapping, []);
    assert.equal(state.flapping, false);
  });

  it('keeps the last message and time', () => {
    const t = applyResult(initialHealth(), false, 1234, params, 'tcp 10.0.0.1:80: ECONNREFUSED');
    assert.equal(t.state.lastMessage, 'tcp 10.0.0.1:80: ECONNREFUSED');
    assert.equal(t.state.lastAtMs, 1234);
    assert.equal(t.state.lastOk, false);
  });
});
