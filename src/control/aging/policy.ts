// Flow aging policy: how long a flow may stay idle, by protocol and by the TCP flags the fast path
// has seen on it. Pure functions: unit-tested without a dataplane.
//
// LAS sees only the client's half of a connection (replies go straight from the server to the
// client), like IPVS in DR mode, so the state is read from the client's flags alone:
//   RST seen          -> close        (tcpClose)
//   FIN seen          -> FIN wait     (tcpFinWait)
//   ACK seen          -> established  (tcpEstablished)
//   SYN only          -> SYN received (tcpSynRecv)
//   UDP, other        -> udp
import { TCP_SEEN } from '../../native/contract.js';
import type { FlowTimeouts } from '../../config/types.js';

export const PROTO_TCP = 6;
export const PROTO_UDP = 17;

export type FlowState = 'SYN_RECV' | 'ESTABLISHED' | 'FIN_WAIT' | 'CLOSE' | 'NONE' | 'UDP' | 'OTHER';

/** Timeouts in milliseconds, as the aging worker uses them. */
export interface TimeoutsMs {
  tcpEstablished: number;
  tcpSynRecv: number;
  tcpFinWait: number;
  tcpClose: number;
  tcpLastAck: number;
  udp: number;
}

export function timeoutsMs(t: FlowTimeouts): TimeoutsMs {
  const ms = (s: number) => Math.round(s * 1000);
  return {
    tcpEstablished: ms(t.tcpEstablished), tcpSynRecv: ms(t.tcpSynRecv), tcpFinWait: ms(t.tcpFinWait),
    tcpClose: ms(t.tcpClose), tcpLastAck: ms(t.tcpLastAck), udp: ms(t.udp),
  };
}

export function flowState(proto: number, tcpFlagsSeen: number): FlowState {
  if (proto === PROTO_UDP) return 'UDP';
  if (proto !== PROTO_TCP) return 'OTHER';
  if (tcpFlagsSeen & TCP_SEEN.RST) return 'CLOSE';
  if (tcpFlagsSeen & TCP_SEEN.FIN) return 'FIN_WAIT';
  if (tcpFlagsSeen & TCP_SEEN.ACK) return 'ESTABLISHED';
  if (tcpFlagsSeen & TCP_SEEN.SYN) return 'SYN_RECV';
  return 'NONE'; // picked up mid-connection with no flag yet (cannot happen: every TCP segment but a bare SYN carries ACK)
}

/** Idle timeout (ms) of a flow in this state. NONE is treated as established: the safe, longer choice. */
export function timeoutFor(state: FlowState, t: TimeoutsMs): number {
  switch (state) {
    case 'CLOSE':
      return t.tcpClose;
    case 'FIN_WAIT':
      return t.tcpFinWait;
    case 'ESTABLISHED':
    case 'NONE':
      return t.tcpEstablished;
    case 'SYN_RECV':
      return t.tcpSynRecv;
    case 'UDP':
    case 'OTHER':
      return t.udp;
  }
}

/**
 * Milliseconds since lastSeenMs on the 32-bit wrapping clock. A stamp slightly ahead of `now`
 * (read from another CPU's coarse clock) counts as 0, never as 49 days.
 */
export function idleMs(nowMs: number, lastSeenMs: number): number {
  const diff = (nowMs - lastSeenMs) | 0;
  return diff < 0 ? 0 : diff;
}

/** True when the flow has been idle longer than its state allows. */
export function isExpired(proto: number, tcpFlagsSeen: number, lastSeenMs: number, nowMs: number, t: TimeoutsMs): boolean {
  return idleMs(nowMs, lastSeenMs) > timeoutFor(flowState(proto, tcpFlagsSeen), t);
}
