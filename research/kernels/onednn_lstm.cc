// One LSTM layer over a whole sequence on the CPU through oneDNN's LSTM
// primitive (the one behind PyTorch's CPU nn.LSTM), as XLA FFI handlers.
//
// Two handlers: the forward pass (inference, or training with the workspace
// the backward pass reads) and the backward pass (gradients of the input, the
// initial state, both weight matrices and the bias). Float32 only.
//
// Layouts, Flax's own, so nothing is transposed around a call:
//   x       T x B x D, or B x T x D (`time_major` 0)
//   w_x     D x 4H      gate blocks in the order i, f, g, o (oneDNN's `ldigo`
//   w_h     H x 4H      with one layer and one direction; the same order)
//   bias    4H          (`ldgo`)
//   c, h    B x H       states (`ldnc`)
//   y       h at every step, laid out as x
// Each call splits the batch into `parts` contiguous row ranges, run at once
// on XLA's intra-op pool with oneDNN single-threaded on each (ParallelFor in
// onednn_common.h): the rows of an LSTM never meet, except in the weight
// gradients, whose float32 partial sums are added here.
//
// oneDNN sees each part as a dense time-major sequence (T x b x C, `tnc`): a
// part's rows are copied into one and the results copied out, unless the call
// is one time-major part already. Why: on a strided sequence (a part of a
// time-major batch) oneDNN's backward pass adds every step's weight gradient
// into the whole D x 4H and H x 4H matrices, and two parts at once became
// memory-bound (backward of a 512-unit layer, T = 128, 32 rows: 141 ms dense
// against 230 ms strided, two parts at once; the copies take a few ms).
//
// The workspace (oneDNN's gates and states of every step, which its backward
// pass reads) is one byte buffer for all parts: part i's at WorkspaceOffsets
// below. research/kernels/onednn.py asks ClassicnetsOnednnLstmWorkspaceBytes
// for its size at trace time.

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "onednn_common.h"

using namespace classicnets_onednn;  // NOLINT: the handlers' shared vocabulary

namespace {

// One part's problem: steps, rows, input and hidden sizes.
struct LstmGeometry {
  int64_t t, b, d, h;
};

std::string LstmKey(const char* pass, const LstmGeometry& g) {
  return std::string(pass) + ":" + std::to_string(g.t) + "," + std::to_string(g.b) + "," +
         std::to_string(g.d) + "," + std::to_string(g.h);
}

memory::desc Sequence(const LstmGeometry& g, int64_t channels) {
  return memory::desc({g.t, g.b, channels}, dt::f32, tag::tnc);
}
memory::desc State(const LstmGeometry& g) {
  return memory::desc({1, 1, g.b, g.h}, dt::f32, tag::ldnc);
}
memory::desc Weights(int64_t in, int64_t h, tag t) {
  return memory::desc({1, 1, in, 4, h}, dt::f32, t);
}
memory::desc Bias(const LstmGeometry& g) { return memory::desc({1, 1, 4, g.h}, dt::f32, tag::ldgo); }

// Where the rows of a call's sequences lie: row r of step t at
// (t * batch + r) * C floats (time-major) or (r * steps + t) * C (batch-major).
struct SequenceLayout {
  int64_t steps, batch;
  bool time_major;

  int64_t Offset(int64_t t, int64_t row, int64_t channels) const {
    return (time_major ? t * batch + row : row * steps + t) * channels;
  }
  // A part is used in place where it already is a dense time-major sequence.
  bool InPlace(const Part& p) const { return time_major && p.size == batch; }
};

// A part's rows of a call's sequence as oneDNN reads or writes them: the
// call's own buffer, or a dense copy (Gather) written back by Scatter.
class PartSequence {
 public:
  // `dense`: T x b x channels floats of scratch (unused where in place).
  PartSequence(const SequenceLayout& layout, const Part& part, const LstmGeometry& g,
               int64_t channels, float* data, float* dense)
      : layout_(layout), part_(part), channels_(channels), data_(data),
        memory_(Sequence(g, channels), Engine(), layout.InPlace(part) ? data : dense) {}

  const memory& get() const { return memory_; }

