// What the oneDNN handlers share (onednn_conv.cc, onednn_lstm.cc): one engine,
// a stream per thread, primitives cached by shape, user-managed scratchpads,
// and ParallelFor, which runs the parts of a batch on XLA's intra-op pool.
// Inline functions and variables: one instance across the translation units of
// the library (the thread setting is set once and read by every handler).

#ifndef CLASSICNETS_ONEDNN_COMMON_H_
#define CLASSICNETS_ONEDNN_COMMON_H_

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"
#include "xla/ffi/api/ffi.h"

namespace classicnets_onednn {

namespace ffi = xla::ffi;
using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

inline dnnl::engine& Engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

inline dnnl::stream& Stream() {
  thread_local dnnl::stream stream(Engine());
  return stream;
}

// Primitives with a scratchpad the caller passes: the parts of a batch run one
// primitive on several threads at once, which oneDNN's own per-primitive
// scratchpad does not allow.
inline const dnnl::primitive_attr& UserScratchpad() {
  static const dnnl::primitive_attr* attr = [] {
    auto* a = new dnnl::primitive_attr();
    a->set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return a;
  }();
  return *attr;
}

// Executes `prim` on this thread's stream with a scratchpad of its own.
// A reorder that takes a scratchpad from its caller, and that scratchpad's size.
struct Reorder {
  dnnl::reorder prim;
  memory::desc scratchpad;
};

inline Reorder MakeReorder(const memory::desc& from, const memory::desc& to) {
  dnnl::reorder::primitive_desc pd(Engine(), from, Engine(), to, UserScratchpad());
  return {dnnl::reorder(pd), pd.scratchpad_desc()};
}

inline void Execute(const dnnl::primitive& prim, const memory::desc& scratchpad,
             std::unordered_map<int, memory> args) {
  args.insert({DNNL_ARG_SCRATCHPAD, memory(scratchpad, Engine())});
  auto& s = Stream();
  prim.execute(s, args);
  s.wait();
}

// The same with the scratchpad in the caller's memory (`scratchpad_data`, at
// least scratchpad.get_size() bytes).
inline void Execute(const dnnl::primitive& prim, const memory::desc& scratchpad,
                    void* scratchpad_data, std::unordered_map<int, memory> args) {
  args.insert({DNNL_ARG_SCRATCHPAD, memory(scratchpad, Engine(), scratchpad_data)});
  auto& s = Stream();
  prim.execute(s, args);
  s.wait();
}

// Hands out 64-byte aligned pieces of one buffer, in order. With no buffer
// (nullptr) it only counts: the same calls then give the buffer's size, so a
// handler's temporary memory can be one XLA buffer sized at trace time and
// reused every step, instead of heap memory taken and given back every call
// (which grew glibc's heap and page-faulted on fresh pages every step).
class Carver {
 public:
  explicit Carver(void* base) : base_(static_cast<char*>(base)) {}
  void* Take(int64_t bytes) {
    char* piece = base_ ? base_ + used_ : nullptr;
    used_ += (bytes + 63) / 64 * 64;
    return piece;
  }
  int64_t used() const { return used_; }

 private:
  char* base_;
  int64_t used_ = 0;
};

inline void Execute(const Reorder& reorder, const memory& from, const memory& to) {
  Execute(reorder.prim, reorder.scratchpad, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
}

// Primitive descriptors and primitives are cached by geometry: building one
// costs more than running a small convolution.
template <typename T>
inline T& Cached(const std::string& key, const std::function<T()>& make) {
  static std::mutex mu;
  static std::unordered_map<std::string, T>* cache = new std::unordered_map<std::string, T>();
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache->find(key);
  if (it == cache->end()) it = cache->emplace(key, make()).first;
  return it->second;
}

// How many parts of a batch run at once, set once by onednn.py (0: as many as
// XLA's intra-op thread pool has threads).
inline std::atomic<int> g_threads{0};
// The most parts any call has split a batch into (tests read it).
inline std::atomic<int64_t> g_most_parts{0};

// Contiguous parts of [0, batch): `parts` ranges whose sizes differ by at most 1.
struct Part {
  int64_t begin, size;
};

inline std::vector<Part> SplitBatch(int64_t batch, int64_t parts) {
  parts = std::max<int64_t>(1, std::min(parts, batch));
  std::vector<Part> out;
  int64_t begin = 0;
  for (int64_t i = 0; i < parts; ++i) {
    int64_t size = batch / parts + (i < batch % parts ? 1 : 0);
    out.push_back({begin, size});
    begin += size;
  }
  return out;
}

inline int64_t Parts(ffi::ThreadPool& pool, int64_t batch) {
  const int64_t pool_threads = std::max<int64_t>(1, pool.num_threads());
  const int requested = g_threads.load(std::memory_order_relaxed);
  return std::min<int64_t>(batch, requested > 0 ? std::min<int64_t>(requested, pool_threads)
                                                 : pool_threads);
}

// Runs body(i) for i in [0, n): on the calling thread and on XLA's intra-op
// pool. Why not oneDNN's own OpenMP team: GNU OpenMP gives every thread that
// starts a parallel region its own workers, and XLA calls a handler from
// whichever of its threads is free, so OpenMP workers of several XLA threads
// and XLA's own threads spun on the same cores; the small CNN's convolutions
// ran 1.5x slower inside a step than alone (docs/speed.md). Here oneDNN runs
// single-threaded on each part, on XLA's threads only.
//
// The caller claims parts too and never waits on a part nobody has started, so
// two handlers that run at once on a pool of two threads cannot deadlock. The
// shared state outlives the call: a helper task may start after every part is
// claimed and the caller has returned.
inline ffi::Error ParallelFor(ffi::ThreadPool& pool, int64_t n, std::function<void(int64_t)> body) {
  struct Shared {
    std::atomic<int64_t> next{0}, done{0};
    int64_t n = 0;
    std::function<void(int64_t)> body;
    std::mutex mu;
    std::string error;
  };
  for (int64_t most = g_most_parts.load(); n > most && !g_most_parts.compare_exchange_weak(most, n);) {
  }
  auto shared = std::make_shared<Shared>();
  shared->n = n;
  shared->body = std::move(body);
  auto work = [shared] {
    if (omp_get_max_threads() != 1) omp_set_num_threads(1);
    for (int64_t i; (i = shared->next.fetch_add(1)) < shared->n;) {
      try {
        shared->body(i);
      } catch (const dnnl::error& e) {
        std::lock_guard<std::mutex> lock(shared->mu);
        if (shared->error.empty()) shared->error = std::string("oneDNN: ") + e.what();
      }
      shared->done.fetch_add(1, std::memory_order_release);
    }
  };
  for (int64_t t = 1; t < n; ++t) pool.Schedule(decltype(work)(work));
  work();
  while (shared->done.load(std::memory_order_acquire) < n) std::this_thread::yield();
  if (!shared->error.empty()) return ffi::Error::Internal(shared->error);
  return ffi::Error::Success();
}

// Runs body on the calling thread, turning oneDNN's exceptions into an error.
inline ffi::Error Guard(const std::function<void()>& body) {
  try {
    body();
  } catch (const dnnl::error& e) {
    return ffi::Error::Internal(std::string("oneDNN: ") + e.what());
  }
  return ffi::Error::Success();
}

}  // namespace classicnets_onednn

#endif  // CLASSICNETS_ONEDNN_COMMON_H_
