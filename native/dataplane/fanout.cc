#include "fanout.h"

#include <linux/if_ether.h>

#include <map>
#include <stdexcept>
#include <string>

namespace las {

namespace {

// A tiny assembler with labels. Conditional jumps reach 255 instructions at most, so they only ever
// skip to a nearby label; far targets go through `ja`, which has 32 bits.
class Asm {
 public:
  int label() {
    at_.push_back(-1);
    return static_cast<int>(at_.size()) - 1;
  }
  void bind(int l) { at_[l] = static_cast<int>(code_.size()); }
  void op(uint16_t code, uint32_t k = 0) { code_.push_back(BPF_STMT(code, k)); }
  // if (A == k) goto t else goto f; -1 = the next instruction.
  void jeq(uint32_t k, int t, int f = -1) { jump(BPF_JMP | BPF_JEQ | BPF_K, k, t, f); }
  void jset(uint32_t k, int t, int f = -1) { jump(BPF_JMP | BPF_JSET | BPF_K, k, t, f); }
  void ja(int l) {
    fixes_.push_back({code_.size(), l, -1, true});
    code_.push_back(BPF_STMT(BPF_JMP | BPF_JA, 0));
  }
  std::vector<sock_filter> finish() {
    if (code_.size() > BPF_MAXINSNS)
      throw std::runtime_error("the fanout program needs " + std::to_string(code_.size()) + " instructions, more than the kernel's " +
                               std::to_string(BPF_MAXINSNS) + ": use fewer VIPs or fewer services per VIP with mixed flow keys");
    for (const Fix& f : fixes_) {
      auto rel = [&](int l) {
        int d = (l < 0 ? static_cast<int>(f.at) + 1 : at_[l]) - static_cast<int>(f.at) - 1;
        if (d < 0) throw std::logic_error("fanout program: backward jump");
        return d;
      };
      sock_filter& ins = code_[f.at];
      if (f.ja) {
        ins.k = static_cast<uint32_t>(rel(f.t));
        continue;
      }
      int t = rel(f.t), e = rel(f.f);
      if (t > 255 || e > 255) throw std::logic_error("fanout program: conditional jump out of range");
      ins.jt = static_cast<uint8_t>(t);
      ins.jf = static_cast<uint8_t>(e);
    }
    return code_;
  }

