// Turns fuzz bytes into the service specs the addon's convert.cc hands to Snapshot, within the same
// bounds it enforces (ports and weights up to 65535, fewer than 65535 servers per service, a prime
// Maglev size), so what the target finds is reachable from a config. Counts are kept small enough
// for thousands of runs a second; the format is simple so that test/fuzz-corpus seeds can be
// written from TypeScript (bench/fuzz-seeds.ts):
//
//   [services]
//   per service: [vip][port hi][port lo][flags][maglev hi][maglev lo][servers]
//                  flags: bit 0 udp, bit 1 5tuple, bits 2-4 scheduler (% 5: maglev wrr rr wlc sh),
//                         bit 5 "keep", bit 6 a sorry server, bit 7 weights up to 65535 (else
//                         the weight bytes are taken modulo 16: long round-robin sequences are slow)
//                per server: [address][weight hi][weight lo][up: bit 0]
//                sorry server (bit 6): [address][weight hi][weight lo]
//   Addresses are one byte: a VIP is 10.0.0.b, a server 10.0.1.b. Missing bytes read as 0.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../lb/maglev.h"
#include "../lb/snapshot.h"
#include "frame_world.h"

namespace las::fuzz {

constexpr uint32_t kMaxServices = 12;
constexpr uint32_t kMaxServers = 32;
constexpr uint32_t kMaxMaglevBase = 4096;  // sizes up to the next prime: larger ones only cost time

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t u16() {
    uint16_t hi = u8();
    return static_cast<uint16_t>(hi << 8 | u8());
  }
  bool done() const { return pos_ >= size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// The smallest prime >= n.
inline uint32_t prime_at_least(uint32_t n) {
  while (!is_prime(n)) ++n;
  return n;
}

inline std::vector<ServiceSpec> read_specs(ByteReader& in) {
  std::vector<ServiceSpec> specs(in.u8() % (kMaxServices + 1));
  for (ServiceSpec& s : specs) {
    s.vip = ip4(10, 0, 0, in.u8());
    s.port = in.u16();
    const uint8_t flags = in.u8();
    s.proto = flags & 1 ? kProtoUdp : kProtoTcp;
    s.flow_key = flags & 2 ? FlowKeyMode::FiveTuple : FlowKeyMode::Addresses;
    s.scheduler = static_cast<SchedulerKind>((flags >> 2 & 7) % kSchedulerCount);
    s.reschedule_when_down = !(flags & 0x20);
    s.maglev_size = prime_at_least(in.u16() % kMaxMaglevBase);  // convert.cc accepts any prime: 2, 3, 5 too
    const uint32_t n = in.u8() % (kMaxServers + 1);
    for (uint32_t i = 0; i < n; ++i) {
      ServerSpec r{};
      r.addr = ip4(10, 0, 1, in.u8());
      r.mac = Mac{{0x02, 0, 0, 0, 1, static_cast<uint8_t>(r.addr)}};
      r.weight = flags & 0x80 ? in.u16() : in.u16() % 16;
      r.up = in.u8() & 1;
      s.servers.push_back(r);
    }
    if (flags & 0x40) {
      s.has_sorry = true;
      s.sorry.addr = ip4(10, 0, 1, in.u8());
      s.sorry.mac = Mac{{0x02, 0, 0, 0, 1, static_cast<uint8_t>(s.sorry.addr)}};
      s.sorry.weight = in.u16();
    }
  }
  return specs;
}

}  // namespace las::fuzz
