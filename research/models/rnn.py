"""Recurrent networks and a word/character-level recurrent language model.

Cells (one time step each, gate equations written out):
- `ElmanCell`: the simple recurrent network of Elman 1990 ("Finding Structure
  in Time"), h_t = tanh(W_x x_t + W_h h_{t-1} + b).
- `LSTMCell`: long short-term memory (Hochreiter & Schmidhuber 1997) with the
  forget gate of Gers, Schmidhuber & Cummins 2000, in the form of Zaremba,
  Sutskever & Vinyals 2014 ("Recurrent Neural Network Regularization", §3):
      i, f, o = sigm(.), g = tanh(.), c_t = f * c_{t-1} + i * g,
      h_t = o * tanh(c_t).
- `GRUCell`: gated recurrent unit (Cho et al. 2014, "Learning Phrase
  Representations using RNN Encoder-Decoder", §2.3), in the variant PyTorch and
  cuDNN implement, where the reset gate multiplies W_hn h + b_hn *after* the
  matmul (the paper's eq. 7 resets h before it: W (r * h)).

`RNNLanguageModel`: embedding -> `num_layers` recurrent layers -> dense layer
to next-token logits, with dropout on the non-recurrent connections only
(Zaremba et al. 2014, §3, Fig. 2): on the embeddings, between layers and
before the output layer, never on h_{t-1} -> h_t.

Biases: each cell has one bias per gate (on the input projection; the GRU also
keeps b_hn, which the reset gate scales). PyTorch's nn.RNN/LSTM/GRU carry a
second, redundant bias per gate on the hidden projection, so their parameter
counts are higher by H per gate per layer (4H per LSTM layer).

Initialisation follows Flax's own nn.LSTMCell/nn.GRUCell: LeCun-normal input
kernels, an orthogonal recurrent kernel per gate (Saxe, McClelland & Ganguli
2014), zero biases.
"""

import dataclasses
import math
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from research.kernels import onednn
from research.kernels.gru_recurrence import gru_recurrence
from research.kernels.lstm_recurrence import lstm_recurrence
from research.models.common import DTYPES, INITS, Dropout, check_dtype, uniform_init

RNN_INITS = (*INITS, 'uniform')
# How `LSTMCell.sequence` computes the recurrence (the same values to float
# rounding, other speeds): 'onednn', oneDNN's LSTM primitive, forward and
# backward, on a CPU in float32 (research/kernels/onednn.py; elsewhere, or in
# another dtype, 'xla'); 'xla', a scan with a hand-written backward pass
# (research/kernels/lstm_recurrence.py); 'scan', autodiff of `nn.scan` over the cell.
LSTM_IMPLS = ('onednn', 'xla', 'scan')
# How `GRUCell.sequence` computes the recurrence (the same values to float
# rounding): 'xla', a scan with a hand-written backward pass
# (research/kernels/gru_recurrence.py); 'scan', autodiff of `nn.scan` over the cell.
GRU_IMPLS = ('xla', 'scan')


def _per_gate(init, num_gates: int):
  """`init` applied separately to each of the `num_gates` HxH blocks of a fused
  Hx(num_gates*H) recurrent kernel: each gate's W_h is orthogonal, as when the
  gates are separate Dense layers (one orthogonal Hx4H matrix would not be)."""

  def init_fn(key, shape, dtype=jnp.float32):
    width = shape[-1] // num_gates
    keys = jax.random.split(key, num_gates)
    return jnp.concatenate([init(k, shape[:-1] + (width,), dtype) for k in keys], axis=-1)

  return init_fn


def _zeros_carry(num_states: int, batch_size: int, hidden_size: int) -> tuple:
  # The carry stays float32 whatever the computation dtype: it accumulates over
  # many steps (c_t of the LSTM especially), and scan needs a fixed carry dtype.
  return tuple(jnp.zeros((batch_size, hidden_size), jnp.float32) for _ in range(num_states))


