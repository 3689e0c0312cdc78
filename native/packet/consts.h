// Wire constants and the reasons a frame is dropped. Shared by the parser, the classifier and the counters.
#pragma once
#include <cstdint>

namespace las {

constexpr uint16_t kEthIpv4 = 0x0800;
constexpr uint16_t kEthArp = 0x0806;
constexpr uint16_t kEthIpv6 = 0x86dd;
constexpr uint16_t kEthVlan = 0x8100;
constexpr uint16_t kEthQinQ = 0x88a8;

constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIcmpv6 = 58;

// IPv6 extension headers the parser walks (RFC 8200 4.1), and its bound on how many.
constexpr uint8_t kIpv6HopByHop = 0;
constexpr uint8_t kIpv6Routing = 43;
constexpr uint8_t kIpv6Fragment = 44;
constexpr uint8_t kIpv6DestOptions = 60;
constexpr uint8_t kIpv6Auth = 51;  // AH: its length is in 4-byte units, not 8
constexpr int kIpv6MaxExtHeaders = 8;
constexpr uint32_t kIpv6HeaderLen = 40;
constexpr uint32_t kIpv6FragmentHeaderLen = 8;

constexpr uint32_t kEthHeaderLen = 14;
constexpr uint32_t kVlanTagLen = 4;
constexpr uint32_t kIpv4MinHeaderLen = 20;
constexpr uint32_t kTcpMinHeaderLen = 20;
constexpr uint32_t kUdpHeaderLen = 8;
constexpr uint32_t kArpIpv4Len = 28;

constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kTcpRst = 0x04;
constexpr uint8_t kTcpAck = 0x10;

constexpr uint8_t kIcmpDestUnreachable = 3;
constexpr uint8_t kIcmpTimeExceeded = 11;
constexpr uint32_t kIcmpHeaderLen = 8;

// ICMPv6 errors (RFC 4443): each quotes as much of the offending packet as fits.
constexpr uint8_t kIcmp6DestUnreachable = 1;
constexpr uint8_t kIcmp6PacketTooBig = 2;
constexpr uint8_t kIcmp6TimeExceeded = 3;
constexpr uint8_t kIcmp6ParamProblem = 4;

// X-macro so that the enum, its names (counters, JS) and its count never drift apart.
#define LAS_DROP_REASONS(X)          \
  X(TruncatedEthernet, "truncated_ethernet") \
  X(TruncatedVlan, "truncated_vlan")         \
  X(TruncatedIp, "truncated_ip")             \
  X(BadIpVersion, "bad_ip_version")          \
  X(BadIhl, "bad_ihl")                       \
  X(BadIpLength, "bad_ip_length")            \
  X(Fragment, "fragment")                    \
  X(TruncatedL4, "truncated_l4")             \
  X(BadTcpOffset, "bad_tcp_offset")          \
  X(NotIpv4, "not_ipv4")                     \
  X(NoService, "no_service")                 \
  X(NoServer, "no_server")                   \
  X(BadArp, "bad_arp")                       \
  X(ArpIgnored, "arp_ignored")               \
  X(TruncatedCapture, "truncated_capture")   \
  X(IcmpNoFlow, "icmp_no_flow")              \
  X(TxRingFull, "tx_ring_full")              \
  X(TxError, "tx_error")                     \
  X(Oversize, "oversize")                    \
  X(Standby, "standby")                      \
  X(StandbyArp, "standby_arp")              \
  X(TruncatedIpv6, "truncated_ipv6")         \
  X(Ipv6ExtTruncated, "ipv6_ext_truncated")  \
  X(Ipv6ExtTooMany, "ipv6_ext_too_many")      \
  X(BadNdp, "bad_ndp")

enum class DropReason : uint8_t {
#define LAS_ENUM(name, text) name,
  LAS_DROP_REASONS(LAS_ENUM)
#undef LAS_ENUM
  Count
};

constexpr int kDropReasonCount = static_cast<int>(DropReason::Count);

inline const char* drop_reason_name(DropReason r) {
  static const char* const names[] = {
#define LAS_NAME(name, text) text,
      LAS_DROP_REASONS(LAS_NAME)
#undef LAS_NAME
  };
  return names[static_cast<int>(r)];
}

}  // namespace las
