"""oneDNN convolutions (research/kernels/onednn.py) against XLA's."""

import ctypes
import functools
import logging
import os
import subprocess
import sys
import textwrap

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from research.kernels import onednn
from research.models import common
from testlib import REPO_ROOT, subprocess_env

# (input NHWC, kernel HWIO, strides, padding): the layers of LeNet-5, the
# small CNN and the ResNets, and the odd cases (uneven explicit padding, a
# stride that does not divide the input, rectangular inputs and kernels).
GEOMETRIES = [
    ((4, 32, 32, 1), (5, 5, 1, 6), (1, 1), 'VALID'),
    ((4, 14, 14, 6), (5, 5, 6, 16), (1, 1), 'VALID'),
    ((3, 28, 28, 32), (3, 3, 32, 32), (1, 1), 'SAME'),
    ((2, 28, 28, 16), (3, 3, 16, 32), (2, 2), ((1, 1), (1, 1))),
    ((2, 14, 14, 32), (1, 1, 32, 64), (2, 2), 'VALID'),
    ((2, 33, 33, 3), (7, 7, 3, 8), (2, 2), ((3, 3), (3, 3))),
    ((2, 9, 12, 5), (3, 2, 5, 7), (2, 1), ((0, 2), (1, 0))),
]


def _xla(x, kernel, strides, padding):
  return lax.conv_general_dilated(x, kernel, strides, padding,
                                  dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


def _random(shape, seed):
  return jax.random.normal(jax.random.PRNGKey(seed), shape, jnp.float32)


def _close(a, b, rtol=2e-5):
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  assert a.shape == b.shape
  scale = max(np.abs(b).max(), 1e-6)
  assert np.abs(a - b).max() <= rtol * scale, np.abs(a - b).max() / scale


def test_the_library_builds_and_registers_here():
  ok, detail = onednn.status()
  assert ok, detail
  assert onednn.build().exists()
  assert onednn.build() == onednn.build()  # cached, not rebuilt
  x, kernel = _random((2, 8, 8, 4), 0), _random((3, 3, 4, 6), 1)
  step = jax.jit(jax.value_and_grad(lambda a, b: jnp.sum(onednn.conv2d(a, b)), argnums=(0, 1)))
  hlo = step.lower(x, kernel).as_text()
  for target in onednn._TARGETS.values():
    assert target in hlo


@pytest.mark.parametrize('x_shape,k_shape,strides,padding', GEOMETRIES)
def test_values_and_gradients_match_xla(x_shape, k_shape, strides, padding):
  x, kernel = _random(x_shape, 0), _random(k_shape, 1)
  y_ref, vjp_ref = jax.vjp(lambda a, b: _xla(a, b, strides, padding), x, kernel)
  y, vjp = jax.vjp(jax.jit(lambda a, b: onednn.conv2d(a, b, strides, padding)), x, kernel)
  _close(y, y_ref)
  dy = _random(y_ref.shape, 2)
  for got, want in zip(vjp(dy), vjp_ref(dy)):
    _close(got, want)


def test_second_call_with_other_values_is_not_cached_wrongly():
  # The handlers cache oneDNN primitives by shape: new values, same shape.
  f = jax.jit(lambda a, b: onednn.conv2d(a, b, (1, 1), 'SAME'))
  for seed in (0, 10):
    x, kernel = _random((2, 8, 8, 4), seed), _random((3, 3, 4, 5), seed + 1)
    _close(f(x, kernel), _xla(x, kernel, (1, 1), 'SAME'))


def test_bfloat16_in_bfloat16_out():
  x, kernel = _random((2, 10, 10, 8), 0), _random((3, 3, 8, 8), 1)
  y = onednn.conv2d(x.astype(jnp.bfloat16), kernel.astype(jnp.bfloat16), (1, 1), 'SAME')
  assert y.dtype == jnp.bfloat16
  want = _xla(x.astype(jnp.bfloat16).astype(jnp.float32),
              kernel.astype(jnp.bfloat16).astype(jnp.float32), (1, 1), 'SAME')
  _close(y.astype(jnp.float32), want, rtol=1e-2)


def test_vmap_over_seeds_matches_a_loop():
  x, kernel = _random((3, 2, 8, 8, 4), 0), _random((3, 3, 3, 4, 6), 1)
  conv = lambda a, b: onednn.conv2d(a, b, (1, 1), 'SAME')
  batched = jax.jit(jax.vmap(jax.grad(lambda a, b: jnp.sum(conv(a, b) ** 2), argnums=(0, 1))))
  looped = [jax.grad(lambda a, b: jnp.sum(_xla(a, b, (1, 1), 'SAME') ** 2), argnums=(0, 1))(
      x[i], kernel[i]) for i in range(3)]
  for i, got in enumerate(zip(*batched(x, kernel))):
    for g, w in zip(got, looped[i]):
      _close(g, w)


def test_the_layer_has_nn_conv_parameters_and_outputs():
  x = _random((2, 12, 12, 3), 0)
  for kwargs in ({'padding': 'SAME'}, {'padding': 'VALID', 'strides': (2, 2)}):
    ours = common.conv('onednn', 8, (3, 3), 'c', **kwargs)
    flax_conv = nn.Conv(8, (3, 3), name='c', **kwargs)
    params = flax_conv.init(jax.random.PRNGKey(3), x)
    ours_params = ours.init(jax.random.PRNGKey(3), x)
    assert jax.tree.map(jnp.shape, params) == jax.tree.map(jnp.shape, ours_params)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(ours_params)):
      np.testing.assert_array_equal(a, b)
    _close(ours.apply(params, x), flax_conv.apply(params, x))


