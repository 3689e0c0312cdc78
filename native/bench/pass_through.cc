#include "pass_through.h"

#include <cstring>

#include "../io/worker.h"

namespace las::bench {

namespace {

class PassThroughWorker : public Worker {
 public:
  using Worker::Worker;

 private:
  void process_block(tpacket_block_desc* block, const Snapshot& snap, uint32_t) override {
    WorkerCounters& c = state_.counters;
    const ServerSpec* server = snap.services.empty() || snap.services[0].spec.servers.empty()
                                   ? nullptr
                                   : &snap.services[0].spec.servers[0];
    auto* pkt = reinterpret_cast<tpacket3_hdr*>(reinterpret_cast<uint8_t*>(block) + block->hdr.bh1.offset_to_first_pkt);
    for (uint32_t i = 0; i < block->hdr.bh1.num_pkts; ++i) {
      c.rx_packets.add(1);
      c.rx_bytes.add(pkt->tp_len);
      RxFrame f;
      if (open_frame(pkt, f) && fits_egress(f, kEthHeaderLen)) {
        if (!server || f.len < kEthHeaderLen) {
          c.drop(DropReason::NoServer);
        } else {
          std::memcpy(f.data, server->mac.bytes, 6);
          std::memcpy(f.data + 6, state_.egress_mac.bytes, 6);
          forward(f);
        }
      }
      pkt = reinterpret_cast<tpacket3_hdr*>(reinterpret_cast<uint8_t*>(pkt) + pkt->tp_next_offset);
    }
    flush();
    c.batches.add(1);
  }
};

}  // namespace

std::unique_ptr<Worker> make_pass_through_worker(Dataplane& dp, uint32_t index) {
  return std::unique_ptr<Worker>(new PassThroughWorker(dp, index));
}

}  // namespace las::bench
