// The per-server health state machine: pure, so rise, fall and flap damping are unit-tested
// without sockets or timers.
//
// - A server starts up (as if it had just passed its checks): a daemon restart must not take every
//   server out for rise × interval.
// - `fall` consecutive failures take an up server down at once (never delayed: a dead server must
//   stop receiving new flows quickly).
// - `rise` consecutive successes bring a down server back, unless it is flapping.
// - Flap damping: a server that changed state `flapThreshold` times or more within the last
//   `flapWindow` seconds is flapping; while it is, coming back needs FLAP_RISE_FACTOR × rise
//   consecutive successes, so it stays down at least that many intervals after its last failure.
//   Damping ends when the old changes fall out of the window. flapThreshold 0 turns it off.

export const FLAP_RISE_FACTOR = 4;

export type Health = 'up' | 'down';

export interface HealthParams {
  rise: number;
  fall: number;
  flapWindowMs: number;
  flapThreshold: number; // 0 = no damping
}

export interface HealthState {
  health: Health;
  successes: number;   // consecutive, since the last failure
  failures: number;    // consecutive, since the last success
  changes: number[];   // times (ms) of state changes still inside the flap window, oldest first
  flapping: boolean;
  checks: number;      // results applied so far
  lastOk?: boolean;
  lastMessage?: string;
  lastAtMs?: number;
}

export interface HealthTransition {
  state: HealthState;
  changed?: Health;                 // set when this result changed up/down
  flapping?: 'started' | 'ended';  // set when this result changed the flapping flag
}

export function initialHealth(): HealthState {
  return { health: 'up', successes: 0, failures: 0, changes: [], flapping: false, checks: 0 };
}

/** Successes a down server needs before it is up again. */
export function requiredRises(state: HealthState, params: HealthParams): number {
  return state.flapping ? params.rise * FLAP_RISE_FACTOR : params.rise;
}

function isFlapping(changes: number[], params: HealthParams): boolean {
  return params.flapThreshold > 0 && changes.length >= params.flapThreshold;
}

/** Applies one check result at time nowMs; returns the new state (the old one is not modified). */
export function applyResult(prev: HealthState, ok: boolean, nowMs: number, params: HealthParams, message?: string): HealthTransition {
  const changes = prev.changes.filter((t) => nowMs - t < params.flapWindowMs);
  const state: HealthState = {
    ...prev,
    changes,
    successes: ok ? prev.successes + 1 : 0,
    failures: ok ? 0 : prev.failures + 1,
    checks: prev.checks + 1,
    lastOk: ok,
    lastAtMs: nowMs,
    ...(message !== undefined ? { lastMessage: message } : {}),
  };
  if (message === undefined) delete state.lastMessage;
  // The flapping flag before this result decides how many rises are needed now.
  state.flapping = isFlapping(changes, params);

  let changed: Health | undefined;
  if (prev.health === 'up' && !ok && state.failures >= params.fall) changed = 'down';
  else if (prev.health === 'down' && ok && state.successes >= requiredRises(state, params)) changed = 'up';
  if (changed) {
    state.health = changed;
    state.changes = [...changes, nowMs];
    state.flapping = isFlapping(state.changes, params);
  }
  const transition: HealthTransition = { state };
  if (changed) transition.changed = changed;
  if (state.flapping !== prev.flapping) transition.flapping = state.flapping ? 'started' : 'ended';
  return transition;
}