def test_bad_input_is_named():
  x, kernel = _random((2, 8, 8, 4), 0), _random((3, 3, 5, 6), 1)
  with pytest.raises(ValueError, match='4 channels, the kernel expects 5'):
    onednn.conv2d(x, kernel)
  with pytest.raises(ValueError, match='NHWC'):
    onednn.conv2d(x[0], kernel)
  with pytest.raises(ValueError, match="padding='FULL'"):
    onednn.conv2d(x, _random((3, 3, 4, 6), 1), padding='FULL')
  with pytest.raises(ValueError, match="conv_impl='cudnn'"):
    common.conv('cudnn', 8, (3, 3), 'c')
  with pytest.raises(ValueError, match='stride-1'):
    common.conv('patches', 8, (3, 3), 'c', strides=(2, 2))


def test_without_the_library_xla_computes_and_says_why(monkeypatch, caplog):
  def missing(distribution, name):
    raise FileNotFoundError(f'the {distribution!r} wheel is not installed')

  monkeypatch.setattr(onednn, '_status', None)
  monkeypatch.setattr(onednn, '_distribution_file', missing)
  with caplog.at_level(logging.WARNING):
    ok, why = onednn.status()
  assert not ok and 'onednn-cpu-gomp' in why
  assert 'XLA' in caplog.text and 'onednn-cpu-gomp' in caplog.text
  x, kernel = _random((2, 8, 8, 4), 0), _random((3, 3, 4, 6), 1)
  _close(onednn.conv2d(x, kernel), _xla(x, kernel, (1, 1), 'SAME'))
  assert 'custom_call' not in jax.jit(onednn.conv2d).lower(x, kernel).as_text()


def test_a_failed_compile_reports_the_compiler_output(monkeypatch, tmp_path):
  broken = tmp_path / 'onednn_conv.cc'
  broken.write_text('this is not C++\n')
  monkeypatch.setattr(onednn, '_SOURCES', (broken, onednn._SOURCES[1]))
  monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
  with pytest.raises(RuntimeError, match='compiling onednn_conv.cc, onednn_lstm.cc failed'):
    onednn.build()
  assert not list((tmp_path / 'cache').rglob('*.so'))  # nothing half-written left


