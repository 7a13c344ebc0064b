// 2-D convolutions and batch norms on the CPU through oneDNN, as XLA FFI
// handlers.
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
// Each call splits its batch into parts run at once on XLA's intra-op thread
// pool, oneDNN single-threaded on each (ParallelFor, onednn_common.h).
//
// Two more for a batch norm in training mode, optionally with a ReLU after it:
// forward (output, batch mean and variance, the ReLU's mask) and backward
// (BnForwardImpl, BnBackwardImpl, below).
//
// research/kernels/onednn.py builds this file with onednn_lstm.cc, registers the handlers and
// wraps them in custom VJPs.

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "onednn_common.h"

using namespace classicnets_onednn;  // NOLINT: the handlers' shared vocabulary

namespace {

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
      memory::desc(g.dst, g.type, tag::nhwc), g.strides, g.pad_l, g.pad_r, UserScratchpad());
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
  Reorder weights_in;
  bool reorder_weights;
};

struct BwdDataEntry {
  dnnl::convolution_backward_data::primitive_desc pd;
  dnnl::convolution_backward_data prim;
  Reorder weights_in;
  bool reorder_weights;
};

struct BwdWeightsEntry {
  dnnl::convolution_backward_weights::primitive_desc pd;
  dnnl::convolution_backward_weights prim;
  Reorder weights_out;
  bool reorder_weights;
};

// The geometry of rows [begin, begin + size) of a batch.
Geometry PartGeometry(Geometry g, int64_t size) {
  g.src[0] = size;
  g.dst[0] = size;
  return g;
}

FwdEntry& Forward(const Geometry& g) {
  return Cached<FwdEntry>(Key("fwd", g), [&] {
    auto pd = ForwardDesc(g);
    memory::desc user_w(g.weights, g.type, tag::hwio);
    bool re = pd.weights_desc() != user_w;
    return FwdEntry{pd, dnnl::convolution_forward(pd),
                    re ? MakeReorder(user_w, pd.weights_desc()) : Reorder{},
                    re};
  });
}

BwdDataEntry& BackwardData(const Geometry& g) {
  return Cached<BwdDataEntry>(Key("bwd_data", g), [&] {
    auto hint = ForwardDesc(g);
    auto pd = dnnl::convolution_backward_data::primitive_desc(
        Engine(), dnnl::algorithm::convolution_direct, memory::desc(g.src, g.type, tag::nhwc),
        memory::desc(g.weights, g.type, tag::any), memory::desc(g.dst, g.type, tag::nhwc),
        g.strides, g.pad_l, g.pad_r, hint, UserScratchpad());
    memory::desc user_w(g.weights, g.type, tag::hwio);
    bool re = pd.weights_desc() != user_w;
    return BwdDataEntry{pd, dnnl::convolution_backward_data(pd),
                        re ? MakeReorder(user_w, pd.weights_desc()) : Reorder{},
                        re};
  });
}

// Kernel gradients of the parts are float32 (whatever the operands' type) in
// HWIO, summed by the caller: a part's gradient rounded to bfloat16 before the
// sum would round twice.
BwdWeightsEntry& BackwardWeights(const Geometry& g) {
  return Cached<BwdWeightsEntry>(Key("bwd_weights", g), [&] {
    auto hint = ForwardDesc(g);
    auto pd = dnnl::convolution_backward_weights::primitive_desc(
        Engine(), dnnl::algorithm::convolution_direct, memory::desc(g.src, g.type, tag::nhwc),
        memory::desc(g.weights, dt::f32, tag::any), memory::desc(g.dst, g.type, tag::nhwc),
        g.strides, g.pad_l, g.pad_r, hint, UserScratchpad());
    memory::desc hwio_f32(g.weights, dt::f32, tag::hwio);
    bool re = pd.diff_weights_desc() != hwio_f32;
    return BwdWeightsEntry{pd, dnnl::convolution_backward_weights(pd),
                           re ? MakeReorder(pd.diff_weights_desc(), hwio_f32) : Reorder{},
                           re};
  });
}

int64_t ElementBytes(dt type) { return type == dt::bf16 ? 2 : 4; }

