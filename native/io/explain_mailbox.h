// `las explain` questions to one I/O thread. The flow-table shard has one writer, its I/O thread, so
// the thread itself answers, between batches (as it applies expiry commands): the asker posts a
// request and waits, the thread sees it with one relaxed load per batch and signals when done.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "../dataplane/explain.h"

namespace las {

struct ExplainRequest {
  const std::vector<ExplainTuple>* tuples;
  std::vector<Explanation> answers;  // filled by the I/O thread, one per tuple
};

class ExplainMailbox {
 public:
  // Asker side (callers serialise among themselves).
  void post(ExplainRequest* r) {
    {
      std::lock_guard<std::mutex> lock(m_);
      done_ = false;
    }
    pending_.store(r, std::memory_order_release);
  }
  // True once answered; false when the thread did not take the request by the deadline (it is
  // withdrawn then, so the thread never touches it afterwards).
  bool wait(ExplainRequest* r, std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(m_);
    if (cv_.wait_until(lock, deadline, [&] { return done_; })) return true;
    ExplainRequest* expected = r;
    if (pending_.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel)) return false;
    cv_.wait(lock, [&] { return done_; });  // taken just now: the answer is being written
    return true;
  }

  // I/O thread side: the request to answer, if any; finish() after answering it.
  ExplainRequest* take() {
    if (!pending_.load(std::memory_order_relaxed)) return nullptr;
    return pending_.exchange(nullptr, std::memory_order_acq_rel);
  }
  void finish() {
    {
      std::lock_guard<std::mutex> lock(m_);
      done_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::atomic<ExplainRequest*> pending_{nullptr};
  std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false;
};

}  // namespace las