def test_other_platforms_compile_xla_convolutions():
  # Lowered for a GPU or TPU (no such device needed), only XLA's convolution
  # is in the program: the custom calls exist for the CPU alone.
  x, kernel = _random((2, 8, 8, 4), 0), _random((3, 3, 4, 6), 1)
  step = jax.jit(jax.value_and_grad(lambda a, b: jnp.sum(onednn.conv2d(a, b) ** 2),
                                    argnums=(0, 1)))
  for platform, ours in (('cuda', False), ('tpu', False), ('cpu', True)):
    hlo = step.trace(x, kernel).lower(lowering_platforms=(platform,)).as_text()
    assert any(t in hlo for t in onednn._TARGETS.values()) == ours, platform
    assert ('convolution' in hlo) != ours, platform


def test_several_devices_keep_xla_convolutions(monkeypatch):
  # A custom call cannot be partitioned over a mesh: data parallelism keeps XLA's.
  monkeypatch.setattr(jax, 'device_count', lambda *a, **k: 8)
  x, kernel = _random((2, 8, 8, 4), 0), _random((3, 3, 4, 6), 1)
  hlo = jax.jit(onednn.conv2d).lower(x, kernel).as_text()
  assert not any(t in hlo for t in onednn._TARGETS.values())
  _close(onednn.conv2d(x, kernel), _xla(x, kernel, (1, 1), 'SAME'))


def _cgroup_tree(tmp_path, proc_line, files):
  proc = tmp_path / 'cgroup'
  proc.write_text(proc_line + '\n')
  for name, text in files.items():
    path = tmp_path / 'fs' / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
  return str(proc), str(tmp_path / 'fs')


@pytest.mark.parametrize('proc_line,files,want', [
    # cgroup v2, a 1.5-CPU quota on the process's own group.
    ('0::/job', {'job/cpu.max': '150000 100000\n'}, 1.5),
    ('0::/job', {'job/cpu.max': 'max 100000\n'}, None),
    # cgroup v1, the combined cpu,cpuacct hierarchy.
    ('4:cpu,cpuacct:/docker/abc', {'cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '200000\n',
                                   'cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000\n'}, 2.0),
    ('4:cpu,cpuacct:/', {'cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
                         'cpu,cpuacct/cpu.cfs_period_us': '100000\n'}, None),
    # In a container: the group's path is not mounted, its files are at the root.
    ('0::/not/mounted/here', {'cpu.max': '300000 100000\n'}, 3.0),
    ('0::/', {}, None),  # no cpu controller files at all
])
def test_cgroup_cpu_quota_is_read(tmp_path, proc_line, files, want):
  proc, root = _cgroup_tree(tmp_path, proc_line, files)
  assert onednn._cgroup_cpu_limit(proc, root) == want


def test_team_size_follows_omp_num_threads_then_the_cpu_budget(monkeypatch):
  monkeypatch.setenv('OMP_NUM_THREADS', '3,1')
  assert onednn.team_size() == 3
  monkeypatch.delenv('OMP_NUM_THREADS')
  monkeypatch.setattr(onednn, '_cgroup_cpu_limit', lambda: 0.5)
  assert onednn.cpu_budget() == 1 == onednn.team_size()  # half a CPU still gets a thread
  monkeypatch.setattr(onednn, '_cgroup_cpu_limit', lambda: 1e6)
  assert onednn.cpu_budget() == len(os.sched_getaffinity(0))  # the mask caps a large quota
  for bad in ('0', 'two', '-1'):
    monkeypatch.setenv('OMP_NUM_THREADS', bad)
    with pytest.raises(ValueError, match='OMP_NUM_THREADS'):
      onednn.team_size()


def test_the_loaded_library_uses_the_team_size():
  # Set once when the library loads, then applied on whichever XLA thread runs
  # a convolution (tests/conftest.py sets OMP_NUM_THREADS for xdist workers).
  ok, path = onednn.status()
  assert ok, path
  assert ctypes.CDLL(path).ClassicnetsOnednnThreads() == onednn.team_size()