// Bytes per batch row of an NHWC tensor with logical NCHW dims.
int64_t RowBytes(const memory::dims& nchw, dt type) {
  return nchw[1] * nchw[2] * nchw[3] * ElementBytes(type);
}

// The kernel in the layout `desc` wants: the user's buffer where that is
// already HWIO, else a reordered copy (made once per call, shared by the parts).
memory KernelFor(const memory::desc& desc, const Reorder& reorder, bool needs_reorder,
                 const Geometry& g, void* data) {
  memory user_w(memory::desc(g.weights, g.type, tag::hwio), Engine(), data);
  if (!needs_reorder) return user_w;
  memory wts(desc, Engine());
  Execute(reorder, user_w, wts);
  return wts;
}

ffi::Error ConvForwardImpl(ffi::ThreadPool pool, ffi::AnyBuffer x, ffi::AnyBuffer w,
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
  const auto parts = SplitBatch(g.src[0], Parts(pool, g.src[0]));
  memory wts;
  if (auto e = Guard([&] {
        if (omp_get_max_threads() != 1) omp_set_num_threads(1);
        // Every part's primitive wants the same kernel layout (it depends on
        // the channels and the kernel size, not the batch); built from part 0.
        FwdEntry& c = Forward(PartGeometry(g, parts[0].size));
        wts = KernelFor(c.pd.weights_desc(), c.weights_in, c.reorder_weights, g, w.untyped_data());
      });
      e.failure()) {
    return e;
  }
  auto* x_bytes = static_cast<char*>(x.untyped_data());
  auto* y_bytes = static_cast<char*>(y->untyped_data());
  return ParallelFor(pool, parts.size(), [&](int64_t i) {
    FwdEntry& c = Forward(PartGeometry(g, parts[i].size));
    if (c.pd.weights_desc() != wts.get_desc()) throw dnnl::error(dnnl_runtime_error, "kernel layouts differ between batch parts");
    memory src(c.pd.src_desc(), Engine(), x_bytes + parts[i].begin * RowBytes(g.src, g.type));
    memory dst(c.pd.dst_desc(), Engine(), y_bytes + parts[i].begin * RowBytes(g.dst, g.type));
    Execute(c.prim, c.pd.scratchpad_desc(),
            {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wts}, {DNNL_ARG_DST, dst}});
  });
}

ffi::Error ConvInputGradImpl(ffi::ThreadPool pool, ffi::AnyBuffer dy, ffi::AnyBuffer w,
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
  const auto parts = SplitBatch(g.src[0], Parts(pool, g.src[0]));
  memory wts;
  if (auto e = Guard([&] {
        if (omp_get_max_threads() != 1) omp_set_num_threads(1);
        BwdDataEntry& c = BackwardData(PartGeometry(g, parts[0].size));
        wts = KernelFor(c.pd.weights_desc(), c.weights_in, c.reorder_weights, g, w.untyped_data());
      });
      e.failure()) {
    return e;
  }
  auto* dy_bytes = static_cast<char*>(dy.untyped_data());
  auto* dx_bytes = static_cast<char*>(dx->untyped_data());
  return ParallelFor(pool, parts.size(), [&](int64_t i) {
    BwdDataEntry& c = BackwardData(PartGeometry(g, parts[i].size));
    if (c.pd.weights_desc() != wts.get_desc()) throw dnnl::error(dnnl_runtime_error, "kernel layouts differ between batch parts");
    memory diff_dst(c.pd.diff_dst_desc(), Engine(),
                    dy_bytes + parts[i].begin * RowBytes(g.dst, g.type));
    memory diff_src(c.pd.diff_src_desc(), Engine(),
                    dx_bytes + parts[i].begin * RowBytes(g.src, g.type));
    Execute(c.prim, c.pd.scratchpad_desc(),
            {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, wts}, {DNNL_ARG_DIFF_SRC, diff_src}});
  });
}

