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

// Scratch memory slots.
enum : uint32_t { kSrc, kDst, kProto, kPorts, kTmp, kDport, kHashPorts };

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

}  // namespace

std::vector<sock_filter> fanout_program(const Snapshot& snap) {
  Asm a;
  const int ret0 = a.label(), tagged = a.label(), untagged = a.label(), ip = a.label();
  const int ports = a.label(), icmp = a.label(), inner = a.label(), select = a.label();
  const int by_addresses = a.label(), by_tuple = a.label(), hash = a.label();

  // The kernel has pulled the Ethernet header and usually the VLAN tag; a second (inner) tag stays.
  a.op(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(SKF_AD_OFF + SKF_AD_PROTOCOL));
  a.jeq(ETH_P_IP, untagged);
  a.jeq(ETH_P_8021Q, tagged);
  a.jeq(ETH_P_8021AD, tagged);
  a.ja(ret0);  // ARP and the rest: worker 0
  a.bind(tagged);
  a.op(BPF_LD | BPF_H | BPF_ABS, kNet + 2);
  int inner_ip = a.label();
  a.jeq(ETH_P_IP, inner_ip);
  a.ja(ret0);
  a.bind(inner_ip);
  a.op(BPF_LDX | BPF_W | BPF_IMM, 4);
  a.ja(ip);
  a.bind(untagged);
  a.op(BPF_LDX | BPF_W | BPF_IMM, 0);

  // X: the IPv4 header's offset from the network header.
  a.bind(ip);
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
  load_ind(a, BPF_W, kIcmpHeaderLen);  // VIP port << 16 | client port: swap the halves
  a.op(BPF_ST, kTmp);
  a.op(BPF_ALU | BPF_RSH | BPF_K, 16);
  a.op(BPF_MISC | BPF_TAX);
  a.op(BPF_LD | BPF_MEM, kTmp);
  a.op(BPF_ALU | BPF_LSH | BPF_K, 16);
  a.op(BPF_ALU | BPF_OR | BPF_X);
  a.op(BPF_ST, kPorts);

  // The flow key the service uses, found as Snapshot::find_service does: exact port, then port 0.
  a.bind(select);
  a.op(BPF_LD | BPF_MEM, kPorts);
  a.op(BPF_ALU | BPF_AND | BPF_K, 0xffff);
  a.op(BPF_ST, kDport);
  std::map<uint32_t, std::vector<const ServiceSpec*>> by_vip;
  for (const Service& s : snap.services) by_vip[s.spec.vip].push_back(&s.spec);
  auto target = [&](FlowKeyMode m) { return m == FlowKeyMode::FiveTuple ? by_tuple : by_addresses; };
  std::map<uint32_t, int> blocks;
  a.op(BPF_LD | BPF_MEM, kDst);
  for (const auto& entry : by_vip) {
    int skip = a.label();
    blocks[entry.first] = a.label();
    a.jeq(entry.first, -1, skip);
    a.ja(blocks[entry.first]);
    a.bind(skip);
  }
  a.ja(by_addresses);  // not a VIP: the frame is dropped, any worker will do
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