def test_batch_parts_on_xlas_threads_give_the_same_values():
  # The test workers run whole batches (OMP_NUM_THREADS=1, tests/conftest.py);
  # this splits them in 2 in fresh processes, on XLA's thread pool: uneven
  # parts (a batch of 5), a strided convolution, and bfloat16, whose kernel
  # gradient sums the parts in float32 before rounding once.
  script = textwrap.dedent('''
      import ctypes, os
      import numpy as np, jax, jax.numpy as jnp
      from jax import lax
      from research.kernels import onednn
      rng = np.random.default_rng(0)
      for dtype, strides, rtol in ((jnp.float32, (1, 1), 1e-5), (jnp.float32, (2, 2), 1e-5),
                                   (jnp.bfloat16, (1, 1), 2e-2)):
        x = jnp.asarray(rng.normal(size=(5, 16, 16, 8)), dtype)
        k = jnp.asarray(rng.normal(size=(3, 3, 8, 16)), dtype)
        def f(conv):
          loss = lambda a, b: jnp.sum(conv(a, b).astype(jnp.float32) ** 2)
          return jax.jit(jax.grad(loss, argnums=(0, 1)))(x, k)
        ours = f(lambda a, b: onednn.conv2d(a, b, strides))
        xla = f(lambda a, b: lax.conv_general_dilated(
            a, b, strides, 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC'),
            preferred_element_type=jnp.float32).astype(a.dtype))
        for a, b in zip(ours, xla):
          a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
          assert np.abs(a - b).max() <= rtol * np.abs(b).max(), (dtype, strides)
      ok, path = onednn.status()
      threads = int(os.environ['OMP_NUM_THREADS'])
      assert ok and onednn.team_size() == threads
      most = ctypes.CDLL(path).ClassicnetsOnednnMostParts
      most.restype = ctypes.c_int64
      print('parts', most())
  ''')
  for threads in ('2', '1'):
    env = subprocess_env(OMP_NUM_THREADS=threads)
    done = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True,
                          text=True, timeout=300, cwd=REPO_ROOT)
    assert done.returncode == 0, (threads, done.stderr[-3000:])
    # XLA's pool has a thread per CPU: a 1-CPU machine runs whole batches.
    want = min(int(threads), os.cpu_count())
    assert f'parts {want}' in done.stdout, (threads, done.stdout[-1000:])


# Batch normalisation (training mode), with and without the ReLU after it.


@pytest.mark.parametrize('dtype,relu', [(jnp.float32, False), (jnp.float32, True),
                                        (jnp.bfloat16, False), (jnp.bfloat16, True)])
def test_batch_norm_values_and_gradients_match_xla(dtype, relu):
  x = (_random((6, 5, 7, 16), 0) * 3 + 1).astype(dtype)
  scale, bias, weights = _random((16,), 1), _random((16,), 2), _random(x.shape, 3)

  def loss(bn, x, scale, bias):
    y, mean, var = bn(x, scale, bias)
    return jnp.sum(y.astype(jnp.float32) * weights), (y, mean, var)

  ours = jax.jit(jax.value_and_grad(
      lambda *a: loss(lambda *b: onednn.batch_norm(*b, 1e-5, relu), *a),
      argnums=(0, 1, 2), has_aux=True))
  want = jax.value_and_grad(
      lambda *a: loss(lambda *b: onednn._xla_batch_norm(*b, 1e-5, relu), *a),
      argnums=(0, 1, 2), has_aux=True)
  assert 'classicnets_onednn_batch_norm_backward' in ours.lower(x, scale, bias).as_text()
  (_, outputs), grads = ours(x, scale, bias)
  (_, outputs_ref), grads_ref = want(x, scale, bias)
  rtol = 2e-5 if dtype == jnp.float32 else 1e-2
  for got, ref in zip((*outputs, *grads), (*outputs_ref, *grads_ref)):
    assert got.dtype == ref.dtype
    _close(got, ref, rtol)
  if relu:
    assert float(jnp.min(outputs[0])) == 0.0