  void Gather() {
    if (layout_.InPlace(part_)) return;
    Copy(/*to_dense=*/true);
  }
  void Scatter() {
    if (layout_.InPlace(part_)) return;
    Copy(/*to_dense=*/false);
  }

 private:
  void Copy(bool to_dense) {
    auto* dense = static_cast<float*>(memory_.get_data_handle());
    const size_t bytes = channels_ * sizeof(float);
    for (int64_t t = 0; t < layout_.steps; ++t) {
      for (int64_t r = 0; r < part_.size; ++r) {
        float* call = data_ + layout_.Offset(t, part_.begin + r, channels_);
        float* mine = dense + (t * part_.size + r) * channels_;
        if (to_dense) {
          std::memcpy(mine, call, bytes);
        } else {
          std::memcpy(call, mine, bytes);
        }
      }
    }
  }

  SequenceLayout layout_;
  Part part_;
  int64_t channels_;
  float* data_;
  memory memory_;
};

dnnl::lstm_forward::primitive_desc LstmForwardDesc(const LstmGeometry& g, bool training) {
  return dnnl::lstm_forward::primitive_desc(
      Engine(), training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference,
      dnnl::rnn_direction::unidirectional_left2right, Sequence(g, g.d), State(g), State(g),
      Weights(g.d, g.h, tag::any), Weights(g.h, g.h, tag::any), Bias(g), Sequence(g, g.h),
      State(g), State(g), UserScratchpad());
}

// A primitive and, for each weight matrix, the reorder from the user's ldigo
// to the layout the primitive chose (empty where it chose ldigo).
template <typename Pd, typename Prim>
struct LstmEntry {
  Pd pd;
  Prim prim;
  Reorder w_x_in, w_h_in;
  bool reorder_w_x, reorder_w_h;

