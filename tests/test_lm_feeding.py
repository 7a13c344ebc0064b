"""How a language model is fed: `batchify` / `eval_layout` on known streams,
truncated BPTT through the real compiled train step, exact evaluation with the
carry threaded across windows, bit-exact resume, and the carry's sharding.

Every test builds its feeder from in-memory ids (`TokenData`), no TFDS.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import PartitionSpec as P

from research import checkpoint, errors, optim, parallel, train
from research.data import lm_corpus, lm_feeding
from research.tasks import TASKS
from testlib import load_config, quiet

VOCAB = 12
TASK = TASKS['language_model']


# ---------------------------------------------------------------- helpers


def _config(**overrides):
  base = {
      'batch_size': 2, 'eval_batch_size': 2, 'seq_len': 4, 'num_train_steps': 8,
      'model.hidden_size': 8, 'model.embed_dim': 8, 'model.num_layers': 2,
      'model.dropout_rate': 0.0,
      'optimizer.name': 'sgd', 'optimizer.learning_rate': 0.0,
      'optimizer.grad_clip_norm': None,
      'schedule.name': 'constant', 'schedule.warmup_steps': 0,
  }
  base.update(overrides)
  config = quiet(load_config('fortunes_char', 'runlocal'), **base)
  train.check_config(config)
  return config


def _data(train_len=27, val_len=12, test_len=9, seed=0):
  rng = np.random.default_rng(seed)
  vocab = lm_corpus.Vocabulary([f'<{i}>' for i in range(VOCAB)])
  ids = {split: rng.integers(0, VOCAB, n).astype(np.int32)
         for split, n in (('train', train_len), ('validation', val_len), ('test', test_len))}
  return lm_feeding.TokenData(vocab, ids)


def _setup(config, data):
  """(mesh, feeder, model, tx, schedule, state, step_rng) as train_and_evaluate builds them."""
  mesh = parallel.make_mesh()
  feeder = lm_feeding.TokenStreamFeeder(config, mesh, data=data)
  model = train.build_model(config, TASK, feeder)
  tx, schedule = optim.make_optimizer(config, config.num_train_steps)
  init_rng, step_rng = jax.random.split(jax.random.key(config.seed))
  state = train.create_train_state(TASK, model, tx, feeder, init_rng, mesh)
  return mesh, feeder, model, tx, schedule, state, step_rng


def _compiled(config, mesh, feeder, model, tx, schedule, state, step_rng):
  """The train and eval functions train_and_evaluate compiles, the train one
  called as (state, *feeder args) with the run's step key."""
  train_fn, eval_fn = train.compile_steps(TASK, model, config, tx, schedule, feeder, state,
                                          None, mesh)
  return (lambda state, *args: train_fn(state, step_rng, None, *args)), eval_fn


def _host(tree):
  return jax.tree.map(lambda x: np.array(jax.device_get(x)), tree)


@functools.partial(jax.jit, static_argnums=0)
def _apply(model, params, tokens, carry):
  return model.apply({'params': params}, tokens, carry, train=False)


def _run(model, params, tokens, carry=None):
  """The reference: a plain `model.apply` (jitted only to reuse compilations)."""
  tokens = jnp.asarray(tokens)
  if carry is None:
    carry = model.initial_carry(tokens.shape[0])
  return _apply(model, params, tokens, carry)


def _assert_trees_close(a, b, **kwargs):
  la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
  assert len(la) == len(lb) and la
  for x, y in zip(la, lb):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), **kwargs)


# ---------------------------------------------------------------- 1. layouts


def test_batchify_known_rows():
  ids = np.arange(23)
  rows, steps = lm_feeding.batchify(ids, batch_size=3, seq_len=2)
  # L = 22 // 3 = 7: rows start at 0, 7, 14 and hold L + 1 = 8 tokens each
  # (neighbours overlap by one); 7 // 2 = 3 windows per epoch; 21, 22 dropped.
  np.testing.assert_array_equal(rows, [np.arange(0, 8), np.arange(7, 15), np.arange(14, 22)])
  assert rows.dtype == np.int32 and steps == 3
  # The last window's targets [s*T+1, s*T+T+1) still fit the row.
  assert (steps - 1) * 2 + 2 + 1 <= rows.shape[1]