@pytest.mark.parametrize('relu', [False, True])
def test_onednn_batch_norm_module_is_flax_batch_norm(relu):
  # The same parameters and statistics, the same outputs in training and with
  # the running averages, the same running-average update.
  x = _random((8, 6, 6, 4), 0) * 2 + 0.5
  flax_bn = lambda train: common.batch_norm('xla', 'bn', train=train, relu=relu, momentum=0.9)
  ours_bn = lambda train: common.batch_norm('onednn', 'bn', train=train, relu=relu, momentum=0.9)

  class Wrap(nn.Module):
    make: object
    train: bool

    @nn.compact
    def __call__(self, x):
      return self.make(self.train)(x)

  variables = Wrap(flax_bn, True).init(jax.random.PRNGKey(0), x)
  assert jax.tree_util.tree_structure(variables) == jax.tree_util.tree_structure(
      Wrap(ours_bn, True).init(jax.random.PRNGKey(0), x))
  variables = {'params': jax.tree_util.tree_map(lambda v: v + _random(v.shape, 5) * 0.1,
                                                variables['params']),
               'batch_stats': variables['batch_stats']}
  for train in (True, False):
    want, want_state = Wrap(flax_bn, train).apply(variables, x, mutable=['batch_stats'])
    got, got_state = jax.jit(lambda v, x: Wrap(ours_bn, train).apply(
        v, x, mutable=['batch_stats']))(variables, x)
    _close(got, want)
    for a, b in zip(jax.tree_util.tree_leaves(got_state), jax.tree_util.tree_leaves(want_state)):
      _close(a, b)


def test_batch_norm_rejects_what_it_cannot_normalise():
  with pytest.raises(ValueError, match='NHWC'):
    onednn.batch_norm(jnp.zeros((4, 8)), jnp.ones(8), jnp.zeros(8), 1e-5)
  with pytest.raises(ValueError, match='NHWC'):
    onednn.batch_norm(jnp.zeros((2, 3, 3, 8)), jnp.ones(4), jnp.zeros(4), 1e-5)


def test_batch_norm_vmapped_over_seeds():
  # launch.train --num_seeds vmaps a model over seeds: one call per seed.
  x = _random((3, 4, 5, 5, 8), 0)
  scale, bias = 1 + _random((3, 8), 1) * 0.1, _random((3, 8), 2)
  grads = lambda bn: jax.vmap(jax.grad(
      lambda x, s, b: jnp.sum(bn(x, s, b, 1e-5, True)[0] ** 2), argnums=(0, 1, 2)))(x, scale, bias)
  for got, want in zip(jax.jit(lambda: grads(onednn.batch_norm))(), grads(onednn._xla_batch_norm)):
    _close(got, want, 1e-5)


def test_batch_norm_helper_rejects_an_unknown_conv_impl():
  with pytest.raises(ValueError, match="conv_impl='nope'"):
    common.batch_norm('nope', 'bn', train=True)


# ---------------------------------------------------------------------------
# The LSTM layer.


def _lstm_operands(batch, steps=7, inputs=5, hidden=8, seed=0):
  k = jax.random.split(jax.random.key(seed), 7)
  return (jax.random.normal(k[0], (batch, steps, inputs)),
          0.3 * jax.random.normal(k[1], (inputs, 4 * hidden)),
          0.3 * jax.random.normal(k[2], (hidden, 4 * hidden)),
          0.1 * jax.random.normal(k[3], (4 * hidden,)),
          jax.random.normal(k[4], (batch, hidden)), jax.random.normal(k[5], (batch, hidden)),
          jax.random.normal(k[6], (batch, steps, hidden)))


def _lstm_loss(fn, time_major, dy_BxTxH):
  # Uses h at every step and both final states, so every cotangent is nonzero.
  def loss(*operands):
    y, (c, h) = fn(*operands)
    dy = jnp.swapaxes(dy_BxTxH, 0, 1) if time_major else dy_BxTxH
    return jnp.sum(y * dy) + jnp.sum(1.3 * c) + jnp.sum(0.7 * h ** 2)
  return loss