class _Cell(nn.Module):
  """What the cells share: one step `__call__(carry, x_BxD)`, and `sequence`,
  which runs all T steps of a BxTxD input with one `nn.scan`.

  Each step's work splits into the input projection W_x x_t + b, which does not
  depend on the past, and the recurrence on h_{t-1}. `sequence` computes the
  projection for all T steps as one (B*T)xD matmul before the scan, so the
  sequential loop holds only the recurrent matmul (cuDNN and PyTorch do the
  same); a step is `recur(carry, project(x_t))` either way.
  """

  hidden_size: int
  dtype: str = 'float32'
  # 'flax': LeNet-normal W_x, orthogonal W_h per gate, zero biases; 'torch':
  # PyTorch's nn.RNN/LSTM/GRU default, every weight and bias ~ U(+-1/sqrt(H));
  # 'uniform': every weight and bias ~ U(+-init_scale) (Zaremba et al. 2014, §4.1).
  param_init: str = 'flax'
  init_scale: float = 0.1  # 'uniform' only

  num_gates = 1  # Blocks of H in the projections (class attributes, not fields).
  num_states = 1  # Arrays in the carry.

  def setup(self):
    dtype, width = DTYPES[self.dtype], self.num_gates * self.hidden_size
    if self.param_init == 'flax':
      self.input = nn.Dense(width, dtype=dtype, name='input')
      self.hidden = nn.Dense(width, use_bias=False, dtype=dtype, name='hidden',
                             kernel_init=_per_gate(nn.initializers.orthogonal(), self.num_gates))
    elif self.param_init in ('torch', 'uniform'):
      uniform = uniform_init(self._uniform_bound())
      self.input = nn.Dense(width, dtype=dtype, name='input', kernel_init=uniform,
                            bias_init=uniform)
      self.hidden = nn.Dense(width, use_bias=False, dtype=dtype, name='hidden',
                             kernel_init=uniform)
    else:
      raise ValueError(f'param_init must be one of {RNN_INITS}, got {self.param_init!r}.')

  def _uniform_bound(self) -> float:
    return self.init_scale if self.param_init == 'uniform' else 1.0 / math.sqrt(self.hidden_size)

  def project(self, x):
    """W_x x + b for every gate: ...xD -> ...x(num_gates*H), float32."""
    return self.input(x).astype(jnp.float32)

  def recur(self, carry: tuple, a_x: jax.Array) -> tuple[tuple, jax.Array]:
    raise NotImplementedError  # Each cell's equations.

  def __call__(self, carry: tuple, x_BxD: jax.Array) -> tuple[tuple, jax.Array]:
    return self.recur(carry, self.project(x_BxD))

  def recurrence(self) -> tuple[Callable, tuple] | None:
    """The recurrence over a whole sequence as a pure function, where the cell
    has one: `(run, weights)`, `run(weights, a_x_TxBxG, carry)` -> (h_TxBxH,
    carry after step T), with a_x_TxBxG = `project(x_TxBxD)` (time-major).
    None where `sequence` differentiates `nn.scan` over `recur` instead (and
    while initializing, before the weights exist). `bidirectional_sequence`
    runs two cells' `run` as one loop."""
    return None

  def sequence(self, carry: tuple, x_BxTxD: jax.Array, *, unroll: int = 1,
               time_major: bool = False) -> tuple[tuple, jax.Array]:
    """All T steps: (carry, BxTxD) -> (carry after step T, h for every step BxTxH);
    with `time_major`, TxBxD -> TxBxH. `unroll` steps are compiled per loop
    iteration of the `nn.scan` (same result, other speed)."""
    recurrence = self.recurrence()
    if recurrence is not None:
      run, weights = recurrence
      # Made time-major before the input projection, not after: the transpose
      # moves D, not G*H, values per step, and the projection's gradients
      # contract the backward loop's time-major output in place.
      x_TxBxD = x_BxTxD if time_major else jnp.swapaxes(x_BxTxD, 0, 1)
      h_TxBxH, new_carry = run(weights, self.project(x_TxBxD), carry)
      return new_carry, (h_TxBxH if time_major else jnp.swapaxes(h_TxBxH, 0, 1))
    # Params are shared across time steps (broadcast, not scanned); anything
    # sown at each step is stacked on axis 1, giving (B, T, ...).
    time_axis = 0 if time_major else 1
    scan = nn.scan(lambda cell, c, a: cell.recur(c, a), variable_broadcast='params',
                   variable_axes={'intermediates': 1}, split_rngs={'params': False},
                   in_axes=time_axis, out_axes=time_axis, unroll=unroll)
    return scan(self, carry, self.project(x_BxTxD))

  @nn.nowrap
  def initial_carry(self, batch_size: int) -> tuple:
    return _zeros_carry(self.num_states, batch_size, self.hidden_size)


