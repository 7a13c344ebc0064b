// 2-D convolutions on the CPU through oneDNN, as XLA FFI handlers.
//
// Three handlers, one per pass of a convolution layer: the forward pass, the
// input gradient and the kernel gradient. Activations are NHWC and kernels
// HWIO (Flax's layouts); all operands float32, or all bfloat16 (oneDNN
// accumulates those in float32, and uses AVX512_BF16 where the CPU has it).
// Strides and explicit paddings are
// attributes; dilation 1, one group. oneDNN chooses its own kernel layout
// (`format_tag::any`); the kernel is reordered to it and back around each call
// (a few KB to a few MB, against megabytes of activations).
//
// research/kernels/onednn.py builds this file, registers the handlers and
// wraps them in a custom VJP.

#include <omp.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "oneapi/dnnl/dnnl.hpp"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

namespace {

dnnl::engine& Engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& Stream() {
  thread_local dnnl::stream stream(Engine());
  return stream;
}

struct Geometry {
  memory::dims src, weights, dst, strides, pad_l, pad_r;
  dt type;
};

// NHWC input, HWIO kernel, NHWC output -> oneDNN's logical NCHW / OIHW dims.
Geometry MakeGeometry(ffi::Span<const int64_t> x, ffi::Span<const int64_t> w,
                      ffi::Span<const int64_t> y, int64_t sh, int64_t sw, int64_t pt,
                      int64_t pb, int64_t pl, int64_t pr) {
  Geometry g;
  g.src = {x[0], x[3], x[1], x[2]};
  g.weights = {w[3], w[2], w[0], w[1]};
  g.dst = {y[0], y[3], y[1], y[2]};
  g.strides = {sh, sw};
  g.pad_l = {pt, pl};
  g.pad_r = {pb, pr};
  g.type = dt::f32;
  return g;
}

// The oneDNN type of an operand: float32 or bfloat16, the same for all three.
ffi::Error TypeOf(ffi::DataType a, ffi::DataType b, ffi::DataType c, dt* type) {
  if (a != b || a != c) {
    return ffi::Error::InvalidArgument("onednn_conv: operands of different dtypes");
  }
  if (a == ffi::DataType::F32) {
    *type = dt::f32;
  } else if (a == ffi::DataType::BF16) {
    *type = dt::bf16;
  } else {
    return ffi::Error::InvalidArgument("onednn_conv: float32 or bfloat16 operands only");
  }
  return ffi::Error::Success();
}

ffi::Error CheckShapes(ffi::Span<const int64_t> x, ffi::Span<const int64_t> w,
                       ffi::Span<const int64_t> y) {
  if (x.size() != 4 || w.size() != 4 || y.size() != 4) {
    return ffi::Error::InvalidArgument("onednn_conv: operands must be rank 4 (NHWC, HWIO)");
  }
  if (x[3] != w[2] || y[3] != w[3] || x[0] != y[0]) {
    return ffi::Error::InvalidArgument("onednn_conv: channel or batch sizes disagree");
  }
  return ffi::Error::Success();
}

dnnl::convolution_forward::primitive_desc ForwardDesc(const Geometry& g) {
  return dnnl::convolution_forward::primitive_desc(
      Engine(), dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
      memory::desc(g.src, g.type, tag::nhwc), memory::desc(g.weights, g.type, tag::any),
      memory::desc(g.dst, g.type, tag::nhwc), g.strides, g.pad_l, g.pad_r);
}

// Primitive descriptors and primitives are cached by geometry: building one
// costs more than running a small convolution.
template <typename T>
T& Cached(const std::string& key, const std::function<T()>& make) {
  static std::mutex mu;
  static std::unordered_map<std::string, T>* cache = new std::unordered_map<std::string, T>();
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache->find(key);
  if (it == cache->end()) it = cache->emplace(key, make()).first;
  return it->second;
}

std::string Key(const char* pass, const Geometry& g) {
  std::string k(pass);
  k += g.type == dt::bf16 ? ":bf16;" : ":f32;";
  for (const auto* d : {&g.src, &g.weights, &g.dst, &g.strides, &g.pad_l, &g.pad_r}) {
    for (auto v : *d) k += "," + std::to_string(v);
    k += ";";
  }
  return k;
}

struct FwdEntry {
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  dnnl::reorder weights_in;
  bool reorder_weights;
};

struct BwdDataEntry {
  dnnl::convolution_backward_data::primitive_desc pd;
  dnnl::convolution_backward_data prim;
  dnnl::reorder weights_in;
  bool reorder_weights;
};

struct BwdWeightsEntry {
  dnnl::convolution_backward_weights::primitive_desc pd;
  dnnl::convolution_backward_weights prim;
  dnnl::reorder weights_out;
  bool reorder_weights;
};

// The number of OpenMP threads a convolution may use, set once by onednn.py
// (0: OpenMP's own default). The OpenMP team size is a per-thread setting, and
// XLA calls these handlers from whichever of its threads is free, so every
// call sets it on its own thread.
std::atomic<int> g_threads{0};

ffi::Error Run(const std::function<void()>& body) {
  const int threads = g_threads.load(std::memory_order_relaxed);
  if (threads > 0 && omp_get_max_threads() != threads) omp_set_num_threads(threads);
  try {
    body();
  } catch (const dnnl::error& e) {
    return ffi::Error::Internal(std::string("oneDNN: ") + e.what());
  }
  return ffi::Error::Success();
}

ffi::Error ConvForwardImpl(ffi::AnyBuffer x, ffi::AnyBuffer w,
                           ffi::Result<ffi::AnyBuffer> y, int64_t stride_h, int64_t stride_w,
                           int64_t pad_top, int64_t pad_bottom, int64_t pad_left,
                           int64_t pad_right) {
  if (auto e = CheckShapes(x.dimensions(), w.dimensions(), y->dimensions()); e.failure()) return e;
  Geometry g = MakeGeometry(x.dimensions(), w.dimensions(), y->dimensions(), stride_h, stride_w,
                            pad_top, pad_bottom, pad_left, pad_right);
  if (auto e = TypeOf(x.element_type(), w.element_type(), y->element_type(), &g.type);
      e.failure()) {
    return e;
  }
  return Run([&] {
    FwdEntry& c = Cached<FwdEntry>(Key("fwd", g), [&] {
      auto pd = ForwardDesc(g);
      memory::desc user_w(g.weights, g.type, tag::hwio);
      bool re = pd.weights_desc() != user_w;
      return FwdEntry{pd, dnnl::convolution_forward(pd),
                      re ? dnnl::reorder(dnnl::reorder::primitive_desc(
                               Engine(), user_w, Engine(), pd.weights_desc()))
                         : dnnl::reorder(),
                      re};
    });
    auto& s = Stream();
    memory src(c.pd.src_desc(), Engine(), x.untyped_data());
    memory user_w(memory::desc(g.weights, g.type, tag::hwio), Engine(), w.untyped_data());
    memory dst(c.pd.dst_desc(), Engine(), y->untyped_data());
    memory wts = user_w;
    if (c.reorder_weights) {
      wts = memory(c.pd.weights_desc(), Engine());
      c.weights_in.execute(s, user_w, wts);
    }
    c.prim.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wts}, {DNNL_ARG_DST, dst}});
    s.wait();
  });
}

