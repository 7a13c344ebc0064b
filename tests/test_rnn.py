"""Recurrent cells against numpy versions of their equations, and the RNN
language model's carried state, dropout, options and parameter counts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from research.kernels import onednn
from research.models.rnn import CELLS, ElmanCell, GRUCell, LSTMCell, RNNLanguageModel

B, D, H, T = 3, 5, 4, 6
CELL_NAMES = sorted(CELLS)


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


# Plain-numpy steps, written from the equations (gate order as in rnn.py).
def _elman_step(p, carry, x):
  (h,) = carry
  h = np.tanh(x @ p['input']['kernel'] + p['input']['bias'] + h @ p['hidden']['kernel'])
  return (h,), h


def _lstm_step(p, carry, x, forget_bias=0.0):
  c, h = carry
  wx, b, wh = p['input']['kernel'], p['input']['bias'], p['hidden']['kernel']
  cols = lambda k: slice(k * H, (k + 1) * H)
  gate = lambda k: x @ wx[:, cols(k)] + b[cols(k)] + h @ wh[:, cols(k)]
  i = _sigmoid(gate(0))
  f = _sigmoid(gate(1) + forget_bias)
  g = np.tanh(gate(2))
  o = _sigmoid(gate(3))
  c = f * c + i * g
  h = o * np.tanh(c)
  return (c, h), h


def _gru_step(p, carry, x):
  (h,) = carry
  wx, b, wh, b_hn = (p['input']['kernel'], p['input']['bias'], p['hidden']['kernel'],
                     p['hidden_bias_n'])
  xs = lambda k: x @ wx[:, k * H:(k + 1) * H] + b[k * H:(k + 1) * H]
  hs = lambda k: h @ wh[:, k * H:(k + 1) * H]
  r = _sigmoid(xs(0) + hs(0))
  z = _sigmoid(xs(1) + hs(1))
  n = np.tanh(xs(2) + r * (hs(2) + b_hn))
  h = (1.0 - z) * n + z * h
  return (h,), h


@pytest.mark.parametrize('cell_cls, step, num_states', [
    (ElmanCell, _elman_step, 1),
    (LSTMCell, _lstm_step, 2),
    (GRUCell, _gru_step, 1),
])
def test_cell_matches_numpy_equations(cell_cls, step, num_states):
  cell = cell_cls(hidden_size=H)
  xs_TxBxD = jax.random.normal(jax.random.key(1), (T, B, D))
  carry = cell.initial_carry(B)
  assert len(carry) == num_states and all(c.shape == (B, H) for c in carry)
  params = cell.init(jax.random.key(0), carry, xs_TxBxD[0])['params']
  # Nonzero biases, so that a misplaced bias would show.
  params = jax.tree.map(
      lambda p: p + 0.3 * jax.random.normal(jax.random.key(2), p.shape), params)
  np_params = jax.tree.map(np.asarray, params)
  np_carry = tuple(np.asarray(c) for c in carry)
  for t in range(T):
    carry, h = cell.apply({'params': params}, carry, xs_TxBxD[t])
    np_carry, np_h = step(np_params, np_carry, np.asarray(xs_TxBxD[t]))
    np.testing.assert_allclose(h, np_h, rtol=1e-5, atol=1e-5)
    for a, b in zip(carry, np_carry):
      np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
  assert np.abs(np_h).max() > 1e-2  # The state did move away from zero.


def test_lstm_forget_bias_matches_numpy():
  cell = LSTMCell(hidden_size=H, forget_bias=1.0)
  x = jax.random.normal(jax.random.key(1), (B, D))
  carry = (jnp.full((B, H), 0.5), jnp.full((B, H), -0.2))
  params = cell.init(jax.random.key(0), carry, x)['params']
  new_carry, h = cell.apply({'params': params}, carry, x)
  _, np_h = _lstm_step(jax.tree.map(np.asarray, params), tuple(map(np.asarray, carry)),
                       np.asarray(x), forget_bias=1.0)
  np.testing.assert_allclose(h, np_h, rtol=1e-5, atol=1e-5)


def _lm(**kwargs):
  kwargs = {'vocab_size': 17, 'embed_dim': 6, 'hidden_size': 8, **kwargs}
  return RNNLanguageModel(**kwargs)


def _tokens(shape=(B, 10), seed=3):
  return jax.random.randint(jax.random.key(seed), shape, 0, 17)


def _num_params(params):
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))


@pytest.mark.parametrize('cell', CELL_NAMES)
def test_carried_state_equals_one_long_call(cell):
  model = _lm(cell=cell)
  tokens = _tokens()
  carry0 = model.initial_carry(B)
  variables = model.init(jax.random.key(0), tokens, carry0)
  apply = jax.jit(model.apply)
  full, full_carry = apply(variables, tokens, carry0)
  assert full.shape == (B, 10, 17) and full.dtype == jnp.float32
  first, carry = apply(variables, tokens[:, :4], carry0)
  second, carry = apply(variables, tokens[:, 4:], carry)
  np.testing.assert_allclose(jnp.concatenate([first, second], axis=1), full,
                             rtol=1e-5, atol=1e-5)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5),
               carry, full_carry)
  # Restarting the second chunk from zeros must change its logits.
  restarted, _ = apply(variables, tokens[:, 4:], carry0)
  assert np.abs(restarted - second).max() > 1e-4


@pytest.mark.slow
def test_dropout_only_in_training_and_deterministic_given_rng():
  model = _lm(dropout_rate=0.5)
  tokens, carry = _tokens(), _lm().initial_carry(B)
  variables = model.init(jax.random.key(0), tokens, carry)
  run = lambda **kw: model.apply(variables, tokens, carry, **kw)[0]
  np.testing.assert_array_equal(run(), run(train=False))
  np.testing.assert_array_equal(run(), _lm().apply(variables, tokens, carry)[0])
  a = run(train=True, rngs={'dropout': jax.random.key(1)})
  b = run(train=True, rngs={'dropout': jax.random.key(1)})
  c = run(train=True, rngs={'dropout': jax.random.key(2)})
  np.testing.assert_array_equal(a, b)
  assert not np.allclose(a, run())
  assert not np.allclose(a, c)


@pytest.mark.parametrize('num_layers', [1, 3])
@pytest.mark.parametrize('cell', CELL_NAMES)
def test_num_layers(cell, num_layers):
  model = _lm(cell=cell, num_layers=num_layers)
  carry = model.initial_carry(B)
  assert len(carry) == num_layers
  variables = model.init(jax.random.key(0), _tokens(), carry)
  assert {k for k in variables['params'] if k.startswith('layer_')} == {
      f'layer_{i}' for i in range(num_layers)}
  logits, new_carry = model.apply(variables, _tokens(), carry)
  assert logits.shape == (B, 10, 17) and np.all(np.isfinite(logits))
  assert jax.tree.structure(new_carry) == jax.tree.structure(carry)
  with pytest.raises(ValueError, match='carry'):
    model.apply(variables, _tokens(), _lm(cell=cell, num_layers=2).initial_carry(B))


def test_tied_embeddings_share_the_matrix():
  untied, tied = _lm(embed_dim=8), _lm(embed_dim=8, tie_embeddings=True)
  tokens, carry = _tokens(), untied.initial_carry(B)
  p_untied = untied.init(jax.random.key(0), tokens, carry)['params']
  p_tied = tied.init(jax.random.key(0), tokens, carry)['params']
  assert 'out' not in p_tied
  assert _num_params(p_untied) - _num_params(p_tied) == 8 * 17  # The HxV kernel.
  # The output layer reads the embedding: changing E changes the logits of a
  # fixed final hidden state, h E^T + b.
  logits, _ = tied.apply({'params': p_tied}, tokens, carry)
  bumped = {**p_tied, 'embed': {'embedding': p_tied['embed']['embedding'].at[5].add(1.0)}}
  logits_bumped, _ = tied.apply({'params': bumped}, tokens[:, :1] * 0, carry)
  logits_ref, _ = tied.apply({'params': p_tied}, tokens[:, :1] * 0, carry)
  diff = np.abs(logits_bumped - logits_ref).max(axis=(0, 1))
  assert diff[5] > 1e-3 and np.all(diff[np.arange(17) != 5] < 1e-7)
  assert logits.shape == (B, 10, 17)
  with pytest.raises(ValueError, match='embed_dim == hidden_size'):
    _lm(embed_dim=6, hidden_size=8, tie_embeddings=True)


def test_recorded_lstm_gates():
  model = _lm(record_gates=True, num_layers=2)
  tokens, carry = _tokens(), model.initial_carry(B)
  variables = model.init(jax.random.key(0), tokens, carry)
  (logits, _), state = model.apply(variables, tokens, carry, mutable=['intermediates'])
  np.testing.assert_allclose(logits, _lm().apply(variables, tokens, carry)[0], atol=1e-6)
  for layer in ('layer_0', 'layer_1'):
    (gates,) = state['intermediates'][layer]['gates']
    assert set(gates) == {'input', 'forget', 'output'}
    for g in gates.values():
      assert g.shape == (B, 10, 8)
      assert np.all((g > 0) & (g < 1))
  # Without record_gates nothing is sown.
  _, state = _lm().apply(variables, tokens, carry, mutable=['intermediates'])
  assert not jax.tree.leaves(state)


def test_forget_bias_raises_the_forget_gate():
  tokens = _tokens()
  carry = _lm().initial_carry(B)
  variables = _lm().init(jax.random.key(0), tokens, carry)

  def mean_forget(forget_bias):
    model = _lm(record_gates=True, forget_bias=forget_bias)
    _, state = model.apply(variables, tokens, carry, mutable=['intermediates'])
    return float(np.mean(state['intermediates']['layer_0']['gates'][0]['forget']))

  f0, f1 = mean_forget(0.0), mean_forget(1.0)
  assert f1 > f0 + 0.1
  with pytest.raises(ValueError, match='lstm'):
    _lm(cell='gru', forget_bias=1.0)


def test_bfloat16_computation_keeps_float32_logits_and_carry():
  model = _lm(dtype='bfloat16')
  tokens, carry = _tokens(), model.initial_carry(B)
  variables = model.init(jax.random.key(0), tokens, carry)
  logits, new_carry = model.apply(variables, tokens, carry)
  ref, _ = _lm().apply(variables, tokens, carry)
  assert logits.dtype == jnp.float32
  assert all(c.dtype == jnp.float32 for c in jax.tree.leaves(new_carry))
  np.testing.assert_allclose(logits, ref, atol=5e-2)


def test_two_layer_lm_parameter_counts():
  # V = 128, E = 128, H = 512. Embedding V*E = 16,384; output H*V + V = 65,664.
  # LSTM layer with input D: 4H*D + 4H*H + 4H (one bias per gate)
  #   layer 0: 2048*128 + 2048*512 + 2048 = 1,312,768
  #   layer 1: 2048*512 + 2048*512 + 2048 = 2,099,200
  #   total 16,384 + 1,312,768 + 2,099,200 + 65,664 = 3,494,016.
  # PyTorch's nn.LSTM has b_ih and b_hh (8H biases per layer), 2 * 2048 more:
  #   3,498,112.
  # GRU layer: 3H*D + 3H*H + 3H + H (b_hn): layer 0 985,088, layer 1 1,574,912,
  #   total 2,642,048 (nn.GRU: +2 * 1024 = 2,644,096).
  # Elman layer: H*D + H*H + H: layer 0 328,192, layer 1 524,800, total 935,040
  #   (nn.RNN: +2 * 512 = 936,064).
  expected = {'lstm': 3_494_016, 'gru': 2_642_048, 'rnn': 935_040}
  for cell, count in expected.items():
    model = RNNLanguageModel(vocab_size=128, embed_dim=128, hidden_size=512,
                             num_layers=2, cell=cell)
    variables = jax.eval_shape(lambda: model.init(
        jax.random.key(0), jnp.zeros((1, 2), jnp.int32), model.initial_carry(1)))
    assert _num_params(variables['params']) == count, cell


def test_per_gate_recurrent_kernels_are_orthogonal():
  cell = LSTMCell(hidden_size=H)
  params = cell.init(jax.random.key(0), cell.initial_carry(B), jnp.zeros((B, D)))['params']
  w = np.asarray(params['hidden']['kernel'])
  for k in range(4):
    block = w[:, k * H:(k + 1) * H]
    np.testing.assert_allclose(block.T @ block, np.eye(H), atol=1e-5)


def test_rejects_unknown_cell():
  with pytest.raises(ValueError, match='cell'):
    _lm(cell='transformer')


@pytest.mark.parametrize('impl', ['xla', 'onednn'])
@pytest.mark.parametrize('forget_bias', [0.0, 1.0])
def test_lstm_impls_equal_autodiff_of_the_scan(forget_bias, impl):
  # 'xla' runs the recurrence through lstm_recurrence's custom VJP, 'onednn'
  # through oneDNN's LSTM primitive (its forward and backward calls); values and
  # gradients (params and incoming carry) must equal autodiff of the scanned cell.
  if impl == 'onednn':
    assert onednn.lstm_available(), onednn.status()[1]
  model = _lm(forget_bias=forget_bias, lstm_impl=impl)
  scanned = model.clone(lstm_impl='scan')
  tokens = _tokens()
  carry = jax.tree.map(lambda x: jax.random.normal(jax.random.key(3), x.shape),
                       model.initial_carry(B))
  params = model.init(jax.random.key(0), tokens, carry)['params']

  def loss(params, carry, model):
    logits, new_carry = model.apply({'params': params}, tokens, carry)
    # Uses both the outputs and the final carry, so every cotangent is nonzero.
    return jnp.mean(logits ** 2) + sum(jnp.sum(x ** 3) for x in jax.tree.leaves(new_carry))

  got = jax.grad(loss, argnums=(0, 1))(params, carry, model)
  want = jax.grad(loss, argnums=(0, 1))(params, carry, scanned)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5), got, want)
  np.testing.assert_allclose(model.apply({'params': params}, tokens, carry)[0],
                             scanned.apply({'params': params}, tokens, carry)[0], atol=1e-6)


def test_unknown_lstm_impl_is_refused():
  with pytest.raises(ValueError, match="lstm_impl must be one of .*'onednn'"):
    _lm(lstm_impl='cudnn')
  cell = LSTMCell(hidden_size=H, impl='cudnn')
  with pytest.raises(ValueError, match="LSTM impl must be one of .*'onednn'"):
    cell.init(jax.random.key(0), cell.initial_carry(B), jnp.zeros((B, D)))


@pytest.mark.parametrize('dtype', ['float32', 'bfloat16'])
def test_gru_recurrence_equals_autodiff_of_the_scan(dtype):
  # impl='xla' runs gru_recurrence's hand-written backward pass; values and
  # gradients (every param, the input and the incoming carry) must equal
  # autodiff of the scanned cell. Nonzero biases and carry, so each term shows.
  cell = GRUCell(hidden_size=H, dtype=dtype, param_init='torch')
  scanned = cell.clone(impl='scan')
  x_BxTxD = jax.random.normal(jax.random.key(1), (B, T, D))
  carry = (0.5 * jax.random.normal(jax.random.key(2), (B, H)),)
  params = cell.init(jax.random.key(0), carry, x_BxTxD[:, 0])['params']
  params = jax.tree.map(lambda p: p + 0.3 * jax.random.normal(jax.random.key(4), p.shape), params)

  def loss(params, x, carry, cell):
    new_carry, h_BxTxH = cell.apply({'params': params}, carry, x, method='sequence')
    return jnp.sum(jnp.sin(h_BxTxH)) + jnp.sum(new_carry[0] ** 3)

  got = jax.grad(loss, argnums=(0, 1, 2))(params, x_BxTxD, carry, cell)
  want = jax.grad(loss, argnums=(0, 1, 2))(params, x_BxTxD, carry, scanned)
  # bfloat16 matmuls: the hand-written pass keeps float32 results (as the
  # LSTM's), the scanned cell's Dense rounds them to bfloat16.
  tol = {'rtol': 1e-4, 'atol': 1e-5} if dtype == 'float32' else {'rtol': 0.05, 'atol': 0.05}
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, **tol), got, want)
  assert np.abs(got[0]['hidden_bias_n']).max() > 1e-3  # b_hn's gradient is not lost
  if dtype == 'float32':  # the forward pass is the same computation
    np.testing.assert_array_equal(
        cell.apply({'params': params}, carry, x_BxTxD, method='sequence')[1],
        scanned.apply({'params': params}, carry, x_BxTxD, method='sequence')[1])


@pytest.mark.parametrize('cell', ['gru', 'lstm', 'rnn'])
def test_fused_directions_equal_two_loops(cell):
  from research.models.rnn_classifier import RNNClassifier
  model = RNNClassifier(num_classes=3, hidden_size=H, cell=cell, param_init='torch')
  fused = model.clone(fuse_directions=True)
  x_BxTxC = jax.random.normal(jax.random.key(1), (B, T, 2))
  params = model.init(jax.random.key(0), x_BxTxC)['params']

  def loss(params, x, model):
    return jnp.sum(model.apply({'params': params}, x) ** 2)

  got = jax.grad(loss, argnums=(0, 1))(params, x_BxTxC, fused)
  want = jax.grad(loss, argnums=(0, 1))(params, x_BxTxC, model)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), got, want)
  np.testing.assert_allclose(fused.apply({'params': params}, x_BxTxC),
                             model.apply({'params': params}, x_BxTxC), rtol=1e-6, atol=1e-6)
  # Where the cells have a pure recurrence, it really is one loop: one forward
  # while loop in the jaxpr of the fused model, two in the other.
  def loops(m):
    jaxpr = jax.make_jaxpr(lambda p: m.apply({'params': p}, x_BxTxC))(params)
    return str(jaxpr).count('while[') + str(jaxpr).count('scan[')
  assert (loops(fused), loops(model)) == ((1, 2) if cell != 'rnn' else (2, 2))


def test_unknown_gru_impl_is_refused():
  cell = GRUCell(hidden_size=H, impl='cudnn')
  with pytest.raises(ValueError, match="GRU impl must be one of .*'xla'"):
    cell.init(jax.random.key(0), cell.initial_carry(B), jnp.zeros((B, D)))


def test_classifier_cell_impl_reaches_the_cells_and_is_checked():
  from research.models.rnn_classifier import RNNClassifier
  x_BxTxC = jnp.zeros((B, T, 1))
  params = RNNClassifier(num_classes=3, hidden_size=H).init(jax.random.key(0), x_BxTxC)
  jaxpr = lambda model: str(jax.make_jaxpr(model.apply)(params, x_BxTxC))  # noqa: E731
  assert 'custom_vjp_call' in jaxpr(RNNClassifier(num_classes=3, hidden_size=H))
  assert 'custom_vjp_call' not in jaxpr(RNNClassifier(num_classes=3, hidden_size=H,
                                                      cell_impl='scan'))
  with pytest.raises(ValueError, match="GRU impl must be one of"):
    RNNClassifier(num_classes=3, cell_impl='cudnn').init(jax.random.key(0), x_BxTxC)
  with pytest.raises(ValueError, match="cell_impl applies to cell='gru' or 'lstm'"):
    RNNClassifier(num_classes=3, cell='rnn', cell_impl='scan').init(jax.random.key(0), x_BxTxC)