class ElmanCell(_Cell):
  """Elman 1990: h_t = tanh(W_x x_t + W_h h_{t-1} + b). Carry: (h,)."""

  num_gates = 1
  num_states = 1

  def recur(self, carry, a_x):
    (h_BxH,) = carry
    h_BxH = jnp.tanh(a_x + self.hidden(h_BxH).astype(jnp.float32))
    return (h_BxH,), h_BxH


class LSTMCell(_Cell):
  """Zaremba et al. 2014, §3 (gates in PyTorch's order i, f, g, o):

      i = sigm(W_xi x_t + W_hi h_{t-1} + b_i)
      f = sigm(W_xf x_t + W_hf h_{t-1} + b_f + forget_bias)
      g = tanh(W_xg x_t + W_hg h_{t-1} + b_g)
      o = sigm(W_xo x_t + W_ho h_{t-1} + b_o)
      c_t = f * c_{t-1} + i * g
      h_t = o * tanh(c_t)

  The four W_x* are one Dense 'input' (D -> 4H, with the biases) and the four
  W_h* one Dense 'hidden' (H -> 4H, no bias): two matmuls per step, not eight.
  Carry: (c, h).
  """

  # Added to f's pre-activation. 1.0 (Jozefowicz, Zaremba & Sutskever 2015,
  # "An Empirical Exploration of Recurrent Network Architectures", §2.2) starts
  # the cell remembering (f ~ 0.73) so gradients flow through c from the start;
  # 0.0 is the plain equations.
  forget_bias: float = 0.0
  # Sow {'input': i, 'forget': f, 'output': o} into 'intermediates' (effective
  # only when that collection is mutable in `apply`).
  record_gates: bool = False
  # How `sequence` runs the recurrence, one of LSTM_IMPLS. Recording gates
  # always takes the scan.
  impl: str = 'xla'

  num_gates = 4
  num_states = 2

  def setup(self):
    if self.impl not in LSTM_IMPLS:
      raise ValueError(f'LSTM impl must be one of {LSTM_IMPLS}, got {self.impl!r}.')
    super().setup()

  def _runs_onednn(self) -> bool:
    return self.impl == 'onednn' and self.dtype == 'float32'

  def recurrence(self):
    if (self.impl == 'scan' or self.record_gates or self.is_initializing()
        or self._runs_onednn()):
      return None
    forget_bias, dtype = float(self.forget_bias), DTYPES[self.dtype]

    def run(weights, a_x_TxBx4H, carry):
      return lstm_recurrence(forget_bias, dtype, *weights, a_x_TxBx4H, *carry)

    return run, (self.hidden.variables['params']['kernel'],)

  def sequence(self, carry, x_BxTxD, *, unroll=1, time_major=False):
    if not self._runs_onednn() or self.record_gates or self.is_initializing():
      return super().sequence(carry, x_BxTxD, unroll=unroll, time_major=time_major)
    # The whole layer in one call, the input projection included (XLA's
    # `lstm_recurrence` where oneDNN is not available).
    c0_BxH, h0_BxH = carry
    x_TxBxD = x_BxTxD if time_major else jnp.swapaxes(x_BxTxD, 0, 1)
    params = self.input.variables['params']
    hidden = self.hidden_size
    bias_4H = jnp.asarray(params['bias']).at[hidden:2 * hidden].add(self.forget_bias)
    h_TxBxH, new_carry = onednn.lstm(x_TxBxD, params['kernel'],
                                     self.hidden.variables['params']['kernel'], bias_4H,
                                     c0_BxH, h0_BxH, time_major=True)
    return new_carry, (h_TxBxH if time_major else jnp.swapaxes(h_TxBxH, 0, 1))

  def recur(self, carry, a_x):
    c_BxH, h_BxH = carry
    a_Bx4H = a_x + self.hidden(h_BxH).astype(jnp.float32)
    a_i, a_f, a_g, a_o = jnp.split(a_Bx4H, 4, axis=-1)
    i = nn.sigmoid(a_i)
    f = nn.sigmoid(a_f + self.forget_bias)
    g = jnp.tanh(a_g)
    o = nn.sigmoid(a_o)
    c_BxH = f * c_BxH + i * g
    h_BxH = o * jnp.tanh(c_BxH)
    if self.record_gates:
      self.sow('intermediates', 'gates', {'input': i, 'forget': f, 'output': o})
    return (c_BxH, h_BxH), h_BxH