def test_batchify_smallest_stream_and_too_short():
  # N = B*T + 1 is the least that gives one window.
  rows, steps = lm_feeding.batchify(np.arange(7), batch_size=3, seq_len=2)
  np.testing.assert_array_equal(rows, [[0, 1, 2], [2, 3, 4], [4, 5, 6]])
  assert steps == 1
  with pytest.raises(errors.ConfigError, match='too few'):
    lm_feeding.batchify(np.arange(6), batch_size=3, seq_len=2)
  with pytest.raises(errors.ConfigError):
    lm_feeding.batchify(np.arange(10), batch_size=2, seq_len=5)


def test_eval_layout_known_rows():
  ids = np.arange(100, 110)  # 9 targets
  layout = lm_feeding.eval_layout(ids, num_rows=2, seq_len=4)
  # ceil(9 / 2) = 5 -> rounded up to whole windows: 8 per row, 16 slots, 7 pads.
  assert {k: v.shape for k, v in layout.items()} == {k: (2, 8) for k in layout}
  np.testing.assert_array_equal(layout['inputs'],
                                [np.arange(100, 108), [108] + [0] * 7])
  np.testing.assert_array_equal(layout['targets'],
                                [np.arange(101, 109), [109] + [0] * 7])
  np.testing.assert_array_equal(layout['mask'], [[True] * 8, [True] + [False] * 7])
  assert layout['inputs'].dtype == layout['targets'].dtype == np.int32


@pytest.mark.parametrize('n, rows, seq_len', [(12, 2, 3), (10, 2, 4), (33, 4, 5), (5, 4, 1),
                                             (2, 1, 1), (64, 3, 7)])
def test_eval_layout_scores_every_target_once(n, rows, seq_len):
  ids = np.arange(1000, 1000 + n)
  layout = lm_feeding.eval_layout(ids, num_rows=rows, seq_len=seq_len)
  inputs, targets, mask = layout['inputs'], layout['targets'], layout['mask']
  assert inputs.shape[0] == rows and inputs.shape[1] % seq_len == 0
  assert mask.sum() == n - 1
  np.testing.assert_array_equal(np.sort(targets[mask]), ids[1:])
  np.testing.assert_array_equal(targets[mask], inputs[mask] + 1)  # next id, all of them
  # Within a row real tokens are a prefix, and the stream runs on: the next
  # input is the current target.
  for r in range(rows):
    k = int(mask[r].sum())
    assert mask[r, :k].all() and not mask[r, k:].any()
    np.testing.assert_array_equal(inputs[r, 1:k], targets[r, :k - 1])
  # Padding only at the end of the flat layout (the last rows).
  flat = mask.reshape(-1)
  assert flat[:n - 1].all() and not flat[n - 1:].any()


# ---------------------------------------------------------------- 2. truncated BPTT