  LstmEntry(const Pd& desc, const LstmGeometry& g) : pd(desc), prim(desc) {
    const auto user_x = Weights(g.d, g.h, tag::ldigo), user_h = Weights(g.h, g.h, tag::ldigo);
    reorder_w_x = pd.weights_layer_desc() != user_x;
    reorder_w_h = pd.weights_iter_desc() != user_h;
    if (reorder_w_x) w_x_in = MakeReorder(user_x, pd.weights_layer_desc());
    if (reorder_w_h) w_h_in = MakeReorder(user_h, pd.weights_iter_desc());
  }
};

using LstmFwdEntry = LstmEntry<dnnl::lstm_forward::primitive_desc, dnnl::lstm_forward>;
using LstmBwdEntry = LstmEntry<dnnl::lstm_backward::primitive_desc, dnnl::lstm_backward>;

LstmFwdEntry& LstmForward(const LstmGeometry& g, bool training) {
  return Cached<LstmFwdEntry>(LstmKey(training ? "lstm_fwd_training" : "lstm_fwd", g), [&] {
    return LstmFwdEntry(LstmForwardDesc(g, training), g);
  });
}

// The weight gradients are asked for in ldigo, float32: the parts' sums are
// added in the user's layout.
LstmBwdEntry& LstmBackward(const LstmGeometry& g) {
  return Cached<LstmBwdEntry>(LstmKey("lstm_bwd", g), [&] {
    auto hint = LstmForwardDesc(g, true);
    auto pd = dnnl::lstm_backward::primitive_desc(
        Engine(), dnnl::prop_kind::backward, dnnl::rnn_direction::unidirectional_left2right,
        Sequence(g, g.d), State(g), State(g), Weights(g.d, g.h, tag::any),
        Weights(g.h, g.h, tag::any), Bias(g), Sequence(g, g.h), State(g), State(g),
        Sequence(g, g.d), State(g), State(g), Weights(g.d, g.h, tag::ldigo),
        Weights(g.h, g.h, tag::ldigo), Bias(g), Sequence(g, g.h), State(g), State(g), hint,
        UserScratchpad());
    return LstmBwdEntry(pd, g);
  });
}

// The user's weights in the layout `desc` wants (a copy reordered into
// `reordered` where that is not ldigo, made once per call and shared by the parts).
memory WeightsFor(const memory::desc& desc, const Reorder& reorder, bool needs_reorder,
                  const memory::desc& user, void* data, void* reordered) {
  memory user_w(user, Engine(), data);
  if (!needs_reorder) return user_w;
  memory w(desc, Engine(), reordered);
  Execute(reorder, user_w, w);
  return w;
}

// A part of a call: `whole` with the part's rows.
LstmGeometry PartOf(LstmGeometry whole, const Part& p) {
  whole.b = p.size;
  return whole;
}

// Byte offsets of each part's workspace in the shared buffer, and (last) its size.
std::vector<int64_t> WorkspaceOffsets(const LstmGeometry& whole, int64_t parts) {
  std::vector<int64_t> offsets = {0};
  Carver carver(nullptr);
  for (const Part& p : SplitBatch(whole.b, parts)) {
    carver.Take(LstmForward(PartOf(whole, p), true).pd.workspace_desc().get_size());
    offsets.push_back(carver.used());
  }
  return offsets;
}

// A call's temporary memory, carved from one buffer (Carver): the reordered
// weights, and for each part oneDNN's scratchpad, the dense copies of its
// sequences (where it is not in place) and, in the backward pass, the float32
// weight gradients of every part but the first.
struct LstmScratch {
  void* w_layer = nullptr;
  void* w_iter = nullptr;
  struct PartBuffers {
    void* scratchpad = nullptr;
    float *src = nullptr, *dst = nullptr, *diff_dst = nullptr, *diff_src = nullptr;
    float* grads = nullptr;
  };
  std::vector<PartBuffers> parts;
};

int64_t GradientFloats(const LstmGeometry& g) { return (g.d + g.h + 1) * 4 * g.h; }

// A pass's primitive for one part's geometry (LstmForward or LstmBackward).
template <typename Entry>
using EntryOf = std::function<Entry&(const LstmGeometry&)>;

EntryOf<LstmFwdEntry> ForwardEntries(bool training) {
  return [training](const LstmGeometry& g) -> LstmFwdEntry& { return LstmForward(g, training); };
}
EntryOf<LstmBwdEntry> BackwardEntries() { return LstmBackward; }

template <typename Entry>
LstmScratch PlanScratch(const LstmGeometry& s, const SequenceLayout& layout,
                        const std::vector<Part>& parts, const EntryOf<Entry>& entry_of,
                        Carver& carver) {
  constexpr bool backward = std::is_same_v<Entry, LstmBwdEntry>;
  LstmScratch plan;
  const Entry& first = entry_of(PartOf(s, parts[0]));
  if (first.reorder_w_x) plan.w_layer = carver.Take(first.pd.weights_layer_desc().get_size());
  if (first.reorder_w_h) plan.w_iter = carver.Take(first.pd.weights_iter_desc().get_size());
  for (size_t i = 0; i < parts.size(); ++i) {
    const LstmGeometry g = PartOf(s, parts[i]);
    LstmScratch::PartBuffers b;
    b.scratchpad = carver.Take(entry_of(g).pd.scratchpad_desc().get_size());
    if (!layout.InPlace(parts[i])) {
      auto sequence = [&](int64_t channels) {
        return static_cast<float*>(carver.Take(g.t * g.b * channels * sizeof(float)));
      };
      b.src = sequence(g.d);
      b.dst = sequence(g.h);
      if (backward) {
        b.diff_dst = sequence(g.h);
        b.diff_src = sequence(g.d);
      }
    }
    if (backward && i > 0) {
      b.grads = static_cast<float*>(carver.Take(GradientFloats(g) * sizeof(float)));
    }
    plan.parts.push_back(b);
  }
  return plan;
}

ffi::Error CheckScratch(int64_t planned, int64_t given) {
  if (planned != given) {
    return ffi::Error::InvalidArgument("onednn_lstm: scratch buffer of " + std::to_string(given) +
                                       " bytes, " + std::to_string(planned) + " planned");
  }
  return ffi::Error::Success();
}

ffi::Error CheckLstm(ffi::Span<const int64_t> x, ffi::Span<const int64_t> w_x,
                     ffi::Span<const int64_t> w_h, ffi::Span<const int64_t> bias,
                     ffi::Span<const int64_t> c0, ffi::Span<const int64_t> h0, bool time_major,
                     LstmGeometry* g, SequenceLayout* layout) {
  if (x.size() != 3 || w_x.size() != 2 || w_h.size() != 2 || bias.size() != 1 ||
      c0.size() != 2 || h0.size() != 2) {
    return ffi::Error::InvalidArgument(
        "onednn_lstm: want x TxBxD (or BxTxD), w_x Dx4H, w_h Hx4H, bias 4H, c0 and h0 BxH");
  }
  const int64_t h = w_h[0], t = x[time_major ? 0 : 1], b = x[time_major ? 1 : 0];
  if (w_h[1] != 4 * h || w_x[0] != x[2] || w_x[1] != 4 * h || bias[0] != 4 * h ||
      c0[0] != b || c0[1] != h || h0[0] != b || h0[1] != h) {
    return ffi::Error::InvalidArgument("onednn_lstm: operand shapes disagree");
  }
  *g = {t, b, x[2], h};
  *layout = {t, b, time_major};
  return ffi::Error::Success();
}

template <typename T>
char* Bytes(T* p) {
  return reinterpret_cast<char*>(const_cast<std::remove_const_t<T>*>(p));
}
template <typename B>
float* Floats(B& buffer) {
  return reinterpret_cast<float*>(buffer.untyped_data());
}

// What both passes set up before their parts run: the shapes, the parts, the
// scratch plan, the weights in the layouts the primitives chose (the same for
// every part: they depend on D and H, not on the rows; taken from part 0's
// primitive) and each part's workspace offset.
struct LstmCall {
  LstmGeometry whole;
  SequenceLayout layout;
  std::vector<Part> parts;
  LstmScratch plan;
  memory w_layer, w_iter;
  std::vector<int64_t> offsets;
};

template <typename Entry>
ffi::Error PrepareCall(const ffi::Buffer<ffi::F32>& x, const ffi::Buffer<ffi::F32>& w_x,
                       const ffi::Buffer<ffi::F32>& w_h, const ffi::Buffer<ffi::F32>& bias,
                       const ffi::Buffer<ffi::F32>& c0, const ffi::Buffer<ffi::F32>& h0,
                       int64_t parts_wanted, int64_t time_major,
                       const EntryOf<Entry>& entry_of, bool has_workspace,
                       int64_t workspace_bytes, ffi::Result<ffi::Buffer<ffi::U8>>& scratch,
                       LstmCall* call) {
  if (auto e = CheckLstm(x.dimensions(), w_x.dimensions(), w_h.dimensions(), bias.dimensions(),
                         c0.dimensions(), h0.dimensions(), time_major, &call->whole,
                         &call->layout);
      e.failure()) {
    return e;
  }
  call->parts = SplitBatch(call->whole.b, parts_wanted);
  Carver carver(scratch->untyped_data());
  if (auto e = Guard([&] {
        if (omp_get_max_threads() != 1) omp_set_num_threads(1);
        const LstmGeometry& s = call->whole;
        call->plan = PlanScratch(s, call->layout, call->parts, entry_of, carver);
        Entry& c = entry_of(PartOf(s, call->parts[0]));
        call->w_layer = WeightsFor(c.pd.weights_layer_desc(), c.w_x_in, c.reorder_w_x,
                                   Weights(s.d, s.h, tag::ldigo),
                                   const_cast<float*>(w_x.typed_data()), call->plan.w_layer);
        call->w_iter = WeightsFor(c.pd.weights_iter_desc(), c.w_h_in, c.reorder_w_h,
                                  Weights(s.h, s.h, tag::ldigo),
                                  const_cast<float*>(w_h.typed_data()), call->plan.w_iter);
        if (has_workspace) {
          call->offsets = WorkspaceOffsets(s, call->parts.size());
          if (call->offsets.back() != workspace_bytes) {
            throw dnnl::error(dnnl_invalid_arguments, "LSTM workspace of the wrong size");
          }
        }
      });
      e.failure()) {
    return e;
  }
  return CheckScratch(carver.used(), scratch->size_bytes());
}

// The arguments both passes give part i's primitive: its rows of the
// sequences and states, the shared weights and bias, its workspace (where
// the pass has one).
template <typename Entry>
std::unordered_map<int, memory> PartArgs(const LstmCall& call, size_t i, const Entry& c,
                                         const memory& src, const memory& dst, const void* h0,
                                         const void* c0, const void* bias, const void* h_last,
                                         const void* c_last, const void* workspace) {
  const LstmGeometry g = PartOf(call.whole, call.parts[i]);
  if (c.pd.weights_layer_desc() != call.w_layer.get_desc() ||
      c.pd.weights_iter_desc() != call.w_iter.get_desc()) {
    throw dnnl::error(dnnl_runtime_error, "weight layouts differ between batch parts");
  }
  const int64_t state = call.parts[i].begin * g.h * sizeof(float);
  auto at = [](const void* p, int64_t offset) { return Bytes(p) + offset; };
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC_LAYER, src},
      {DNNL_ARG_SRC_ITER, memory(State(g), Engine(), at(h0, state))},
      {DNNL_ARG_SRC_ITER_C, memory(State(g), Engine(), at(c0, state))},
      {DNNL_ARG_WEIGHTS_LAYER, call.w_layer},
      {DNNL_ARG_WEIGHTS_ITER, call.w_iter},
      {DNNL_ARG_BIAS, memory(Bias(g), Engine(), at(bias, 0))},
      {DNNL_ARG_DST_LAYER, dst},
      {DNNL_ARG_DST_ITER, memory(State(g), Engine(), at(h_last, state))},
      {DNNL_ARG_DST_ITER_C, memory(State(g), Engine(), at(c_last, state))}};
  if (workspace) {
    args.insert({DNNL_ARG_WORKSPACE,
                 memory(c.pd.workspace_desc(), Engine(), at(workspace, call.offsets[i]))});
  }
  return args;
}