ffi::Error ConvKernelGradImpl(ffi::ThreadPool pool, ffi::AnyBuffer x, ffi::AnyBuffer dy,
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
  const auto parts = SplitBatch(g.src[0], Parts(pool, g.src[0]));
  const int64_t kernel_size = g.weights[0] * g.weights[1] * g.weights[2] * g.weights[3];
  // Part i's float32 HWIO gradient; part 0 writes the output directly where
  // that is float32 already.
  const bool direct = g.type == dt::f32;
  std::vector<float> partial((parts.size() - (direct ? 1 : 0)) * kernel_size);
  auto partial_of = [&](int64_t i) -> float* {
    if (direct && i == 0) return static_cast<float*>(dw->untyped_data());
    return partial.data() + (i - (direct ? 1 : 0)) * kernel_size;
  };
  auto* x_bytes = static_cast<char*>(x.untyped_data());
  auto* dy_bytes = static_cast<char*>(dy.untyped_data());
  if (auto e = ParallelFor(pool, parts.size(), [&](int64_t i) {
        BwdWeightsEntry& c = BackwardWeights(PartGeometry(g, parts[i].size));
        memory src(c.pd.src_desc(), Engine(), x_bytes + parts[i].begin * RowBytes(g.src, g.type));
        memory diff_dst(c.pd.diff_dst_desc(), Engine(),
                        dy_bytes + parts[i].begin * RowBytes(g.dst, g.type));
        memory hwio(memory::desc(g.weights, dt::f32, tag::hwio), Engine(), partial_of(i));
        memory dwts = c.reorder_weights ? memory(c.pd.diff_weights_desc(), Engine()) : hwio;
        Execute(c.prim, c.pd.scratchpad_desc(),
                {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_WEIGHTS, dwts}});
        if (c.reorder_weights) {
          Execute(c.weights_out, dwts, hwio);
        }
      });
      e.failure()) {
    return e;
  }
  float* sum = partial_of(0);
  for (size_t i = 1; i < parts.size(); ++i) {
    const float* p = partial_of(i);
    for (int64_t j = 0; j < kernel_size; ++j) sum[j] += p[j];
  }
  if (direct) return ffi::Error::Success();
  return Guard([&] {  // float32 -> bfloat16, rounding to nearest even (oneDNN's reorder)
    memory from(memory::desc(g.weights, dt::f32, tag::hwio), Engine(), sum);
    memory to(memory::desc(g.weights, g.type, tag::hwio), Engine(), dw->untyped_data());
    Execute(MakeReorder(from.get_desc(), to.get_desc()), from, to);
  });
}


// ---------------------------------------------------------------------------
// Batch normalisation in training mode (Ioffe & Szegedy 2015, Algorithm 1 and
// its gradient), optionally followed by a ReLU, over an NHWC activation: the
// statistics are over N, H and W per channel, in float32 whatever the
// activation's type; the variance is the biased one (divided by N*H*W), as in
// Flax's BatchNorm. One thread (the caller's): a whole batch-norm layer of
// these networks takes 0.1-1.2 ms on one core, where XLA's fused reductions,
// conversions and elementwise work for it took several times that
// (docs/speed.md).

struct BnGeometry {
  memory::dims nchw;
  dt type;
  float epsilon;
};

std::string BnKey(const char* pass, const BnGeometry& g, bool relu) {
  std::string k(pass);
  k += g.type == dt::bf16 ? ":bf16;" : ":f32;";
  for (auto v : g.nchw) k += "," + std::to_string(v);
  k += ";" + std::to_string(g.epsilon) + (relu ? ";relu" : "");
  return k;
}

dnnl::normalization_flags BnFlags(bool relu) {
  auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
  return relu ? flags | dnnl::normalization_flags::fuse_norm_relu : flags;
}

dnnl::batch_normalization_forward::primitive_desc BnForwardDesc(const BnGeometry& g, bool relu) {
  memory::desc data(g.nchw, g.type, tag::nhwc);
  return dnnl::batch_normalization_forward::primitive_desc(
      Engine(), dnnl::prop_kind::forward_training, data, data, g.epsilon, BnFlags(relu),
      UserScratchpad());
}

struct BnFwdEntry {
  dnnl::batch_normalization_forward::primitive_desc pd;
  dnnl::batch_normalization_forward prim;
};

struct BnBwdEntry {
  dnnl::batch_normalization_backward::primitive_desc pd;
  dnnl::batch_normalization_backward prim;
};