ffi::Error ConvInputGradImpl(ffi::AnyBuffer dy, ffi::AnyBuffer w,
                             ffi::Result<ffi::AnyBuffer> dx, int64_t stride_h, int64_t stride_w,
                             int64_t pad_top, int64_t pad_bottom, int64_t pad_left,
                             int64_t pad_right) {
  if (auto e = CheckShapes(dx->dimensions(), w.dimensions(), dy.dimensions()); e.failure()) {
    return e;
  }
  Geometry g = MakeGeometry(dx->dimensions(), w.dimensions(), dy.dimensions(), stride_h, stride_w,
                            pad_top, pad_bottom, pad_left, pad_right);
  if (auto e = TypeOf(dy.element_type(), w.element_type(), dx->element_type(), &g.type);
      e.failure()) {
    return e;
  }
  return Run([&] {
    BwdDataEntry& c = Cached<BwdDataEntry>(Key("bwd_data", g), [&] {
      auto hint = ForwardDesc(g);
      auto pd = dnnl::convolution_backward_data::primitive_desc(
          Engine(), dnnl::algorithm::convolution_direct,
          memory::desc(g.src, g.type, tag::nhwc), memory::desc(g.weights, g.type, tag::any),
          memory::desc(g.dst, g.type, tag::nhwc), g.strides, g.pad_l, g.pad_r, hint);
      memory::desc user_w(g.weights, g.type, tag::hwio);
      bool re = pd.weights_desc() != user_w;
      return BwdDataEntry{pd, dnnl::convolution_backward_data(pd),
                          re ? dnnl::reorder(dnnl::reorder::primitive_desc(
                                   Engine(), user_w, Engine(), pd.weights_desc()))
                             : dnnl::reorder(),
                          re};
    });
    auto& s = Stream();
    memory diff_dst(c.pd.diff_dst_desc(), Engine(), dy.untyped_data());
    memory user_w(memory::desc(g.weights, g.type, tag::hwio), Engine(), w.untyped_data());
    memory diff_src(c.pd.diff_src_desc(), Engine(), dx->untyped_data());
    memory wts = user_w;
    if (c.reorder_weights) {
      wts = memory(c.pd.weights_desc(), Engine());
      c.weights_in.execute(s, user_w, wts);
    }
    c.prim.execute(s, {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, wts},
                       {DNNL_ARG_DIFF_SRC, diff_src}});
    s.wait();
  });
}