class GRUCell(_Cell):
  """Cho et al. 2014 in the PyTorch/cuDNN variant (gates in order r, z, n):

      r = sigm(W_ir x_t + b_r + W_hr h_{t-1})
      z = sigm(W_iz x_t + b_z + W_hz h_{t-1})
      n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))
      h_t = (1 - z) * n + z * h_{t-1}

  z is the fraction of the old state kept (the paper's eq. 8 with z's role as
  written there). b_hn cannot be folded into b_in because r scales it, so it
  is the one hidden-side bias ('hidden_bias_n'), as in Flax's nn.GRUCell.
  Carry: (h,).
  """

  # How `sequence` runs the recurrence, one of GRU_IMPLS.
  impl: str = 'xla'

  num_gates = 3
  num_states = 1

  def setup(self):
    if self.impl not in GRU_IMPLS:
      raise ValueError(f'GRU impl must be one of {GRU_IMPLS}, got {self.impl!r}.')
    super().setup()
    bias_init = (uniform_init(self._uniform_bound())
                 if self.param_init in ('torch', 'uniform') else nn.initializers.zeros_init())
    self.hidden_bias_n = self.param('hidden_bias_n', bias_init, (self.hidden_size,))

  def recurrence(self):
    if self.impl == 'scan' or self.is_initializing():
      return None
    dtype = DTYPES[self.dtype]

    def run(weights, a_x_TxBx3H, carry):
      h_TxBxH, h_T = gru_recurrence(dtype, *weights, a_x_TxBx3H, *carry)
      return h_TxBxH, (h_T,)

    return run, (self.hidden.variables['params']['kernel'], self.hidden_bias_n)

  def recur(self, carry, a_x):
    (h_BxH,) = carry
    ah_Bx3H = self.hidden(h_BxH).astype(jnp.float32)
    ax_r, ax_z, ax_n = jnp.split(a_x, 3, axis=-1)
    ah_r, ah_z, ah_n = jnp.split(ah_Bx3H, 3, axis=-1)
    r = nn.sigmoid(ax_r + ah_r)
    z = nn.sigmoid(ax_z + ah_z)
    n = jnp.tanh(ax_n + r * (ah_n + self.hidden_bias_n))
    h_BxH = (1.0 - z) * n + z * h_BxH
    return (h_BxH,), h_BxH


CELLS = {'rnn': ElmanCell, 'lstm': LSTMCell, 'gru': GRUCell}


def _cell_settings(cell: _Cell) -> dict[str, Any]:
  return {f.name: getattr(cell, f.name) for f in dataclasses.fields(cell)
          if f.name not in ('parent', 'name')}