ffi::Error BnGeometryOf(ffi::AnyBuffer x, ffi::DataType other, int64_t channels_given,
                        float epsilon, BnGeometry* g) {
  auto d = x.dimensions();
  if (d.size() != 4) return ffi::Error::InvalidArgument("onednn_batch_norm: NHWC operands only");
  if (d[3] != channels_given) {
    return ffi::Error::InvalidArgument("onednn_batch_norm: scale and shift must have C entries");
  }
  if (x.element_type() != other) {
    return ffi::Error::InvalidArgument("onednn_batch_norm: activations of different dtypes");
  }
  if (x.element_type() == ffi::DataType::F32) {
    g->type = dt::f32;
  } else if (x.element_type() == ffi::DataType::BF16) {
    g->type = dt::bf16;
  } else {
    return ffi::Error::InvalidArgument("onednn_batch_norm: float32 or bfloat16 activations only");
  }
  g->nchw = {d[0], d[3], d[1], d[2]};
  g->epsilon = epsilon;
  return ffi::Error::Success();
}

// `workspace`: the ReLU's mask, which the backward pass reads (one byte where
// relu is 0; BnWorkspaceBytes below where it is 1).
ffi::Error BnForwardImpl(ffi::AnyBuffer x, ffi::Buffer<ffi::F32> scale,
                         ffi::Buffer<ffi::F32> shift, ffi::Result<ffi::AnyBuffer> y,
                         ffi::Result<ffi::Buffer<ffi::F32>> mean,
                         ffi::Result<ffi::Buffer<ffi::F32>> var,
                         ffi::Result<ffi::Buffer<ffi::U8>> workspace, float epsilon,
                         int64_t relu) {
  BnGeometry g;
  if (auto e = BnGeometryOf(x, y->element_type(), scale.element_count(), epsilon, &g);
      e.failure()) {
    return e;
  }
  return Guard([&] {
    if (omp_get_max_threads() != 1) omp_set_num_threads(1);
    BnFwdEntry& c = Cached<BnFwdEntry>(BnKey("bn_fwd", g, relu), [&] {
      auto pd = BnForwardDesc(g, relu);
      return BnFwdEntry{pd, dnnl::batch_normalization_forward(pd)};
    });
    memory::desc channel({g.nchw[1]}, dt::f32, tag::x);
    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC, memory(c.pd.src_desc(), Engine(), x.untyped_data())},
        {DNNL_ARG_DST, memory(c.pd.dst_desc(), Engine(), y->untyped_data())},
        {DNNL_ARG_SCALE, memory(channel, Engine(), scale.typed_data())},
        {DNNL_ARG_SHIFT, memory(channel, Engine(), shift.typed_data())},
        {DNNL_ARG_MEAN, memory(c.pd.mean_desc(), Engine(), mean->typed_data())},
        {DNNL_ARG_VARIANCE, memory(c.pd.variance_desc(), Engine(), var->typed_data())}};
    if (relu) {
      if (static_cast<size_t>(workspace->size_bytes()) != c.pd.workspace_desc().get_size()) {
        throw dnnl::error(dnnl_invalid_arguments, "batch norm workspace of the wrong size");
      }
      args.insert({DNNL_ARG_WORKSPACE,
                   memory(c.pd.workspace_desc(), Engine(), workspace->untyped_data())});
    }
    Execute(c.prim, c.pd.scratchpad_desc(), std::move(args));
  });
}

