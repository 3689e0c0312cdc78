// Benchmark traffic generator: an AF_PACKET TPACKET_V2 TX ring with PACKET_QDISC_BYPASS, flushed with
// one sendto() per burst. Stands in for kernel pktgen, which the benchmark machines do not have.
//
// Parameter names follow pktgen (Documentation/networking/pktgen.rst) where one exists:
//   dst_mac      -> dst_mac          src_mac  -> src_mac
//   dst          -> dst_ip           (dst port: udp_dst_min == udp_dst_max -> dst_port)
//   src_min/max  -> src_ip_min/max   udp_src_min/max -> src_port_min/max
//   flows        -> flows            flowlen -> always 1 here: every packet moves to the next flow
//   pkt_size     -> packet_size      (pktgen's pkt_size also excludes the FCS)
//   count        -> count            (0 = until duration_ms; pktgen: 0 = forever)
//   burst        -> burst            (pktgen: skbs per xmit; here: frames per sendto() flush)
//   ratep        -> rate_pps
// Not in pktgen: kind (pktgen sends UDP only), duration_ms, cpu (pktgen: one kthread per CPU),
// ring_frames, ipv6 (pktgen has its own dst6/src6: here the source address range is the low 32 bits
// of src_prefix6, so the same flow spaces serve both families).
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "../packet/bytes.h"

namespace las::bench {

enum class GenKind : uint8_t { Udp, TcpSyn, TcpAck };

struct GeneratorConfig {
  std::string ifname;
  Mac src_mac{};
  bool src_mac_set = false;   // false: the interface's own MAC
  Mac dst_mac{};
  uint32_t dst_ip = 0;        // host order, like every address below
  bool ipv6 = false;          // IPv6 frames to dst_ip6, from src_prefix6 with src_ip_min..max as its last 32 bits
  uint8_t dst_ip6[16]{};
  uint8_t src_prefix6[16]{};
  uint16_t dst_port = 0;
  uint32_t src_ip_min = 0, src_ip_max = 0;
  uint16_t src_port_min = 1024, src_port_max = 65535;
  uint32_t flows = 0;         // 0: a random source address and port per packet
  uint32_t packet_size = 60;  // Ethernet frame without FCS
  GenKind kind = GenKind::Udp;
  uint64_t rate_pps = 0;      // 0: as fast as possible
  uint64_t count = 0;         // 0: until duration_ms
  uint64_t duration_ms = 0;   // 0: until count (with count > 0)
  uint32_t burst = 32;
  int cpu = -1;
  uint32_t ring_frames = 4096;
  uint64_t seed = 0;          // 0: from the clock
};

struct GeneratorResult {
  uint64_t sent = 0;       // frames the kernel took from the ring and released
  uint64_t errors = 0;     // frames it refused (TP_STATUS_WRONG_FORMAT) or never sent before the end
  uint64_t ring_full = 0;  // times the next slot was still the kernel's and the generator had to wait
  uint64_t elapsed_ns = 0; // first frame queued .. last frame released
};

// Throws std::invalid_argument naming the option on a bad combination.
void validate(const GeneratorConfig& cfg);

// Runs on the calling thread (pinned to cfg.cpu if >= 0) until count, duration or `stop`.
// Throws std::runtime_error when the socket or ring cannot be set up.
GeneratorResult run_generator(GeneratorConfig cfg, const std::atomic<bool>& stop);

// The first n frames the generator would send with this configuration (same template and rewrite
// code, no socket): for tests that check the frames byte by byte.
std::vector<std::vector<uint8_t>> preview_frames(const GeneratorConfig& cfg, uint32_t n);

}  // namespace las::bench
