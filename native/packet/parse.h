// Ethernet / 802.1Q / IPv4 / TCP-UDP parsing with every length checked against the captured bytes.
// Pure: no sockets, no state, so the same code runs on ring frames and on golden test frames.
#pragma once
#include <cstdint>

#include "bytes.h"
#include "consts.h"

namespace las {

enum class FrameKind : uint8_t { Ipv4, Arp, Other, Malformed };

struct ParsedFrame {
  FrameKind kind;
  DropReason reason;      // set when kind == Malformed
  uint16_t ethertype;     // innermost
  uint32_t l3_offset;     // start of the IPv4 or ARP header
  // IPv4 (host byte order)
  uint32_t src;
  uint32_t dst;
  uint8_t proto;
  uint8_t tcp_flags;
  bool is_fragment;       // MF set or offset != 0
  bool has_ports;         // TCP/UDP header present (first or only fragment)
  uint16_t sport;
  uint16_t dport;
  uint32_t l4_offset;
  uint32_t ip_end;        // l3_offset + IPv4 total length (frame padding excluded)
};

inline ParsedFrame malformed(DropReason r) {
  ParsedFrame f{};
  f.kind = FrameKind::Malformed;
  f.reason = r;
  return f;
}

inline ParsedFrame parse_frame(const uint8_t* frame, uint32_t len) {
  if (len < kEthHeaderLen) return malformed(DropReason::TruncatedEthernet);
  ParsedFrame f{};
  uint32_t off = 12;
  uint16_t type = load_be16(frame + off);
  // Up to two tags (802.1ad outer + 802.1Q inner); more is not something a dispatcher should see.
  for (int tags = 0; (type == kEthVlan || type == kEthQinQ) && tags < 2; ++tags) {
    if (len < off + kVlanTagLen + 2) return malformed(DropReason::TruncatedVlan);
    off += kVlanTagLen;
    type = load_be16(frame + off);
  }
  off += 2;
  f.ethertype = type;
  f.l3_offset = off;
  if (type == kEthArp) {
    f.kind = FrameKind::Arp;
    return f;
  }
  if (type != kEthIpv4) {
    f.kind = FrameKind::Other;
    return f;
  }
  if (len < off + kIpv4MinHeaderLen) return malformed(DropReason::TruncatedIp);
  const uint8_t* ip = frame + off;
  if ((ip[0] >> 4) != 4) return malformed(DropReason::BadIpVersion);
  uint32_t ihl = static_cast<uint32_t>(ip[0] & 0x0f) * 4;
  if (ihl < kIpv4MinHeaderLen || len < off + ihl) return malformed(DropReason::BadIhl);
  uint32_t total = load_be16(ip + 2);
  if (total < ihl || len < off + total) return malformed(DropReason::BadIpLength);
  f.kind = FrameKind::Ipv4;
  f.src = load_be32(ip + 12);
  f.dst = load_be32(ip + 16);
  f.proto = ip[9];
  f.ip_end = off + total;
  uint16_t frag = load_be16(ip + 6);
  bool more_fragments = (frag & 0x2000) != 0;
  uint16_t frag_offset = frag & 0x1fff;
  f.is_fragment = more_fragments || frag_offset != 0;
  f.l4_offset = off + ihl;
  if (frag_offset != 0) return f;  // no L4 header in a non-first fragment
  if (f.proto == kProtoTcp) {
    if (f.ip_end < f.l4_offset + kTcpMinHeaderLen) return malformed(DropReason::TruncatedL4);
    const uint8_t* tcp = frame + f.l4_offset;
    if ((tcp[12] >> 4) < 5) return malformed(DropReason::BadTcpOffset);
    f.sport = load_be16(tcp);
    f.dport = load_be16(tcp + 2);
    f.tcp_flags = tcp[13];
    f.has_ports = true;
  } else if (f.proto == kProtoUdp) {
    if (f.ip_end < f.l4_offset + kUdpHeaderLen) return malformed(DropReason::TruncatedL4);
    f.sport = load_be16(frame + f.l4_offset);
    f.dport = load_be16(frame + f.l4_offset + 2);
    f.has_ports = true;
  }
  return f;
}

}  // namespace las
