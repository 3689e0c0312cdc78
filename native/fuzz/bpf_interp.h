// A classic-BPF interpreter for the fanout program, so a fuzz target can compare what the kernel's
// PACKET_FANOUT_CBPF would return for a frame with the worker's own fanout_hash(). It models the
// frame as a packet socket's ring shows it (Ethernet header first, at most one 802.1Q/802.1ad tag
// left in the frame): SKF_AD_PROTOCOL is the ethertype after the MACs and the network header starts
// right after it, as eth_type_trans() leaves them. A load past the frame makes the program return 0,
// as in the kernel. Only the instructions the kernel's checker accepts are run; anything else, a
// jump out of the program or a scratch slot out of range is reported as `error`.
#pragma once
#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../packet/bytes.h"

namespace las::fuzz {

struct BpfResult {
  uint32_t value;
  std::string error;  // empty when the program ran to a return
};

inline BpfResult run_fanout_bpf(const std::vector<sock_filter>& prog, const uint8_t* frame, uint32_t len) {
  constexpr uint32_t kNetHeader = 14;
  uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = {};
  if (len < kNetHeader) return {0, "frame shorter than an Ethernet header"};
  const uint16_t protocol = load_be16(frame + 12);
  // Loads relative to the network header: SKF_NET_OFF + offset, or a plain offset (skb->data is the
  // network header when a packet socket's fanout runs). false: outside the frame.
  auto load = [&](int64_t k, uint32_t size, uint32_t& out) {
    int64_t off = k >= SKF_NET_OFF && k < SKF_AD_OFF ? k - SKF_NET_OFF : k;
    if (off < 0 || kNetHeader + off + size > len) return false;
    const uint8_t* p = frame + kNetHeader + off;
    out = size == 4 ? load_be32(p) : size == 2 ? load_be16(p) : p[0];
    return true;
  };
  const size_t n = prog.size();
  if (n == 0 || n > BPF_MAXINSNS) return {0, "program length " + std::to_string(n)};
  for (size_t pc = 0, steps = 0; steps <= n; ++steps) {  // classic BPF jumps only forward
    if (pc >= n) return {0, "ran off the end at " + std::to_string(pc)};
    const sock_filter& ins = prog[pc];
    const uint32_t k = ins.k;
    const std::string at = " at " + std::to_string(pc);
    ++pc;
    const uint16_t cls = BPF_CLASS(ins.code);
    if (cls == BPF_LD || cls == BPF_LDX) {
      uint32_t v = 0;
      const uint16_t mode = BPF_MODE(ins.code);
      const uint32_t size = BPF_SIZE(ins.code) == BPF_W ? 4 : BPF_SIZE(ins.code) == BPF_H ? 2 : 1;
      if (mode == BPF_IMM) v = k;
      else if (mode == BPF_MEM) {
        if (k >= BPF_MEMWORDS) return {0, "scratch slot " + std::to_string(k) + at};
        v = M[k];
      } else if (cls == BPF_LDX && mode == BPF_MSH) {
        uint32_t b;
        if (!load(static_cast<int32_t>(k), 1, b)) return {0, ""};
        v = (b & 0x0f) * 4;
      } else if (cls == BPF_LD && (mode == BPF_ABS || mode == BPF_IND)) {
        int64_t off = static_cast<int32_t>(k);
        if (mode == BPF_ABS && off >= SKF_AD_OFF && off < 0) {
          if (off != SKF_AD_OFF + SKF_AD_PROTOCOL) return {0, "ancillary load " + std::to_string(off) + at};
          v = protocol;
        } else {
          if (mode == BPF_IND) off += X;
          if (!load(off, size, v)) return {0, ""};
        }
      } else return {0, "load mode " + std::to_string(mode) + at};
      (cls == BPF_LD ? A : X) = v;
    } else if (cls == BPF_ST || cls == BPF_STX) {
      if (k >= BPF_MEMWORDS) return {0, "scratch slot " + std::to_string(k) + at};
      M[k] = cls == BPF_ST ? A : X;
    } else if (cls == BPF_ALU) {
      const uint32_t src = BPF_SRC(ins.code) == BPF_X ? X : k;
      switch (BPF_OP(ins.code)) {
        case BPF_ADD: A += src; break;
        case BPF_SUB: A -= src; break;
        case BPF_MUL: A *= src; break;
        case BPF_DIV: if (src == 0) return {0, ""}; A /= src; break;
        case BPF_MOD: if (src == 0) return {0, ""}; A %= src; break;
        case BPF_OR: A |= src; break;
        case BPF_AND: A &= src; break;
        case BPF_XOR: A ^= src; break;
        case BPF_LSH: if (src >= 32) return {0, "shift by " + std::to_string(src) + at}; A <<= src; break;
        case BPF_RSH: if (src >= 32) return {0, "shift by " + std::to_string(src) + at}; A >>= src; break;
        case BPF_NEG: A = 0u - A; break;
        default: return {0, "alu op " + std::to_string(BPF_OP(ins.code)) + at};
      }
    } else if (cls == BPF_JMP) {
      if (BPF_OP(ins.code) == BPF_JA) {
        pc += k;
        continue;
      }
      const uint32_t src = BPF_SRC(ins.code) == BPF_X ? X : k;
      bool taken;
      switch (BPF_OP(ins.code)) {
        case BPF_JEQ: taken = A == src; break;
        case BPF_JGT: taken = A > src; break;
        case BPF_JGE: taken = A >= src; break;
        case BPF_JSET: taken = (A & src) != 0; break;
        default: return {0, "jump op " + std::to_string(BPF_OP(ins.code)) + at};
      }
      pc += taken ? ins.jt : ins.jf;
    } else if (cls == BPF_RET) {
      return {BPF_RVAL(ins.code) == BPF_A ? A : k, ""};
    } else if (cls == BPF_MISC) {
      if (BPF_MISCOP(ins.code) == BPF_TAX) X = A;
      else A = X;
    } else {
      return {0, "instruction class " + std::to_string(cls) + at};
    }
  }
  return {0, "no return within the program's length"};
}

// How many 802.1Q / 802.1ad tags a frame carries before its ethertype (at most 3 looked at).
inline int vlan_tags(const uint8_t* frame, uint32_t len) {
  int tags = 0;
  for (uint32_t off = 12; off + 2 <= len && tags < 3; off += 4, ++tags) {
    uint16_t t = load_be16(frame + off);
    if (t != 0x8100 && t != 0x88a8) break;
  }
  return tags;
}

}  // namespace las::fuzz
