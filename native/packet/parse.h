// Ethernet / 802.1Q / IPv4 or IPv6 (with its extension headers) / TCP-UDP parsing with every length checked against the captured bytes.
// Pure: no sockets, no state, so the same code runs on ring frames and on golden test frames.
#pragma once
#include <cstdint>
#include <cstring>

#include "bytes.h"
#include "consts.h"

namespace las {

enum class FrameKind : uint8_t { Ipv4, Arp, Other, Malformed, Ipv6 };

struct ParsedFrame {
  FrameKind kind;
  DropReason reason;      // set when kind == Malformed
  uint16_t ethertype;     // innermost
  uint32_t l3_offset;     // start of the IPv4, IPv6 or ARP header
  // IPv4 (host byte order). For IPv6: fold_ipv6() of src6/dst6, what the fanout and schedulers hash.
  uint32_t src;
  uint32_t dst;
  uint8_t proto;          // IPv6: the upper-layer protocol found after the extension headers
  uint8_t tcp_flags;
  bool is_fragment;       // MF set or offset != 0
  bool has_ports;         // TCP/UDP header present (first or only fragment)
  uint16_t sport;
  uint16_t dport;
  uint32_t l4_offset;
  uint32_t ip_end;        // l3_offset + IPv4 total length / 40 + IPv6 payload length (padding excluded)
  // IPv6 only: the addresses as on the wire.
  uint8_t src6[16];
  uint8_t dst6[16];
};

// Where an IPv6 extension-header chain ends: the upper-layer protocol and its offset.
struct Ipv6Chain {
  DropReason reason;   // Count when the chain is well formed
  uint8_t proto;
  uint32_t l4_offset;
  bool is_fragment;    // a fragment header with M set or a non-zero offset (not an atomic fragment)
  bool later_fragment; // offset != 0: no upper-layer header here
};

// Walks hop-by-hop, routing, destination options, AH and fragment headers from `off` (just after
// the fixed header) with `next` the fixed header's next-header; every header must fit before `end`.
// Offsets only grow, so a "looping" chain is a long one: more than kIpv6MaxExtHeaders is refused.
inline Ipv6Chain walk_ipv6_chain(const uint8_t* frame, uint32_t off, uint32_t end, uint8_t next) {
  Ipv6Chain c{DropReason::Count, next, off, false, false};
  for (int n = 0;; ++n) {
    if (next != kIpv6HopByHop && next != kIpv6Routing && next != kIpv6DestOptions && next != kIpv6Fragment &&
        next != kIpv6Auth) {
      c.proto = next;
      c.l4_offset = off;
      return c;
    }
    if (n == kIpv6MaxExtHeaders) {
      c.reason = DropReason::Ipv6ExtTooMany;
      return c;
    }
    if (end < off + 2) {
      c.reason = DropReason::Ipv6ExtTruncated;
      return c;
    }
    uint32_t hlen = next == kIpv6Fragment ? kIpv6FragmentHeaderLen
                    : next == kIpv6Auth   ? (static_cast<uint32_t>(frame[off + 1]) + 2) * 4
                                          : (static_cast<uint32_t>(frame[off + 1]) + 1) * 8;
    if (end < off + hlen) {
      c.reason = DropReason::Ipv6ExtTruncated;
      return c;
    }
    if (next == kIpv6Fragment) {
      uint16_t word = load_be16(frame + off + 2);  // offset (13 bits) << 3 | reserved | M
      c.is_fragment = c.is_fragment || (word & 0xfff9) != 0;
      if ((word >> 3) != 0) {
        c.later_fragment = true;
        c.proto = frame[off];
        c.l4_offset = off + hlen;
        return c;
      }
    }
    next = frame[off];
    off += hlen;
  }
}

// The TCP/UDP ports of a frame whose proto, l4_offset and ip_end are set; Count when fine.
inline DropReason parse_ports(const uint8_t* frame, ParsedFrame& f) {
  if (f.proto == kProtoTcp) {
    if (f.ip_end < f.l4_offset + kTcpMinHeaderLen) return DropReason::TruncatedL4;
    const uint8_t* tcp = frame + f.l4_offset;
    if ((tcp[12] >> 4) < 5) return DropReason::BadTcpOffset;
    f.sport = load_be16(tcp);
    f.dport = load_be16(tcp + 2);
    f.tcp_flags = tcp[13];
    f.has_ports = true;
  } else if (f.proto == kProtoUdp) {
    if (f.ip_end < f.l4_offset + kUdpHeaderLen) return DropReason::TruncatedL4;
    f.sport = load_be16(frame + f.l4_offset);
    f.dport = load_be16(frame + f.l4_offset + 2);
    f.has_ports = true;
  }
  return DropReason::Count;
}

inline ParsedFrame malformed(DropReason r) {
  ParsedFrame f{};
  f.kind = FrameKind::Malformed;
  f.reason = r;
  return f;
}

// The IPv6 part of parse_frame: f has ethertype and l3_offset set.
inline ParsedFrame parse_ipv6(const uint8_t* frame, uint32_t len, ParsedFrame& f) {
  const uint32_t off = f.l3_offset;
  if (len < off + kIpv6HeaderLen) return malformed(DropReason::TruncatedIpv6);
  const uint8_t* ip = frame + off;
  if ((ip[0] >> 4) != 6) return malformed(DropReason::BadIpVersion);
  f.ip_end = off + kIpv6HeaderLen + load_be16(ip + 4);
  if (len < f.ip_end) return malformed(DropReason::TruncatedIpv6);
  Ipv6Chain c = walk_ipv6_chain(frame, off + kIpv6HeaderLen, f.ip_end, ip[6]);
  if (c.reason != DropReason::Count) return malformed(c.reason);
  f.kind = FrameKind::Ipv6;
  std::memcpy(f.src6, ip + 8, 16);
  std::memcpy(f.dst6, ip + 24, 16);
  f.src = fold_ipv6(f.src6);
  f.dst = fold_ipv6(f.dst6);
  f.proto = c.proto;
  f.l4_offset = c.l4_offset;
  f.is_fragment = c.is_fragment;
  if (c.later_fragment) return f;
  DropReason r = parse_ports(frame, f);
  if (r != DropReason::Count) return malformed(r);
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
  if (type == kEthIpv6) return parse_ipv6(frame, len, f);
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
  DropReason r = parse_ports(frame, f);
  if (r != DropReason::Count) return malformed(r);
  return f;
}

}  // namespace las