def _xla_lstm(time_major):
  def fn(*operands):
    y, c, h = onednn._xla_lstm(time_major, *operands)
    return y, (c, h)
  return fn


@pytest.mark.parametrize('time_major', [False, True])
@pytest.mark.parametrize('batch,parts', [(6, 1), (6, 2), (5, 3), (1, 2)])
def test_lstm_values_and_gradients_match_xla(monkeypatch, batch, parts, time_major):
  # Parts of 2 or 3 rows (uneven too), copied into dense per-part sequences and
  # back (except one time-major part), on this process's threads; the weight
  # gradients sum the parts'.
  monkeypatch.setattr(onednn, '_lstm_parts', lambda b: min(parts, b))
  *operands, dy = _lstm_operands(batch)
  if time_major:
    operands[0] = jnp.swapaxes(operands[0], 0, 1)
  ours = functools.partial(onednn.lstm, time_major=time_major)
  hlo = jax.jit(ours).lower(*operands).as_text()
  assert onednn._LSTM_TARGETS['lstm_fwd'] in hlo
  jax.tree.map(_close, jax.jit(ours)(*operands), _xla_lstm(time_major)(*operands))
  got = jax.jit(jax.grad(_lstm_loss(ours, time_major, dy), argnums=range(6)))(*operands)
  want = jax.grad(_lstm_loss(_xla_lstm(time_major), time_major, dy), argnums=range(6))(*operands)
  for name, a, b in zip(('x', 'w_x', 'w_h', 'bias', 'c0', 'h0'), got, want):
    np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6, err_msg=name)


def test_lstm_vmapped_over_seeds_matches_a_loop():
  stacked = [_lstm_operands(3, seed=s)[:6] for s in range(2)]
  operands = [jnp.stack(parts) for parts in zip(*stacked)]
  got = jax.jit(jax.vmap(onednn.lstm))(*operands)
  for s in range(2):
    jax.tree.map(lambda a, b, s=s: _close(a[s], b), got, onednn.lstm(*stacked[s]))


def test_lstm_scratch_is_one_xla_buffer_sized_by_the_library():
  # Every temporary of a call (scratchpads, the parts' dense copies, their weight
  # gradients) is carved from one buffer XLA allocates, sized at trace time.
  assert onednn.lstm_available()
  sizes = {p: onednn._lstm_scratch_bytes(128, 64, 128, 512, True, p)
           for p in ('inference', 'training', 'backward')}
  assert all(size > 128 * 32 * 128 * 4 for size in sizes.values()), sizes
  assert sizes['backward'] > sizes['training'], sizes


def test_other_platforms_and_meshes_compile_xlas_lstm(monkeypatch):
  *operands, dy = _lstm_operands(3)
  step = jax.jit(jax.grad(_lstm_loss(onednn.lstm, False, dy), argnums=range(6)))
  for platform, ours in (('cuda', False), ('tpu', False), ('cpu', True)):
    hlo = step.trace(*operands).lower(lowering_platforms=(platform,)).as_text()
    assert any(t in hlo for t in onednn._LSTM_TARGETS.values()) == ours, platform
  monkeypatch.setattr(jax, 'device_count', lambda *a, **k: 8)
  assert not onednn.lstm_available()
  assert onednn._LSTM_TARGETS['lstm_fwd'] not in jax.jit(onednn.lstm).lower(*operands).as_text()


def test_lstm_rejects_disagreeing_shapes():
  x, w_x, w_h, bias, c0, h0, _ = _lstm_operands(3)
  with pytest.raises(ValueError, match=r"wants .*'w_h': \(8, 32\)"):
    onednn.lstm(x, w_x, w_h[:, :16], bias, c0, h0)
  with pytest.raises(ValueError, match=r'T x B x D'):
    onednn.lstm(x, w_x, w_h, bias, c0, h0, time_major=True)
  with pytest.raises(ValueError, match='rank 3'):
    onednn.lstm(x[0], w_x, w_h, bias, c0, h0)