 private:
  struct Fix {
    size_t at;
    int t, f;
    bool ja;
  };
  void jump(uint16_t code, uint32_t k, int t, int f) {
    fixes_.push_back({code_.size(), t, f, false});
    code_.push_back(BPF_JUMP(code, k, 0, 0));
  }
  std::vector<sock_filter> code_;
  std::vector<int> at_;
  std::vector<Fix> fixes_;
};

// Scratch memory slots. kOff: where X must come back to (an IPv6 header or the next header of a
// chain); kFamily: 6 for an IPv6 frame, whose VIP blocks are apart from the v4 ones.
enum : uint32_t { kSrc, kDst, kProto, kPorts, kTmp, kDport, kHashPorts, kOff, kLen, kFamily };

constexpr uint32_t kNet = static_cast<uint32_t>(SKF_NET_OFF);  // loads relative to the network header

void load_ind(Asm& a, uint16_t size, uint32_t off) { a.op(BPF_LD | size | BPF_IND, kNet + off); }
// X = X + 4 * (byte at X + off & 0x0f): steps over an IPv4 header whose first byte is at X + off.
void skip_ipv4_header(Asm& a, uint32_t off) {
  load_ind(a, BPF_B, off);
  a.op(BPF_ALU | BPF_AND | BPF_K, 0x0f);
  a.op(BPF_ALU | BPF_LSH | BPF_K, 2);
  a.op(BPF_ALU | BPF_ADD | BPF_X);
  a.op(BPF_MISC | BPF_TAX);
}
// A = A ^ (A >> n)
// A with the quoted header's first word (VIP port << 16 | client port): stores the flow's ports
// the other way round (client port << 16 | VIP port), as the client's own packets carry them.
void store_quoted_ports(Asm& a) {
  a.op(BPF_ST, kTmp);
  a.op(BPF_ALU | BPF_RSH | BPF_K, 16);
  a.op(BPF_MISC | BPF_TAX);
  a.op(BPF_LD | BPF_MEM, kTmp);
  a.op(BPF_ALU | BPF_LSH | BPF_K, 16);
  a.op(BPF_ALU | BPF_OR | BPF_X);
  a.op(BPF_ST, kPorts);
}

void xor_shift(Asm& a, uint32_t n) {
  a.op(BPF_ST, kTmp);
  a.op(BPF_ALU | BPF_RSH | BPF_K, n);
  a.op(BPF_MISC | BPF_TAX);
  a.op(BPF_LD | BPF_MEM, kTmp);
  a.op(BPF_ALU | BPF_XOR | BPF_X);
}
// A = A ^ M[slot]
void xor_mem(Asm& a, uint32_t slot) {
  a.op(BPF_ST, kTmp);
  a.op(BPF_LD | BPF_MEM, slot);
  a.op(BPF_MISC | BPF_TAX);
  a.op(BPF_LD | BPF_MEM, kTmp);
  a.op(BPF_ALU | BPF_XOR | BPF_X);
}

// M[slot] = fold_ipv6 of the address at X + off: the XOR of its four words. X is kept (from M[kOff]).
void fold_ipv6_into(Asm& a, uint32_t slot, uint32_t off) {
  load_ind(a, BPF_W, off);
  a.op(BPF_ST, slot);
  for (uint32_t k = 4; k < 16; k += 4) {
    load_ind(a, BPF_W, off + k);
    a.op(BPF_ST, kTmp);
    a.op(BPF_LD | BPF_MEM, slot);
    a.op(BPF_LDX | BPF_MEM, kTmp);
    a.op(BPF_ALU | BPF_XOR | BPF_X);
    a.op(BPF_ST, slot);
    a.op(BPF_LDX | BPF_MEM, kOff);
  }
}

// Walks an IPv6 extension-header chain as walk_ipv6_chain() does: X at the first header after the
// fixed one, M[kProto] its type. Ends at `done` with X at the upper-layer header and M[kProto] its
// protocol; at `fragment` for a fragment header that makes the packet a fragment (`frag_bits`: the
// bits of its second half-word that do: 0xfff9 offset or M, 0xfff8 offset only); at `too_long` after
// kIpv6MaxExtHeaders headers. Unrolled: classic BPF jumps only forward.
void walk_ipv6_chain_bpf(Asm& a, int done, int fragment, int too_long, uint32_t frag_bits) {
  for (int n = 0; n < kIpv6MaxExtHeaders; ++n) {
    const int ext = a.label(), ah = a.label(), frag = a.label(), advance = a.label(), upper = a.label();
    a.op(BPF_LD | BPF_MEM, kProto);
    a.jeq(kIpv6HopByHop, ext);
    a.jeq(kIpv6Routing, ext);
    a.jeq(kIpv6DestOptions, ext);
    a.jeq(kIpv6Auth, ah);
    a.jeq(kIpv6Fragment, frag, upper);
    a.bind(ext);  // (length + 1) * 8
    load_ind(a, BPF_B, 1);
    a.op(BPF_ALU | BPF_ADD | BPF_K, 1);
    a.op(BPF_ALU | BPF_LSH | BPF_K, 3);
    a.ja(advance);
    a.bind(ah);  // (length + 2) * 4
    load_ind(a, BPF_B, 1);
    a.op(BPF_ALU | BPF_ADD | BPF_K, 2);
    a.op(BPF_ALU | BPF_LSH | BPF_K, 2);
    a.ja(advance);
    a.bind(frag);
    load_ind(a, BPF_H, 2);
    const int whole = a.label();
    a.jset(frag_bits, -1, whole);
    a.ja(fragment);
    a.bind(whole);
    a.op(BPF_LD | BPF_IMM, kIpv6FragmentHeaderLen);
    a.bind(advance);  // X += A, M[kProto] = the header's next header
    a.op(BPF_ST, kLen);
    load_ind(a, BPF_B, 0);
    a.op(BPF_ST, kProto);
    a.op(BPF_LD | BPF_MEM, kLen);
    a.op(BPF_ALU | BPF_ADD | BPF_X);
    a.op(BPF_MISC | BPF_TAX);
    const int next = a.label();
    a.ja(next);
    a.bind(upper);
    a.ja(done);
    a.bind(next);
  }
  // After the last header walked: an upper layer is fine, one more extension header is too many.
  const int more = a.label();
  a.op(BPF_LD | BPF_MEM, kProto);
  for (uint8_t t : {kIpv6HopByHop, kIpv6Routing, kIpv6DestOptions, kIpv6Auth, kIpv6Fragment}) a.jeq(t, more);
  a.ja(done);
  a.bind(more);
  a.ja(too_long);
}

}  // namespace

std::vector<sock_filter> fanout_program(const Snapshot& snap) {
  Asm a;
  const int ret0 = a.label(), tagged = a.label(), untagged = a.label(), ip = a.label();
  const int ports = a.label(), icmp = a.label(), inner = a.label(), select = a.label();
  const int by_addresses = a.label(), by_tuple = a.label(), hash = a.label();

  // Without a v6 VIP the program is the v4 one alone: IPv6 frames go to worker 0 like ARP.
  bool has_v6 = false;
  for (const Service& s : snap.services) has_v6 |= s.spec.family == 6;
  const int ip6 = a.label(), untagged6 = a.label();
  // The kernel has pulled the Ethernet header and usually the VLAN tag; a second (inner) tag stays.
  a.op(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(SKF_AD_OFF + SKF_AD_PROTOCOL));
  a.jeq(ETH_P_IP, untagged);
  if (has_v6) a.jeq(ETH_P_IPV6, untagged6);
  a.jeq(ETH_P_8021Q, tagged);
  a.jeq(ETH_P_8021AD, tagged);
  a.ja(ret0);  // ARP and the rest: worker 0
  a.bind(tagged);
  a.op(BPF_LD | BPF_H | BPF_ABS, kNet + 2);
  int inner_ip = a.label(), inner_ip6 = a.label();
  a.jeq(ETH_P_IP, inner_ip);
  if (has_v6) a.jeq(ETH_P_IPV6, inner_ip6);
  a.ja(ret0);
  if (has_v6) {
    a.bind(inner_ip6);
    a.op(BPF_LDX | BPF_W | BPF_IMM, 4);
    a.ja(ip6);
    a.bind(untagged6);
    a.op(BPF_LDX | BPF_W | BPF_IMM, 0);
    a.ja(ip6);
  }
  a.bind(inner_ip);
  a.op(BPF_LDX | BPF_W | BPF_IMM, 4);
  a.ja(ip);
  a.bind(untagged);
  a.op(BPF_LDX | BPF_W | BPF_IMM, 0);

  // X: the IPv4 header's offset from the network header.
  a.bind(ip);
  if (has_v6) {
    a.op(BPF_LD | BPF_W | BPF_IMM, 4);
    a.op(BPF_ST, kFamily);
  }
  load_ind(a, BPF_W, 12);
  a.op(BPF_ST, kSrc);
  load_ind(a, BPF_W, 16);
  a.op(BPF_ST, kDst);
  load_ind(a, BPF_B, 9);
  a.op(BPF_ST, kProto);
  a.op(BPF_LD | BPF_W | BPF_IMM, 0);
  a.op(BPF_ST, kPorts);
  load_ind(a, BPF_H, 6);
  // MF or an offset: a fragment, keyed by its addresses whatever the service. by_addresses lies past
  // every VIP's block, too far for a conditional jump with many VIPs: `ja` reaches it.
  const int whole = a.label();
  a.jset(0x3fff, -1, whole);
  a.ja(by_addresses);
  a.bind(whole);
  skip_ipv4_header(a, 0);  // X: the L4 header
  a.op(BPF_LD | BPF_MEM, kProto);
  a.jeq(kProtoTcp, ports);
  a.jeq(kProtoUdp, ports);
  a.jeq(kProtoIcmp, icmp);
  a.ja(select);
  a.bind(ports);
  load_ind(a, BPF_W, 0);  // source port << 16 | destination port
  a.op(BPF_ST, kPorts);
  a.ja(select);

  // An ICMP error quotes the packet a server sent from the VIP: its destination is the client.
  a.bind(icmp);
  load_ind(a, BPF_B, 0);
  a.jeq(kIcmpDestUnreachable, inner);
  a.jeq(kIcmpTimeExceeded, inner);
  a.ja(select);
  a.bind(inner);
  load_ind(a, BPF_W, kIcmpHeaderLen + 12);
  a.op(BPF_ST, kDst);
  load_ind(a, BPF_W, kIcmpHeaderLen + 16);
  a.op(BPF_ST, kSrc);
  load_ind(a, BPF_B, kIcmpHeaderLen + 9);
  a.op(BPF_ST, kProto);
  skip_ipv4_header(a, kIcmpHeaderLen);
  load_ind(a, BPF_W, kIcmpHeaderLen);
  store_quoted_ports(a);
  if (has_v6) a.ja(select);  // over the v6 part

  // IPv6 (X: its header's offset). Addresses folded to 32 bits (fold_ipv6, as the classifier keys
  // the fanout), then the extension headers walked to the upper layer; every fragment goes by its
  // addresses, and an ICMPv6 error by the flow it quotes, as for v4.
  if (has_v6) {
    const int upper = a.label(), ports6 = a.label(), icmp6 = a.label(), inner6 = a.label(), inner_upper = a.label();
    a.bind(ip6);
    a.op(BPF_LD | BPF_W | BPF_IMM, 6);
    a.op(BPF_ST, kFamily);
    a.op(BPF_STX, kOff);
    fold_ipv6_into(a, kSrc, 8);
    fold_ipv6_into(a, kDst, 24);
    a.op(BPF_LD | BPF_W | BPF_IMM, 0);
    a.op(BPF_ST, kPorts);
    load_ind(a, BPF_B, 6);
    a.op(BPF_ST, kProto);
    a.op(BPF_MISC | BPF_TXA);
    a.op(BPF_ALU | BPF_ADD | BPF_K, kIpv6HeaderLen);
    a.op(BPF_MISC | BPF_TAX);
    walk_ipv6_chain_bpf(a, upper, by_addresses, by_addresses, 0xfff9);  // too long: dropped, any worker
    a.bind(upper);
    a.op(BPF_LD | BPF_MEM, kProto);
    a.jeq(kProtoTcp, ports6);
    a.jeq(kProtoUdp, ports6);
    a.jeq(kProtoIcmpv6, icmp6);
    a.ja(select);
    a.bind(ports6);
    load_ind(a, BPF_W, 0);
    a.op(BPF_ST, kPorts);
    a.ja(select);
    a.bind(icmp6);
    load_ind(a, BPF_B, 0);
    a.jeq(kIcmp6DestUnreachable, inner6);
    a.jeq(kIcmp6PacketTooBig, inner6);
    a.jeq(kIcmp6TimeExceeded, inner6);
    a.jeq(kIcmp6ParamProblem, inner6);
    a.ja(select);
    // The quoted packet went from the VIP to the client: its destination is the client.
    a.bind(inner6);
    a.op(BPF_STX, kOff);
    fold_ipv6_into(a, kDst, kIcmpHeaderLen + 8);
    fold_ipv6_into(a, kSrc, kIcmpHeaderLen + 24);
    load_ind(a, BPF_B, kIcmpHeaderLen + 6);
    a.op(BPF_ST, kProto);
    a.op(BPF_MISC | BPF_TXA);
    a.op(BPF_ALU | BPF_ADD | BPF_K, kIcmpHeaderLen + kIpv6HeaderLen);
    a.op(BPF_MISC | BPF_TAX);
    // A quoted later fragment names no flow (dropped): any worker.
    walk_ipv6_chain_bpf(a, inner_upper, by_addresses, by_addresses, 0xfff8);
    a.bind(inner_upper);
    load_ind(a, BPF_W, 0);
    store_quoted_ports(a);
  }

  // The flow key the service uses, found as Snapshot::find_service does: exact port, then port 0.
  // v4 and v6 VIPs have blocks apart (a v6 VIP is compared by its fold).
  a.bind(select);
  a.op(BPF_LD | BPF_MEM, kPorts);
  a.op(BPF_ALU | BPF_AND | BPF_K, 0xffff);
  a.op(BPF_ST, kDport);
  std::map<std::pair<uint8_t, uint32_t>, std::vector<const ServiceSpec*>> by_vip;
  for (const Service& s : snap.services) by_vip[{s.spec.family, s.spec.vip}].push_back(&s.spec);
  auto target = [&](FlowKeyMode m) { return m == FlowKeyMode::FiveTuple ? by_tuple : by_addresses; };
  std::map<std::pair<uint8_t, uint32_t>, int> blocks;
  const int family6 = a.label();
  if (has_v6) {
    a.op(BPF_LD | BPF_MEM, kFamily);
    const int family4 = a.label();
    a.jeq(6, -1, family4);
    a.ja(family6);
    a.bind(family4);
  }
  for (uint8_t family : {uint8_t{4}, uint8_t{6}}) {
    if (family == 6 && !has_v6) break;
    if (family == 6) a.bind(family6);
    a.op(BPF_LD | BPF_MEM, kDst);
    for (const auto& entry : by_vip) {
      if (entry.first.first != family) continue;
      int skip = a.label();
      blocks[entry.first] = a.label();
      a.jeq(entry.first.second, -1, skip);
      a.ja(blocks[entry.first]);
      a.bind(skip);
    }
    a.ja(by_addresses);  // not a VIP: the frame is dropped, any worker will do
  }
  for (const auto& [vip, specs] : by_vip) {
    a.bind(blocks[vip]);
    bool mixed = false;
    for (const ServiceSpec* s : specs) mixed |= s->flow_key != specs.front()->flow_key;
    if (!mixed) {
      a.ja(target(specs.front()->flow_key));
      continue;
    }
    for (uint8_t proto : {kProtoTcp, kProtoUdp}) {
      int next = a.label(), same = a.label();
      a.op(BPF_LD | BPF_MEM, kProto);
      a.jeq(proto, same);
      a.ja(next);  // past every port of this protocol: too far for a conditional jump
      a.bind(same);
      a.op(BPF_LD | BPF_MEM, kDport);
      const ServiceSpec* all_ports = nullptr;
      for (const ServiceSpec* s : specs) {
        if (s->proto != proto) continue;
        // Two services with one key: the first wins, as in Snapshot::find_service.
        if (s->port == 0) {
          if (!all_ports) all_ports = s;
          continue;
        }
        int other = a.label();
        a.jeq(s->port, -1, other);
        a.ja(target(s->flow_key));
        a.bind(other);
      }
      a.ja(all_ports ? target(all_ports->flow_key) : by_addresses);
      a.bind(next);
    }
    a.ja(by_addresses);
  }

  a.bind(by_tuple);
  a.op(BPF_LD | BPF_MEM, kPorts);
  a.ja(hash);
  a.bind(by_addresses);
  a.op(BPF_LD | BPF_W | BPF_IMM, 0);
  // fanout_mix(src, dst, A); the kernel takes the result modulo the number of workers.
  a.bind(hash);
  a.op(BPF_ST, kHashPorts);
  a.op(BPF_LD | BPF_MEM, kSrc);
  a.op(BPF_ALU | BPF_MUL | BPF_K, kFanoutMul1);
  xor_mem(a, kDst);
  a.op(BPF_ALU | BPF_MUL | BPF_K, kFanoutMul2);
  xor_mem(a, kHashPorts);
  xor_shift(a, 16);
  a.op(BPF_ALU | BPF_MUL | BPF_K, kFanoutMul2);
  xor_shift(a, 13);
  a.op(BPF_ALU | BPF_MUL | BPF_K, kFanoutMul3);
  xor_shift(a, 16);
  a.op(BPF_RET | BPF_A);
  a.bind(ret0);
  a.op(BPF_RET | BPF_K, 0);
  return a.finish();
}

}  // namespace las