ffi::Error LstmForwardImpl(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x,
                           ffi::Buffer<ffi::F32> w_x, ffi::Buffer<ffi::F32> w_h,
                           ffi::Buffer<ffi::F32> bias, ffi::Buffer<ffi::F32> c0,
                           ffi::Buffer<ffi::F32> h0, ffi::Result<ffi::Buffer<ffi::F32>> y,
                           ffi::Result<ffi::Buffer<ffi::F32>> c_last,
                           ffi::Result<ffi::Buffer<ffi::F32>> h_last,
                           ffi::Result<ffi::Buffer<ffi::U8>> workspace,
                           ffi::Result<ffi::Buffer<ffi::U8>> scratch, int64_t training,
                           int64_t parts_wanted, int64_t time_major) {
  LstmCall call;
  const EntryOf<LstmFwdEntry> entry_of = ForwardEntries(training);
  if (auto e = PrepareCall(x, w_x, w_h, bias, c0, h0, parts_wanted, time_major, entry_of,
                           training != 0, workspace->size_bytes(), scratch, &call);
      e.failure()) {
    return e;
  }
  const LstmGeometry& s = call.whole;
  return ParallelFor(pool, call.parts.size(), [&](int64_t i) {
    const Part& p = call.parts[i];
    const LstmGeometry g = PartOf(s, p);
    const LstmScratch::PartBuffers& mine = call.plan.parts[i];
    LstmFwdEntry& c = entry_of(g);
    PartSequence src(call.layout, p, g, s.d, Floats(x), mine.src);
    PartSequence dst(call.layout, p, g, s.h, Floats(*y), mine.dst);
    src.Gather();
    Execute(c.prim, c.pd.scratchpad_desc(), mine.scratchpad,
            PartArgs(call, i, c, src.get(), dst.get(), h0.typed_data(), c0.typed_data(),
                     bias.typed_data(), h_last->typed_data(), c_last->typed_data(),
                     training ? workspace->untyped_data() : nullptr));
    dst.Scatter();
  });
}