ffi::Error ConvKernelGradImpl(ffi::AnyBuffer x, ffi::AnyBuffer dy,
                              ffi::Result<ffi::AnyBuffer> dw, int64_t stride_h, int64_t stride_w,
                              int64_t pad_top, int64_t pad_bottom, int64_t pad_left,
                              int64_t pad_right) {
  if (auto e = CheckShapes(x.dimensions(), dw->dimensions(), dy.dimensions()); e.failure()) {
    return e;
  }
  Geometry g = MakeGeometry(x.dimensions(), dw->dimensions(), dy.dimensions(), stride_h, stride_w,
                            pad_top, pad_bottom, pad_left, pad_right);
  if (auto e = TypeOf(x.element_type(), dy.element_type(), dw->element_type(), &g.type);
      e.failure()) {
    return e;
  }
  return Run([&] {
    BwdWeightsEntry& c = Cached<BwdWeightsEntry>(Key("bwd_weights", g), [&] {
      auto hint = ForwardDesc(g);
      auto pd = dnnl::convolution_backward_weights::primitive_desc(
          Engine(), dnnl::algorithm::convolution_direct,
          memory::desc(g.src, g.type, tag::nhwc), memory::desc(g.weights, g.type, tag::any),
          memory::desc(g.dst, g.type, tag::nhwc), g.strides, g.pad_l, g.pad_r, hint);
      memory::desc user_w(g.weights, g.type, tag::hwio);
      bool re = pd.diff_weights_desc() != user_w;
      return BwdWeightsEntry{pd, dnnl::convolution_backward_weights(pd),
                             re ? dnnl::reorder(dnnl::reorder::primitive_desc(
                                      Engine(), pd.diff_weights_desc(), Engine(), user_w))
                                : dnnl::reorder(),
                             re};
    });
    auto& s = Stream();
    memory src(c.pd.src_desc(), Engine(), x.untyped_data());
    memory diff_dst(c.pd.diff_dst_desc(), Engine(), dy.untyped_data());
    memory user_dw(memory::desc(g.weights, g.type, tag::hwio), Engine(), dw->untyped_data());
    memory dwts = user_dw;
    if (c.reorder_weights) dwts = memory(c.pd.diff_weights_desc(), Engine());
    c.prim.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst},
                       {DNNL_ARG_DIFF_WEIGHTS, dwts}});
    if (c.reorder_weights) c.weights_out.execute(s, dwts, user_dw);
    s.wait();
  });
}

}  // namespace

extern "C" void ClassicnetsOnednnSetThreads(int threads) { g_threads.store(threads); }
extern "C" int ClassicnetsOnednnThreads() { return g_threads.load(); }

#define CONV_ATTRS                                                              \
  .Attr<int64_t>("stride_h").Attr<int64_t>("stride_w").Attr<int64_t>("pad_top") \
      .Attr<int64_t>("pad_bottom").Attr<int64_t>("pad_left").Attr<int64_t>("pad_right")

XLA_FFI_DEFINE_HANDLER_SYMBOL(OnednnConvForward, ConvForwardImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>() CONV_ATTRS);

XLA_FFI_DEFINE_HANDLER_SYMBOL(OnednnConvInputGrad, ConvInputGradImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>() CONV_ATTRS);

XLA_FFI_DEFINE_HANDLER_SYMBOL(OnednnConvKernelGrad, ConvKernelGradImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>() CONV_ATTRS);