def bidirectional_sequence(forward: _Cell, backward: _Cell, x_BxTxD: jax.Array,
                           x_backward_BxTxD: jax.Array, *,
                           fuse: bool) -> tuple[jax.Array, jax.Array]:
  """A bidirectional layer from zero carries: `forward` reads x_BxTxD,
  `backward` reads x_backward_BxTxD (the caller's reversal of it). Returns
  both cells' h_BxTxH, each in the order its cell read.

  With `fuse`, where the two cells are alike and have a pure `recurrence`,
  both directions run as one loop over T (`jax.vmap` over the direction: one
  batched matmul per step, in the forward and the backward pass): half the
  sequential steps of two loops, for devices where each step costs a launch.
  Otherwise one `sequence` each. The values are equal to float rounding.
  """
  batch = x_BxTxD.shape[0]
  recurrences = forward.recurrence(), backward.recurrence()
  if (not fuse or None in recurrences or type(forward) is not type(backward)
      or _cell_settings(forward) != _cell_settings(backward)):
    _, h_BxTxH = forward.sequence(forward.initial_carry(batch), x_BxTxD)
    _, h_backward_BxTxH = backward.sequence(backward.initial_carry(batch), x_backward_BxTxD)
    return h_BxTxH, h_backward_BxTxH
  (run, weights), (_, backward_weights) = recurrences
  stack = lambda a, b: jnp.stack([a, b])  # noqa: E731
  a_x_2xTxBxG = stack(forward.project(jnp.swapaxes(x_BxTxD, 0, 1)),
                      backward.project(jnp.swapaxes(x_backward_BxTxD, 0, 1)))
  carry = jax.tree.map(stack, forward.initial_carry(batch), backward.initial_carry(batch))
  h_2xTxBxH, _ = jax.vmap(run)(jax.tree.map(stack, weights, backward_weights), a_x_2xTxBxG,
                               carry)
  return jnp.swapaxes(h_2xTxBxH[0], 0, 1), jnp.swapaxes(h_2xTxBxH[1], 0, 1)