ffi::Error LstmBackwardImpl(
    ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> w_x,
    ffi::Buffer<ffi::F32> w_h, ffi::Buffer<ffi::F32> bias, ffi::Buffer<ffi::F32> c0,
    ffi::Buffer<ffi::F32> h0, ffi::Buffer<ffi::F32> y, ffi::Buffer<ffi::F32> c_last,
    ffi::Buffer<ffi::F32> h_last, ffi::Buffer<ffi::U8> workspace, ffi::Buffer<ffi::F32> dy,
    ffi::Buffer<ffi::F32> dc_last, ffi::Buffer<ffi::F32> dh_last,
    ffi::Result<ffi::Buffer<ffi::F32>> dx, ffi::Result<ffi::Buffer<ffi::F32>> dw_x,
    ffi::Result<ffi::Buffer<ffi::F32>> dw_h, ffi::Result<ffi::Buffer<ffi::F32>> dbias,
    ffi::Result<ffi::Buffer<ffi::F32>> dc0, ffi::Result<ffi::Buffer<ffi::F32>> dh0,
    ffi::Result<ffi::Buffer<ffi::U8>> scratch, int64_t parts_wanted, int64_t time_major) {
  LstmCall call;
  const EntryOf<LstmBwdEntry> entry_of = BackwardEntries();
  if (auto e = PrepareCall(x, w_x, w_h, bias, c0, h0, parts_wanted, time_major, entry_of,
                           /*has_workspace=*/true, workspace.size_bytes(), scratch, &call);
      e.failure()) {
    return e;
  }
  const LstmGeometry& s = call.whole;
  const int64_t n_wx = s.d * 4 * s.h, n_wh = s.h * 4 * s.h;
  // Part 0 writes the outputs; the others float32 partial sums in the scratch
  // (w_x's, then w_h's, then the bias's), added after.
  auto grads_of = [&](int64_t i) -> std::array<float*, 3> {
    if (i == 0) return {dw_x->typed_data(), dw_h->typed_data(), dbias->typed_data()};
    float* base = call.plan.parts[i].grads;
    return {base, base + n_wx, base + n_wx + n_wh};
  };
  if (auto e = ParallelFor(pool, call.parts.size(), [&](int64_t i) {
        const Part& p = call.parts[i];
        const LstmGeometry g = PartOf(s, p);
        const LstmScratch::PartBuffers& mine = call.plan.parts[i];
        LstmBwdEntry& c = entry_of(g);
        auto grads = grads_of(i);
        // oneDNN adds into the weight gradients (it also writes them on other
        // versions); zeros first either way.
        std::memset(grads[0], 0, n_wx * sizeof(float));
        std::memset(grads[1], 0, n_wh * sizeof(float));
        std::memset(grads[2], 0, 4 * s.h * sizeof(float));
        PartSequence src(call.layout, p, g, s.d, Floats(x), mine.src);
        PartSequence dst(call.layout, p, g, s.h, Floats(y), mine.dst);
        PartSequence diff_dst(call.layout, p, g, s.h, Floats(dy), mine.diff_dst);
        PartSequence diff_src(call.layout, p, g, s.d, Floats(*dx), mine.diff_src);
        src.Gather();
        dst.Gather();
        diff_dst.Gather();
        // The forward pass's arguments (its outputs read back), then the gradients.
        auto args = PartArgs(call, i, c, src.get(), dst.get(), h0.typed_data(), c0.typed_data(),
                             bias.typed_data(), h_last.typed_data(), c_last.typed_data(),
                             workspace.untyped_data());
        // The gradients of the part's states: h's (..._ITER) and c's (..._ITER_C).
        auto state_args = [&](int h_arg, int c_arg, const void* h_data, const void* c_data) {
          const int64_t state = p.begin * s.h * sizeof(float);
          args.insert({h_arg, memory(State(g), Engine(), Bytes(h_data) + state)});
          args.insert({c_arg, memory(State(g), Engine(), Bytes(c_data) + state)});
        };
        state_args(DNNL_ARG_DIFF_DST_ITER, DNNL_ARG_DIFF_DST_ITER_C, dh_last.typed_data(),
                   dc_last.typed_data());
        state_args(DNNL_ARG_DIFF_SRC_ITER, DNNL_ARG_DIFF_SRC_ITER_C, dh0->typed_data(),
                   dc0->typed_data());
        args.insert({DNNL_ARG_DIFF_DST_LAYER, diff_dst.get()});
        args.insert({DNNL_ARG_DIFF_SRC_LAYER, diff_src.get()});
        args.insert({DNNL_ARG_DIFF_WEIGHTS_LAYER,
                     memory(Weights(s.d, s.h, tag::ldigo), Engine(), grads[0])});
        args.insert({DNNL_ARG_DIFF_WEIGHTS_ITER,
                     memory(Weights(s.h, s.h, tag::ldigo), Engine(), grads[1])});
        args.insert({DNNL_ARG_DIFF_BIAS, memory(Bias(g), Engine(), grads[2])});
        Execute(c.prim, c.pd.scratchpad_desc(), mine.scratchpad, std::move(args));
        diff_src.Scatter();
      });
      e.failure()) {
    return e;
  }
  const auto out = grads_of(0);
  for (size_t i = 1; i < call.parts.size(); ++i) {
    const auto grads = grads_of(i);
    for (int k = 0; k < 3; ++k) {
      const int64_t n = k == 0 ? n_wx : k == 1 ? n_wh : 4 * s.h;
      for (int64_t j = 0; j < n; ++j) out[k][j] += grads[k][j];
    }
  }
  return ffi::Error::Success();
}

