// NDP for the v6 VIPs (RFC 4861), as arp.h is ARP for the v4 ones: the dispatcher answers Neighbor
// Solicitations for its VIPs itself and announces them with unsolicited Neighbor Advertisements, so
// no VIP is configured on the dispatcher's kernel. Pure functions on byte spans, no sockets.
#pragma once
#include <cstdint>
#include <cstring>

#include "bytes.h"
#include "consts.h"

namespace las::ndp {

constexpr uint8_t kNeighborSolicit = 135;
constexpr uint8_t kNeighborAdvert = 136;
constexpr uint32_t kNsMinLen = 24;           // ICMPv6 header (4) + reserved (4) + target (16)
constexpr uint32_t kNaLen = 32;              // header, flags, target and one target link-layer option
constexpr uint8_t kHopLimit = 255;           // RFC 4861 7.1.1: anything else came through a router
constexpr uint8_t kOptSourceLinkAddr = 1;
constexpr uint8_t kOptTargetLinkAddr = 2;
constexpr uint8_t kFlagSolicited = 0x40;     // first byte of the NA's flags word (Router 0x80 stays clear)
constexpr uint8_t kFlagOverride = 0x20;
// The longest NA LAS sends: Ethernet with two tags, IPv6, the NA with its option.
constexpr uint32_t kMaxAdvertLen = kEthHeaderLen + 2 * kVlanTagLen + kIpv6HeaderLen + kNaLen;
// An unsolicited NA, untagged (the announce socket sends on the ingress interface itself).
constexpr uint32_t kUnsolicitedAdvertLen = kEthHeaderLen + kIpv6HeaderLen + kNaLen;

enum class NsCheck : uint8_t {
  NotNs,      // not an ICMPv6 Neighbor Solicitation right after the IPv6 header: not ours to answer
  Malformed,  // a solicitation RFC 4861 7.1.1 says to discard (or too short to read)
  Valid,
};

struct NeighborSolicit {
  NsCheck check;
  bool dad;               // source :: : a duplicate address detection probe
  uint8_t target[16];
  uint8_t reply_mac[6];   // the source link-layer option if present, else the Ethernet source
};

// One's-complement sum of 16-bit big-endian words (an odd last byte padded with zero), not folded.
inline uint32_t ones_sum(const uint8_t* p, uint32_t n, uint32_t acc) {
  for (; n >= 2; p += 2, n -= 2) acc += load_be16(p);
  if (n) acc += static_cast<uint32_t>(p[0]) << 8;
  return acc;
}

// The ICMPv6 checksum of `icmp` (length n) between src and dst (RFC 8200 8.1), the field counted as is:
// 0 when a received message verifies; over a message whose field is zero, the value to store.
inline uint16_t icmpv6_checksum(const uint8_t* src, const uint8_t* dst, const uint8_t* icmp, uint32_t n) {
  uint32_t acc = ones_sum(src, 16, 0);
  acc = ones_sum(dst, 16, acc);
  acc += (n >> 16) + (n & 0xffff) + kProtoIcmpv6;
  acc = ones_sum(icmp, n, acc);
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(~acc);
}

inline bool is_unspecified(const uint8_t* a) {
  for (int i = 0; i < 16; ++i)
    if (a[i]) return false;
  return true;
}

// ff02::1:ff00:0/104, where a solicitation for an address is sent (RFC 4291 2.7.1).
inline bool is_solicited_node_multicast(const uint8_t* a) {
  static const uint8_t prefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
  return std::memcmp(a, prefix, sizeof prefix) == 0;
}

// The solicited-node multicast address of `addr`, and its Ethernet group 33:33:ff:xx:xx:xx.
inline void solicited_node_multicast(const uint8_t* addr, uint8_t* out) {
  static const uint8_t prefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
  std::memcpy(out, prefix, sizeof prefix);
  std::memcpy(out + 13, addr + 13, 3);
}
inline Mac multicast_mac(const uint8_t* group) {
  return Mac{{0x33, 0x33, group[12], group[13], group[14], group[15]}};
}

// Reads the IPv6 packet at l3 (the ethertype said IPv6) as a Neighbor Solicitation, with every check
// of RFC 4861 7.1.1 that applies to a solicitation: hop limit 255, a valid checksum, code 0, at least
// 24 bytes, a target that is not multicast, options of non-zero length that fit, and for a DAD probe a
// solicited-node destination and no source link-layer option. Extension headers before the ICMPv6
// header are not walked: no host sends a solicitation behind them (NotNs, left to the rest of the path).
inline NeighborSolicit parse_neighbor_solicit(const uint8_t* frame, uint32_t len, uint32_t l3) {
  NeighborSolicit ns{};
  ns.check = NsCheck::NotNs;
  if (len < l3 + kIpv6HeaderLen) return ns;
  const uint8_t* ip = frame + l3;
  if ((ip[0] >> 4) != 6 || ip[6] != kProtoIcmpv6) return ns;
  const uint32_t payload = load_be16(ip + 4);
  const uint8_t* icmp = ip + kIpv6HeaderLen;
  // The type is read only once the header is known to be there.
  if (payload < 1 || len < l3 + kIpv6HeaderLen + 1 || icmp[0] != kNeighborSolicit) return ns;
  ns.check = NsCheck::Malformed;
  if (payload < kNsMinLen || len < l3 + kIpv6HeaderLen + payload) return ns;
  if (ip[7] != kHopLimit || icmp[1] != 0) return ns;
  if (icmpv6_checksum(ip + 8, ip + 24, icmp, payload) != 0) return ns;
  const uint8_t* target = icmp + 8;
  if (target[0] == 0xff) return ns;
  std::memcpy(ns.reply_mac, frame + 6, 6);
  bool has_source_link = false;
  for (uint32_t off = kNsMinLen; off < payload;) {
    if (payload - off < 2) return ns;
    const uint32_t opt_len = static_cast<uint32_t>(icmp[off + 1]) * 8;
    if (opt_len == 0 || opt_len > payload - off) return ns;
    if (icmp[off] == kOptSourceLinkAddr && opt_len >= 8) {
      has_source_link = true;
      std::memcpy(ns.reply_mac, icmp + off + 2, 6);
    }
    off += opt_len;
  }
  ns.dad = is_unspecified(ip + 8);
  if (ns.dad && (!is_solicited_node_multicast(ip + 24) || has_source_link)) return ns;
  std::memcpy(ns.target, target, 16);
  ns.check = NsCheck::Valid;
  return ns;
}

namespace detail {
// IPv6 + NA for `target` at our_mac, from `src` to `dst`, at ip; returns the bytes written.
inline uint32_t write_advert(uint8_t* ip, const uint8_t* target, const uint8_t* dst, uint8_t flags, const Mac& our_mac) {
  std::memset(ip, 0, kIpv6HeaderLen + kNaLen);
  ip[0] = 0x60;
  store_be16(ip + 4, kNaLen);
  ip[6] = kProtoIcmpv6;
  ip[7] = kHopLimit;
  std::memcpy(ip + 8, target, 16);
  std::memcpy(ip + 24, dst, 16);
  uint8_t* na = ip + kIpv6HeaderLen;
  na[0] = kNeighborAdvert;
  na[4] = flags;
  std::memcpy(na + 8, target, 16);
  na[24] = kOptTargetLinkAddr;
  na[25] = 1;  // in units of 8 bytes
  std::memcpy(na + 26, our_mac.bytes, 6);
  store_be16(na + 2, icmpv6_checksum(ip + 8, ip + 24, na, kNaLen));
  return kIpv6HeaderLen + kNaLen;
}
inline const uint8_t* all_nodes() {
  static const uint8_t a[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
  return a;
}
}  // namespace detail

// The advertisement answering `ns` (parsed from `frame`, IPv6 at l3), written to `out` (room for
// kMaxAdvertLen bytes; it may not overlap the frame: an NA can be 8 bytes longer than the NS it
// answers, which has no option then). Same VLAN tags as the solicitation. Solicited and Override set,
// Router clear; a DAD probe is answered to all-nodes ff02::1 with Solicited clear (RFC 4861 7.2.4).
// Returns the frame length.
inline uint32_t build_solicited_advert(uint8_t* out, const uint8_t* frame, uint32_t l3, const NeighborSolicit& ns,
                                       const Mac& our_mac) {
  const uint8_t* ip = frame + l3;
  std::memcpy(out + 6, our_mac.bytes, 6);
  std::memcpy(out + 12, frame + 12, l3 - 12);  // VLAN tags and the ethertype
  if (ns.dad) {
    const uint8_t* group = detail::all_nodes();
    const Mac m = multicast_mac(group);
    std::memcpy(out, m.bytes, 6);
    return l3 + detail::write_advert(out + l3, ns.target, group, kFlagOverride, our_mac);
  }
  std::memcpy(out, ns.reply_mac, 6);
  return l3 + detail::write_advert(out + l3, ns.target, ip + 8, kFlagSolicited | kFlagOverride, our_mac);
}

// An unsolicited advertisement of `vip` at our_mac to all-nodes, Override set (RFC 4861 7.2.6): the
// gratuitous ARP of IPv6. out has room for kUnsolicitedAdvertLen bytes.
inline uint32_t build_unsolicited_advert(uint8_t* out, const Mac& our_mac, const uint8_t* vip) {
  const uint8_t* group = detail::all_nodes();
  const Mac m = multicast_mac(group);
  std::memcpy(out, m.bytes, 6);
  std::memcpy(out + 6, our_mac.bytes, 6);
  store_be16(out + 12, kEthIpv6);
  return kEthHeaderLen + detail::write_advert(out + kEthHeaderLen, vip, group, kFlagOverride, our_mac);
}

}  // namespace las::ndp