ffi::Error BnBackwardImpl(ffi::AnyBuffer x, ffi::AnyBuffer dy, ffi::Buffer<ffi::U8> workspace,
                          ffi::Buffer<ffi::F32> scale, ffi::Buffer<ffi::F32> mean,
                          ffi::Buffer<ffi::F32> var, ffi::Result<ffi::AnyBuffer> dx,
                          ffi::Result<ffi::Buffer<ffi::F32>> dscale,
                          ffi::Result<ffi::Buffer<ffi::F32>> dshift, float epsilon,
                          int64_t relu) {
  BnGeometry g;
  if (auto e = BnGeometryOf(x, dy.element_type(), scale.element_count(), epsilon, &g);
      e.failure()) {
    return e;
  }
  if (dx->element_type() != dy.element_type()) {
    return ffi::Error::InvalidArgument("onednn_batch_norm: activations of different dtypes");
  }
  return Guard([&] {
    if (omp_get_max_threads() != 1) omp_set_num_threads(1);
    BnBwdEntry& c = Cached<BnBwdEntry>(BnKey("bn_bwd", g, relu), [&] {
      memory::desc data(g.nchw, g.type, tag::nhwc);
      auto pd = dnnl::batch_normalization_backward::primitive_desc(
          Engine(), dnnl::prop_kind::backward, data, data, data, g.epsilon, BnFlags(relu),
          BnForwardDesc(g, relu), UserScratchpad());
      return BnBwdEntry{pd, dnnl::batch_normalization_backward(pd)};
    });
    memory::desc channel({g.nchw[1]}, dt::f32, tag::x);
    std::unordered_map<int, memory> args = {
             {DNNL_ARG_SRC, memory(c.pd.src_desc(), Engine(), x.untyped_data())},
             {DNNL_ARG_DIFF_DST, memory(c.pd.diff_dst_desc(), Engine(), dy.untyped_data())},
             {DNNL_ARG_MEAN, memory(c.pd.mean_desc(), Engine(), mean.typed_data())},
             {DNNL_ARG_VARIANCE, memory(c.pd.variance_desc(), Engine(), var.typed_data())},
             {DNNL_ARG_SCALE, memory(channel, Engine(), scale.typed_data())},
             {DNNL_ARG_DIFF_SRC, memory(c.pd.diff_src_desc(), Engine(), dx->untyped_data())},
             {DNNL_ARG_DIFF_SCALE, memory(channel, Engine(), dscale->typed_data())},
             {DNNL_ARG_DIFF_SHIFT, memory(channel, Engine(), dshift->typed_data())}};
    if (relu) {
      args.insert({DNNL_ARG_WORKSPACE,
                   memory(c.pd.workspace_desc(), Engine(), workspace.untyped_data())});
    }
    Execute(c.prim, c.pd.scratchpad_desc(), std::move(args));
  });
}

}  // namespace

extern "C" void ClassicnetsOnednnSetThreads(int threads) { g_threads.store(threads); }
extern "C" int ClassicnetsOnednnThreads() { return g_threads.load(); }
// Bytes of the ReLU mask a fused batch norm + ReLU of this NHWC shape keeps
// for its backward pass (-1 if oneDNN cannot build it).
extern "C" int64_t ClassicnetsOnednnBnWorkspaceBytes(int64_t n, int64_t h, int64_t w, int64_t c,
                                                     int bf16) {
  try {
    return BnForwardDesc({{n, c, h, w}, bf16 ? dt::bf16 : dt::f32, 1e-5f}, true)
        .workspace_desc()
        .get_size();
  } catch (const dnnl::error&) {
    return -1;
  }
}

extern "C" int64_t ClassicnetsOnednnMostParts() { return g_most_parts.load(); }

#define CONV_ATTRS                                                              \
  .Attr<int64_t>("stride_h").Attr<int64_t>("stride_w").Attr<int64_t>("pad_top") \
      .Attr<int64_t>("pad_bottom").Attr<int64_t>("pad_left").Attr<int64_t>("pad_right")

XLA_FFI_DEFINE_HANDLER_SYMBOL(OnednnConvForward, ConvForwardImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>() CONV_ATTRS);

XLA_FFI_DEFINE_HANDLER_SYMBOL(OnednnConvInputGrad, ConvInputGradImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>() CONV_ATTRS);

XLA_FFI_DEFINE_HANDLER_SYMBOL(OnednnConvKernelGrad, ConvKernelGradImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>() CONV_ATTRS);

XLA_FFI_DEFINE_HANDLER_SYMBOL(OnednnBatchNormForward, BnForwardImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::U8>>()
                                  .Attr<float>("epsilon")
                                  .Attr<int64_t>("relu"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(OnednnBatchNormBackward, BnBackwardImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::Buffer<ffi::U8>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<float>("epsilon")
                                  .Attr<int64_t>("relu"));