def test_train_carry_is_threaded_and_reset_each_epoch():
  config = _config()
  data = _data(train_len=27)
  mesh, feeder, model, tx, schedule, state, step_rng = _setup(config, data)
  B, T = config.batch_size, config.seq_len
  rows, steps_per_epoch = lm_feeding.batchify(data.ids['train'], B, T)
  assert feeder.steps_per_epoch == steps_per_epoch == 3  # L = 13
  np.testing.assert_array_equal(jax.device_get(feeder.train_rows), rows)
  params = _host(state.params)
  train_fn, _ = _compiled(config, mesh, feeder, model, tx, schedule, state, step_rng)

  losses = []
  for step in range(2):
    state, metrics = train_fn(state, *feeder.train_args(step))
    losses.append(float(metrics['loss']))
  assert int(state.step) == 2
  _assert_trees_close(state.params, params, rtol=0, atol=0)  # lr 0: frozen

  # One call over the first 2T tokens of every row, from zeros.
  _, want = _run(model, params, rows[:, :2 * T])
  _assert_trees_close(state.model_state['carry'], want, rtol=1e-5, atol=1e-5)
  # ... which is not what the second window alone gives (the carry matters).
  _, second_only = _run(model, params, rows[:, T:2 * T])
  assert not np.allclose(jax.tree.leaves(state.model_state['carry'])[0],
                         jax.tree.leaves(second_only)[0], atol=1e-3)

  # Loss of step 0: mean cross-entropy of the first window, computed directly.
  logits, _ = _run(model, params, rows[:, :T])
  want_loss = optax.softmax_cross_entropy_with_integer_labels(
      logits, jnp.asarray(rows[:, 1:T + 1])).mean()
  np.testing.assert_allclose(losses[0], float(want_loss), rtol=1e-5)
  logits2, _ = _run(model, params, rows[:, :2 * T])
  want_loss1 = optax.softmax_cross_entropy_with_integer_labels(
      logits2[:, T:], jnp.asarray(rows[:, T + 1:2 * T + 1])).mean()
  np.testing.assert_allclose(losses[1], float(want_loss1), rtol=1e-5)

  # Last window of the epoch, then the first of the next: the carry restarts.
  state, _ = train_fn(state, *feeder.train_args(2))
  _, want3 = _run(model, params, rows[:, :3 * T])
  _assert_trees_close(state.model_state['carry'], want3, rtol=1e-5, atol=1e-5)
  assert int(feeder.train_args(steps_per_epoch)[1]) == 0
  state, metrics = train_fn(state, *feeder.train_args(steps_per_epoch))
  _, want_first = _run(model, params, rows[:, :T])
  _assert_trees_close(state.model_state['carry'], want_first, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(float(metrics['loss']), losses[0], rtol=1e-6)


# ---------------------------------------------------------------- 3. exact evaluation


def _direct_eval(model, params, ids, num_rows, seq_len):
  """Sum of cross-entropies / count, each eval row one model call from zeros."""
  layout = lm_feeding.eval_layout(ids, num_rows, seq_len)
  total, count = 0.0, 0
  for r in range(num_rows):
    k = int(layout['mask'][r].sum())
    if k == 0:
      continue
    logits, _ = _run(model, params, layout['inputs'][r:r + 1, :k])
    ce = optax.softmax_cross_entropy_with_integer_labels(
        logits[0], jnp.asarray(layout['targets'][r, :k]))
    total += float(jnp.sum(ce))
    count += k
  return total / count, count


def _evaluate(seq_len, data, eval_batch_size=2):
  config = _config(seq_len=seq_len, eval_batch_size=eval_batch_size)
  setup = _setup(config, data)
  _, eval_fn = _compiled(config, *setup)
  _, feeder, model, _, _, state, _ = setup
  return train.evaluate(TASK, eval_fn, state, feeder, None), model, _host(state.params)


def _windowwise_loss(model, params, ids, num_rows, seq_len):
  """The loss if every window restarted from zeros (no carry threading)."""
  layout = lm_feeding.eval_layout(ids, num_rows, seq_len)
  total, count = 0.0, 0
  for off in range(0, layout['inputs'].shape[1], seq_len):
    w = slice(off, off + seq_len)
    logits, _ = _run(model, params, layout['inputs'][:, w])
    ce = optax.softmax_cross_entropy_with_integer_labels(
        logits, jnp.asarray(layout['targets'][:, w]))
    total += float(jnp.sum(ce * layout['mask'][:, w]))
    count += int(layout['mask'][:, w].sum())
  return total / count


def test_evaluation_is_exact_and_threads_the_carry():
  # validation: 11 targets in 2 rows of 6 for T = 6 (1 window) and T = 2
  # (3 windows); row 1 holds 5 real targets and 1 pad.
  # test: 8 targets; rows of 6 (T = 6, row 1 padded) or of 4 (T = 2).
  data = _data(train_len=40, val_len=12, test_len=9)
  results = {}
  for seq_len in (6, 2):
    got, model, params = _evaluate(seq_len, data)
    results[seq_len] = got
    for split in ('validation', 'test'):
      want, count = _direct_eval(model, params, data.ids[split], 2, seq_len)
      assert got[f'{split}_tokens'] == count == len(data.ids[split]) - 1
      np.testing.assert_allclose(got[f'{split}_loss'], want, rtol=1e-5)
      np.testing.assert_allclose(got[f'{split}_bits_per_token'], want / np.log(2), rtol=1e-5)
      np.testing.assert_allclose(got[f'{split}_perplexity'], np.exp(want), rtol=1e-5)
  # Same rows of validation targets whatever the window: the same loss.
  np.testing.assert_allclose(results[2]['validation_loss'], results[6]['validation_loss'],
                             rtol=1e-5)
  # Not vacuous: scoring the 2-token windows independently (carry reset at
  # each window) gives a different loss.
  independent = _windowwise_loss(model, params, data.ids['validation'], 2, 2)
  assert abs(independent - results[2]['validation_loss']) > 1e-4


# ---------------------------------------------------------------- 4. resume


def test_resume_is_bit_identical(tmp_path):
  config = _config(**{'model.dropout_rate': 0.1, 'optimizer.name': 'adam',
                      'optimizer.learning_rate': 1e-2, 'optimizer.grad_clip_norm': 1.0})
  # 4 steps per epoch: the checkpoint (step 3) is mid-epoch, so the resumed run
  # needs the saved carry, and the 6 steps cross into the next epoch.
  data = _data(train_len=35)
  mesh, feeder, model, tx, schedule, state, step_rng = _setup(config, data)
  assert feeder.steps_per_epoch == 4
  # Compiling is most of this test's time: one created state, copied for the
  # second run (fresh buffers; the train fn donates its input), and one train
  # fn, which is valid for the restored state because its shardings match.
  initial, shardings = _host(state), train.state_shardings(state)
  target = checkpoint.abstract_like(state)  # = abstract_like(a freshly created state)
  train_fn, _ = _compiled(config, mesh, feeder, model, tx, schedule, state, step_rng)

  def run(state, steps):
    losses = []
    for step in steps:
      state, metrics = train_fn(state, *feeder.train_args(step))
      losses.append(float(metrics['loss']))
    return state, losses

  # Dropout is on in the train step: its step-0 loss is not the deterministic one.
  rows = np.asarray(jax.device_get(feeder.train_rows))
  T = config.seq_len
  logits, _ = _run(model, initial.params, rows[:, :T])
  deterministic = float(optax.softmax_cross_entropy_with_integer_labels(
      logits, jnp.asarray(rows[:, 1:T + 1])).mean())
  straight, straight_losses = run(state, range(6))
  assert abs(straight_losses[0] - deterministic) > 1e-4

  # Interrupted run: 3 steps from the same initial state, a checkpoint, a
  # restore, 3 more steps.
  state, first_losses = run(jax.device_put(initial, shardings), range(3))
  ckpt = checkpoint.Checkpointer(str(tmp_path / 'ckpt'), every_steps=3, max_to_keep=2)
  try:
    ckpt.save(3, state, {'train_seconds': 1.5})
    ckpt.wait()
    del state
    restored, meta = ckpt.restore(3, target)
  finally:
    ckpt.close()
  assert meta['train_seconds'] == 1.5 and int(restored.step) == 3
  assert set(meta) == {'train_seconds', checkpoint.FINGERPRINT_KEY}
  assert train.state_shardings(restored) == shardings
  # The dropout keys come from the step counter (fold_in(rng, step)): the same
  # state and window with a wrong step count draws other masks.
  wrong_step = jax.device_put(_host(restored).replace(step=np.int32(0)), shardings)
  _, wrong_losses = run(wrong_step, [3])
  resumed, second_losses = run(restored, range(3, 6))
  assert wrong_losses[0] != second_losses[0]

  assert first_losses + second_losses == straight_losses
  assert int(resumed.step) == int(straight.step) == 6
  for name in ('params', 'opt_state', 'model_state'):
    a, b = jax.tree.leaves(getattr(resumed, name)), jax.tree.leaves(getattr(straight, name))
    assert len(a) == len(b)
    for x, y in zip(a, b):
      np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
  # Training moved the params and the carry is not zeros (the test is not vacuous).
  assert not np.array_equal(jax.tree.leaves(resumed.params)[0],
                            jax.tree.leaves(initial.params)[0])
  assert all(np.abs(np.asarray(c)).max() > 0 for c in jax.tree.leaves(resumed.model_state))


# ---------------------------------------------------------------- 5. shardings


def test_state_shardings_split_the_carry_over_the_batch():
  config = _config()
  mesh, feeder, model, tx, _, state, _ = _setup(config, _data())
  abstract = jax.eval_shape(lambda s: s, state)
  shardings = TASK.state_shardings(abstract, mesh)
  carry = jax.tree.leaves(shardings.model_state['carry'])
  assert len(carry) == 2 * config.model.num_layers  # (c, h) per LSTM layer
  assert all(s.spec == P('data') for s in carry)
  for part in (shardings.params, shardings.opt_state, shardings.step):
    leaves = jax.tree.leaves(part)
    assert leaves and all(s.spec == P() for s in leaves)
  # create_train_state lays the state out that way.
  for x in jax.tree.leaves(state.model_state['carry']):
    assert x.sharding.spec == P('data') and x.shape == (config.batch_size, 8)
  for x in jax.tree.leaves(state.params):
    assert x.sharding.spec == P()