class RNNLanguageModel(nn.Module):
  """Next-token model: embed -> `num_layers` x (scan of `cell` over time) ->
  dense to `vocab_size` logits.

      model = RNNLanguageModel(vocab_size=V)
      carry = model.initial_carry(B)   # zeros; no params or apply needed
      variables = model.init(key, tokens_BxT, carry)
      logits_BxTxV, carry = model.apply(variables, tokens_BxT, carry)

  The returned carry continues the sequence: feeding the next chunk with it
  equals one call on the concatenation (truncated backpropagation through time,
  Zaremba et al. 2014 §4.1, when the caller stops gradients through it).

  Each layer is one loop over T (one compiled loop body, whatever T is) after
  one matmul for its input projections (`_Cell.sequence`); the LSTM's layers
  run as `lstm_impl` says (LSTM_IMPLS). Dropout acts
  on the non-recurrent connections only, so it is applied to whole BxTxD
  tensors outside the loops, with a fresh mask at every time step.
  """

  vocab_size: int
  embed_dim: int = 128
  hidden_size: int = 256
  num_layers: int = 2
  cell: str = 'lstm'  # 'rnn' (Elman), 'lstm' or 'gru'.
  dropout_rate: float = 0.0
  forget_bias: float = 0.0  # LSTM only.
  # The output layer reuses the embedding matrix, logits = h E^T + b (Press &
  # Wolf 2017; Inan, Khosravi & Socher 2017); needs embed_dim == hidden_size.
  tie_embeddings: bool = False
  # LSTM only: record i, f, o per layer (see `LSTMCell`).
  record_gates: bool = False
  dtype: str = 'float32'  # Computation dtype; params and carry stay float32.
  # Time steps per compiled loop iteration where a layer runs as `nn.scan`
  # (lstm_impl='scan', the Elman cell; a speed knob; results are equal).
  scan_unroll: int = 1
  # LSTM only: how each layer's recurrence is computed, one of LSTM_IMPLS
  # (a speed knob; results are equal to float rounding).
  lstm_impl: str = 'xla'
  # 'flax' (the cells' default, Flax's embedding and output layers), 'torch', or
  # 'uniform': every parameter ~ U(+-init_scale), the paper's "initialized
  # uniformly in [-0.1, 0.1]" (Zaremba et al. 2014, §4.1; 0.05 / 0.04 larger).
  param_init: str = 'flax'
  init_scale: float = 0.1

  def __post_init__(self):
    if self.param_init not in RNN_INITS:
      raise ValueError(f'param_init must be one of {RNN_INITS}, got {self.param_init!r}.')
    if self.cell not in CELLS:
      raise ValueError(f'cell must be one of {sorted(CELLS)}, got {self.cell!r}.')
    if self.num_layers < 1:
      raise ValueError(f'num_layers must be >= 1, got {self.num_layers}.')
    if self.tie_embeddings and self.embed_dim != self.hidden_size:
      raise ValueError(
          f'tie_embeddings needs embed_dim == hidden_size; got embed_dim='
          f'{self.embed_dim}, hidden_size={self.hidden_size}.')
    if self.lstm_impl not in LSTM_IMPLS:
      raise ValueError(f'lstm_impl must be one of {LSTM_IMPLS}, got {self.lstm_impl!r}.')
    if self.cell != 'lstm' and (self.forget_bias or self.record_gates):
      raise ValueError(f"forget_bias and record_gates apply to cell='lstm' only "
                       f'(cell={self.cell!r}).')
    check_dtype(self.dtype)
    super().__post_init__()

  def _cell_kwargs(self) -> dict[str, Any]:
    kwargs = {'hidden_size': self.hidden_size, 'dtype': self.dtype,
              'param_init': self.param_init, 'init_scale': self.init_scale}
    if self.cell == 'lstm':
      kwargs.update(forget_bias=self.forget_bias, record_gates=self.record_gates,
                    impl=self.lstm_impl)
    return kwargs

  @nn.nowrap
  def initial_carry(self, batch_size: int) -> tuple:
    """Zeros: one cell carry per layer ((c, h) for the LSTM, (h,) otherwise).
    A plain method: call it on the unbound module, `model.initial_carry(B)`."""
    num_states = CELLS[self.cell].num_states
    return tuple(_zeros_carry(num_states, batch_size, self.hidden_size)
                 for _ in range(self.num_layers))

  @nn.compact
  def __call__(self, tokens_BxT: jax.Array, carry: tuple, *,
               train: bool = False) -> tuple[jax.Array, tuple]:
    if len(carry) != self.num_layers:
      raise ValueError(f'carry has {len(carry)} layers; the model has {self.num_layers} '
                       '(use model.initial_carry(batch_size)).')
    dtype = DTYPES[self.dtype]
    dropout = Dropout(self.dropout_rate, deterministic=not train)
    uniform = ({'embedding_init': uniform_init(self.init_scale)}
               if self.param_init == 'uniform' else {})
    embed = nn.Embed(self.vocab_size, self.embed_dim, dtype=dtype, name='embed', **uniform)

    def dropout_time_major(x_TxBxD):
      # `dropout` of the batch-major activations: the same mask, drawn for
      # BxTxD, and the same values, laid out time-major.
      if dropout.deterministic or self.dropout_rate == 0.0:
        return x_TxBxD
      if self.dropout_rate == 1.0:  # as nn.Dropout: zeros, without dividing by 0
        return jnp.zeros_like(x_TxBxD)
      kept_BxTxD = dropout(jnp.ones(jnp.swapaxes(x_TxBxD, 0, 1).shape, x_TxBxD.dtype)) != 0
      return jnp.where(jnp.swapaxes(kept_BxTxD, 0, 1), x_TxBxD / (1.0 - self.dropout_rate), 0)

    # Time-major between the layers: each layer steps over the leading axis, so
    # no activation is transposed around a recurrence, only the tokens (BxT
    # integers) and the last layer's output.
    x_TxBxD = dropout_time_major(embed(tokens_BxT.T))
    new_carry = []
    for layer in range(self.num_layers):
      cell = CELLS[self.cell](**self._cell_kwargs(), name=f'layer_{layer}')
      layer_carry, h_TxBxH = cell.sequence(carry[layer], x_TxBxD, unroll=self.scan_unroll,
                                           time_major=True)
      new_carry.append(layer_carry)
      if layer + 1 < self.num_layers:
        x_TxBxD = dropout_time_major(h_TxBxH)
    x_BxTxD = dropout(jnp.swapaxes(h_TxBxH, 0, 1))
    if self.tie_embeddings:
      bias_V = self.param('out_bias', uniform.get('embedding_init', nn.initializers.zeros_init()),
                          (self.vocab_size,))
      logits_BxTxV = embed.attend(x_BxTxD) + bias_V.astype(dtype)
    else:
      out_init = ({'kernel_init': uniform_init(self.init_scale),
                   'bias_init': uniform_init(self.init_scale)} if uniform else {})
      logits_BxTxV = nn.Dense(self.vocab_size, dtype=dtype, name='out', **out_init)(x_BxTxD)
    return logits_BxTxV.astype(jnp.float32), tuple(new_carry)
