// Benchmark sink: counts the frames an interface receives, per destination MAC, from a TPACKET_V3 RX
// ring in its own thread. The counters are written by that thread only and read without a lock.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../io/packet_socket.h"
#include "../lb/snapshot.h"

namespace las::bench {

struct SinkOptions {
  uint32_t block_size = 1u << 20;  // the daemon's RX ring defaults (ring.blockSize, blockCount, retireTimeoutMs)
  uint32_t block_count = 32;
  uint32_t retire_timeout_ms = 10;
  uint32_t keep_frames = 0;        // copies of the first frames received, for checking their bytes
};

struct SinkCounts {
  uint64_t total = 0;
  uint64_t other_macs = 0;  // frames to destination MACs beyond the table's 256
  uint64_t ring_drops = 0;
  std::vector<std::pair<Mac, uint64_t>> by_dst_mac;
};

class Sink {
 public:
  static constexpr uint32_t kMacSlots = 256;
  static constexpr uint32_t kMaxKeptFrames = 1024;
  static constexpr uint32_t kKeptFrameBytes = 2048;

  Sink(std::string ifname, SinkOptions options);
  ~Sink();
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  // Opens the ring and starts counting from zero. Throws std::runtime_error.
  void start();
  // Stops the thread, takes the last ring statistics and closes the ring. Idempotent.
  void stop();
  bool running() const { return thread_.joinable(); }
  // Safe while running, from the thread that calls start()/stop().
  SinkCounts counts();
  std::vector<std::vector<uint8_t>> frames() const;

 private:
  // A MAC slot is claimed once (key published with release after its count is zero) and never freed
  // while running, so a reader that sees the key may read the count.
  struct alignas(16) MacSlot {
    std::atomic<uint64_t> key{0};  // MAC in the low 48 bits, bit 48 = used
    Counter count;
  };

  void run();
  void count_frame(const uint8_t* frame, uint32_t snaplen, uint32_t wire_len);
  void collect_ring_stats();

  std::string ifname_;
  SinkOptions options_;
  std::unique_ptr<RxRing> ring_;
  std::thread thread_;
  std::atomic<bool> running_{false};

  std::unique_ptr<MacSlot[]> macs_;
  Counter total_;
  Counter other_macs_;
  uint64_t ring_drops_ = 0;  // touched only by the start()/stop()/counts() thread
  uint64_t last_key_ = 0;    // the sink thread's one-entry cache: floods go to one MAC
  MacSlot* last_slot_ = nullptr;

  std::unique_ptr<uint8_t[]> kept_;  // keep_frames x kKeptFrameBytes, allocated at start()
  std::unique_ptr<uint32_t[]> kept_len_;
  std::atomic<uint32_t> kept_count_{0};
};

}  // namespace las::bench