// The operands both handlers start with: the thread pool, then x, w_x, w_h,
// bias, c0 and h0.
template <typename Binding>
auto WithLstmOperands(Binding binding) {
  using F32 = ffi::Buffer<ffi::F32>;
  return std::move(binding).template Ctx<ffi::ThreadPool>()
      .template Arg<F32>()
      .template Arg<F32>()
      .template Arg<F32>()
      .template Arg<F32>()
      .template Arg<F32>()
      .template Arg<F32>();
}

}  // namespace

// Bytes of the workspace a training forward pass of this shape keeps for the
// backward pass, all parts together (-1 if oneDNN cannot build the primitive).
extern "C" int64_t ClassicnetsOnednnLstmWorkspaceBytes(int64_t t, int64_t batch, int64_t d,
                                                       int64_t h, int64_t parts) {
  try {
    return WorkspaceOffsets({t, batch, d, h}, parts).back();
  } catch (const dnnl::error&) {
    return -1;
  }
}

// Bytes of the temporary buffer a call of this shape wants (LstmScratch; pass
// 0: inference, 1: training forward, 2: backward), -1 if oneDNN cannot build it.
extern "C" int64_t ClassicnetsOnednnLstmScratchBytes(int64_t t, int64_t batch, int64_t d,
                                                     int64_t h, int64_t parts, int64_t time_major,
                                                     int64_t pass) {
  try {
    const LstmGeometry whole{t, batch, d, h};
    const SequenceLayout layout{t, batch, time_major != 0};
    const auto split = SplitBatch(batch, parts);
    Carver carver(nullptr);
    if (pass == 2) {
      PlanScratch(whole, layout, split, BackwardEntries(), carver);
    } else {
      PlanScratch(whole, layout, split, ForwardEntries(pass == 1), carver);
    }
    return carver.used();
  } catch (const dnnl::error&) {
    return -1;
  }
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(OnednnLstmForward, LstmForwardImpl,
                              WithLstmOperands(ffi::Ffi::Bind())
                                  .Ret<ffi::Buffer<ffi::F32>>()  // y
                                  .Ret<ffi::Buffer<ffi::F32>>()  // c_T
                                  .Ret<ffi::Buffer<ffi::F32>>()  // h_T
                                  .Ret<ffi::Buffer<ffi::U8>>()   // workspace
                                  .Ret<ffi::Buffer<ffi::U8>>()   // scratch
                                  .Attr<int64_t>("training")
                                  .Attr<int64_t>("parts")
                                  .Attr<int64_t>("time_major"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(OnednnLstmBackward, LstmBackwardImpl,
                              WithLstmOperands(ffi::Ffi::Bind())
                                  .Arg<ffi::Buffer<ffi::F32>>()  // y
                                  .Arg<ffi::Buffer<ffi::F32>>()  // c_T
                                  .Arg<ffi::Buffer<ffi::F32>>()  // h_T
                                  .Arg<ffi::Buffer<ffi::U8>>()   // workspace
                                  .Arg<ffi::Buffer<ffi::F32>>()  // dy
                                  .Arg<ffi::Buffer<ffi::F32>>()  // dc_T
                                  .Arg<ffi::Buffer<ffi::F32>>()  // dh_T
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dx
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dw_x
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dw_h
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dbias
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dc0
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dh0
                                  .Ret<ffi::Buffer<ffi::U8>>()   // scratch
                                  .Attr<int64_t>("parts")
                                  .Attr<int64_t>("time_major"));
