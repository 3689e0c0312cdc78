#include "snapshot.h"

#include <algorithm>
#include <cstring>

#include "hash.h"

namespace las {

static uint32_t pow2_at_least(uint32_t n) {
  uint32_t p = 8;
  while (p < n) p <<= 1;
  return p;
}

int Service::server_index(uint32_t addr) const {
  for (uint32_t i = static_cast<uint32_t>(mix64(addr)) & addr_mask;; i = (i + 1) & addr_mask) {
    if (addr_index[i] == kNoServer) return -1;
    if (addr_keys[i] == addr) return addr_index[i];
  }
}

Snapshot::Snapshot(std::vector<ServiceSpec> specs, uint32_t workers, uint64_t gen) : generation(gen) {
  services.resize(specs.size());
  for (size_t s = 0; s < specs.size(); ++s) {
    Service& svc = services[s];
    svc.spec = std::move(specs[s]);
    if (svc.spec.family == 6) svc.spec.vip = fold_ipv6(svc.spec.vip6);
    const size_t real_servers = svc.spec.servers.size();
    if (svc.spec.has_sorry) {
      svc.sorry_index = static_cast<int>(real_servers);
      svc.spec.servers.push_back(svc.spec.sorry);
    }
    svc.first_server = total_servers;
    total_servers += static_cast<uint32_t>(svc.spec.servers.size());
    std::vector<MaglevServer> weighted;  // a down server takes part with weight 0
    for (size_t i = 0; i < real_servers; ++i) {
      const ServerSpec& srv = svc.spec.servers[i];
      weighted.push_back({srv.addr, srv.up ? srv.weight : 0});
    }
    scheduler_of(svc.spec.scheduler).build(svc, weighted);
    uint32_t slots = pow2_at_least(static_cast<uint32_t>(svc.spec.servers.size()) * 2);
    svc.addr_mask = slots - 1;
    svc.addr_keys.assign(slots, 0);
    svc.addr_index.assign(slots, kNoServer);
    for (size_t i = 0; i < svc.spec.servers.size(); ++i) {
      uint32_t a = svc.spec.servers[i].addr;
      uint32_t j = static_cast<uint32_t>(mix64(a)) & svc.addr_mask;
      while (svc.addr_index[j] != kNoServer) j = (j + 1) & svc.addr_mask;
      svc.addr_keys[j] = a;
      svc.addr_index[j] = static_cast<uint16_t>(i);
    }
    if (svc.spec.family == 6) {
      std::array<uint8_t, 16> v;
      std::memcpy(v.data(), svc.spec.vip6, 16);
      vips6.push_back(v);
    } else {
      vips.push_back(svc.spec.vip);
    }
  }
  std::sort(vips.begin(), vips.end());
  vips.erase(std::unique(vips.begin(), vips.end()), vips.end());
  std::sort(vips6.begin(), vips6.end());
  vips6.erase(std::unique(vips6.begin(), vips6.end()), vips6.end());
  for (const auto& v : vips6) vip6_words_.push_back(V6Words{load_u64(v.data()), load_u64(v.data() + 8)});
  std::sort(vip6_words_.begin(), vip6_words_.end());

  index_mask_ = pow2_at_least(static_cast<uint32_t>(services.size()) * 2) - 1;
  index_.assign(index_mask_ + 1, Slot{0, 0, 0, 0, 0, 0});
  for (size_t s = 0; s < services.size(); ++s) {
    const ServiceSpec& sp = services[s].spec;
    uint32_t j = static_cast<uint32_t>(mix64((static_cast<uint64_t>(sp.vip) << 24) ^ (sp.port << 8) ^ sp.proto)) & index_mask_;
    while (index_[j].used) j = (j + 1) & index_mask_;
    index_[j] = Slot{sp.vip, sp.port, sp.proto, 1, static_cast<uint16_t>(s), sp.family};
  }

  counters.resize(workers);
  for (auto& block : counters) {
    block.services.reset(new ServiceCounters[services.size() ? services.size() : 1]);
    block.servers.reset(new ServerCounters[total_servers ? total_servers : 1]);
  }
}

int Snapshot::lookup(uint32_t vip, uint16_t port, uint8_t proto) const {
  for (uint32_t j = static_cast<uint32_t>(mix64((static_cast<uint64_t>(vip) << 24) ^ (port << 8) ^ proto)) & index_mask_;;
       j = (j + 1) & index_mask_) {
    const Slot& s = index_[j];
    if (!s.used) return -1;
    if (s.vip == vip && s.port == port && s.proto == proto && s.family == 4) return s.service;
  }
}

int Snapshot::lookup6(const uint8_t* vip6, uint16_t port, uint8_t proto) const {
  const uint32_t vip = fold_ipv6(vip6);
  for (uint32_t j = static_cast<uint32_t>(mix64((static_cast<uint64_t>(vip) << 24) ^ (port << 8) ^ proto)) & index_mask_;;
       j = (j + 1) & index_mask_) {
    const Slot& s = index_[j];
    if (!s.used) return -1;
    if (s.vip == vip && s.port == port && s.proto == proto && s.family == 6 &&
        std::memcmp(services[s.service].spec.vip6, vip6, 16) == 0)
      return s.service;
  }
}

int Snapshot::find_exact(const ServiceSpec& sp) const {
  return sp.family == 6 ? lookup6(sp.vip6, sp.port, sp.proto) : lookup(sp.vip, sp.port, sp.proto);
}

int Snapshot::find_service6(const uint8_t* vip6, uint16_t port, uint8_t proto) const {
  int s = lookup6(vip6, port, proto);
  return s >= 0 ? s : lookup6(vip6, 0, proto);
}

bool Snapshot::is_vip6(const uint8_t* vip6) const {
  return std::binary_search(vip6_words_.begin(), vip6_words_.end(), V6Words{load_u64(vip6), load_u64(vip6 + 8)});
}

int Snapshot::find_fragment_service6(const uint8_t* vip6, uint8_t proto) const {
  int all_ports = lookup6(vip6, 0, proto);
  return all_ports >= 0 ? all_ports : fragment_service(6, 0, vip6, proto);
}

int Snapshot::find_service(uint32_t vip, uint16_t port, uint8_t proto) const {
  int s = lookup(vip, port, proto);
  return s >= 0 ? s : lookup(vip, 0, proto);
}

int Snapshot::find_fragment_service(uint32_t vip, uint8_t proto) const {
  int all_ports = lookup(vip, 0, proto);
  return all_ports >= 0 ? all_ports : fragment_service(4, vip, nullptr, proto);
}

int Snapshot::fragment_service(uint8_t family, uint32_t vip, const uint8_t* vip6, uint8_t proto) const {
  // A 5-tuple service cannot take a fragment at all (its first fragment was dropped too), so only
  // `addresses` services are candidates.
  int found = -1;
  for (size_t i = 0; i < services.size(); ++i) {
    const ServiceSpec& sp = services[i].spec;
    if (sp.family != family || sp.proto != proto || sp.flow_key != FlowKeyMode::Addresses) continue;
    if (family == 4 ? sp.vip != vip : std::memcmp(sp.vip6, vip6, 16) != 0) continue;
    if (found >= 0) return -1;  // two candidates: only the port, which we do not have, could decide
    found = static_cast<int>(i);
  }
  return found;
}

int Service::previous_choice(const FlowKeyFields& key, uint32_t now_ms) const {
  if (!previous_active(now_ms)) return -1;
  int64_t pos = scheduler_of(spec.scheduler).position(*this, key, 0);
  if (pos < 0 || static_cast<size_t>(pos) >= previous.size()) return -1;
  uint16_t s = previous[pos];
  if (s == kNoServer || static_cast<int>(s) == sorry_index) return -1;
  if (!spec.servers[s].up && spec.reschedule_when_down) return -1;
  return s;
}

// A table of `from`'s server indexes as indexes of `to`'s servers (same addresses), kNoServer for
// a server `to` no longer has.
static std::vector<uint16_t> translate(const std::vector<uint16_t>& table, const Service& from, const Service& to) {
  std::vector<int> map(from.spec.servers.size());
  for (size_t i = 0; i < map.size(); ++i) map[i] = to.server_index(from.spec.servers[i].addr);
  std::vector<uint16_t> out(table.size());
  for (size_t i = 0; i < table.size(); ++i) {
    uint16_t s = table[i];
    out[i] = s < map.size() && map[s] >= 0 ? static_cast<uint16_t>(map[s]) : kNoServer;
  }
  return out;
}

void Snapshot::keep_previous(const Snapshot& before, uint32_t now_ms, uint32_t window_ms) {
  if (window_ms == 0) return;
  for (Service& svc : services) {
    if (!scheduler_of(svc.spec.scheduler).stateless) continue;
    int bi = before.find_exact(svc.spec);  // same family, VIP, port and protocol
    if (bi < 0) continue;
    const Service& old = before.services[bi];
    // Another key or table size hashes flows to other slots: the old table says nothing about them.
    if (old.spec.scheduler != svc.spec.scheduler || old.spec.flow_key != svc.spec.flow_key || old.table.size() != svc.table.size())
      continue;
    std::vector<uint16_t> was = translate(old.table, old, svc);
    if (was != svc.table) {
      svc.previous = std::move(was);
      svc.previous_from_ms = now_ms;
    } else if (old.previous_active(now_ms)) {
      svc.previous = translate(old.previous, old, svc);
      svc.previous_from_ms = old.previous_from_ms;
    } else {
      continue;
    }
    svc.previous_window_ms = window_ms;
  }
}

bool Snapshot::is_vip(uint32_t vip) const { return std::binary_search(vips.begin(), vips.end(), vip); }

}  // namespace las
