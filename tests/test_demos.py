"""The demos of issue 8: known answers in their small modes, their pictures,
and the `launch.demo` command line."""

import json
import resource
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from research.demos import (backprop, common, decision_boundaries, param_count, translation,
                            universal_approximation)
from research.models.mlp import MLP
from testlib import REPO_ROOT, subprocess_env


@pytest.fixture(scope='module')
def boundaries():
  return decision_boundaries.run(small=True)


@pytest.fixture(scope='module')
def approximation():
  return universal_approximation.run(small=True)


@pytest.fixture(scope='module')
def translation_result():
  return translation.run(small=True)


def assert_png(path):
  with open(path, 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_xor_is_the_exact_four_points():
  x, y = decision_boundaries.make_dataset('xor', num_points=400, seed=3)
  np.testing.assert_array_equal(x, [[-1, -1], [-1, 1], [1, -1], [1, 1]])
  np.testing.assert_array_equal(y, [0, 1, 1, 0])


def test_linear_cannot_separate_xor_but_one_hidden_layer_can(boundaries):
  # No line gets more than 3 of XOR's 4 points right.
  assert boundaries.accuracy['xor']['linear'] <= 0.75
  assert boundaries.accuracy['xor']['two_layer'] == 1.0


def test_deep_mlp_separates_moons_and_spirals(boundaries):
  # Measured (small mode, seed 0): deep 1.0 on both; linear 0.885 and 0.69.
  assert boundaries.accuracy['moons']['deep'] >= 0.97
  assert boundaries.accuracy['spirals']['deep'] >= 0.95
  assert boundaries.accuracy['spirals']['linear'] <= 0.8


def test_decision_boundaries_plot(boundaries, tmp_path):
  assert_png(decision_boundaries.plot(boundaries, str(tmp_path / 'b.png')))
  json.dumps(boundaries.summary())


def test_approximation_error_falls_with_width(approximation):
  # Measured (small mode, seed 0), widths 1, 4, 16, 64: RMS 0.355, 0.060,
  # 0.010, 0.0036; max |error| 1.01, 0.18, 0.034, 0.017.
  rms = [approximation.rms_error[w] for w in approximation.settings.widths]
  max_abs = [approximation.max_abs_error[w] for w in approximation.settings.widths]
  assert all(a > b for a, b in zip(rms, rms[1:])), rms
  assert rms[-1] < rms[0] / 30, rms
  assert max_abs[-1] < max_abs[0] / 15, max_abs


def test_zero_padded_units_train_like_the_narrow_network():
  # universal_approximation trains every width as a zero-padded widest one.
  x_N = jnp.linspace(-1, 1, 32)
  key = jax.random.key(1)
  fit = lambda model, params: common.fit(
      model, params, x_N[:, None], universal_approximation.target(x_N),
      loss_fn=common.squared_error, steps=50, learning_rate=0.01)[0]
  narrow = MLP(num_classes=1, hidden_sizes=(3,), activation='relu')
  wide = MLP(num_classes=1, hidden_sizes=(8,), activation='relu')
  narrow_params = fit(narrow, narrow.init(key, x_N[:1, None])['params'])
  wide_params = fit(wide, universal_approximation.init_padded(3, 8, key))
  assert not wide_params['hidden_0']['kernel'][:, 3:].any()
  assert not wide_params['out']['kernel'][3:].any()
  np.testing.assert_allclose(wide.apply({'params': wide_params}, x_N[:, None]),
                             narrow.apply({'params': narrow_params}, x_N[:, None]), atol=1e-6)


def test_universal_approximation_plot(approximation, tmp_path):
  assert_png(universal_approximation.plot(approximation, str(tmp_path / 'u.png')))
  json.dumps(approximation.summary())


def test_backprop_by_hand_equals_jax_grad(tmp_path):
  result = backprop.run(small=True)
  assert [len(c['sizes']) - 1 for c in result.checks] == [2, 3, 4]  # layers
  for check in result.checks:
    assert check['forward_max_abs_diff'] < 1e-6, check
    assert check['grad_max_abs_diff'] < 1e-6, check
    assert check['grad_max_abs'] > 1e-2, check  # the gradients compared are not ~0
  assert_png(backprop.plot(result, str(tmp_path / 'b.png')))


def test_backprop_gradients_have_the_params_structure():
  sizes = (5, 7, 3)
  params = backprop.make_mlp(sizes, 'tanh').init(jax.random.key(0), jnp.zeros((1, 5)))['params']
  x = jax.random.normal(jax.random.key(1), (4, 5))
  grads = backprop.backward(params, x, jnp.array([0, 1, 2, 0]), 'tanh')
  assert jax.tree.structure(grads) == jax.tree.structure(params)
  assert jax.tree.map(jnp.shape, grads) == jax.tree.map(jnp.shape, params)


def test_param_counts_are_exact_and_nothing_is_allocated():
  rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
  start = time.perf_counter()
  result = param_count.run()
  seconds = time.perf_counter() - start
  grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
  # The dense kernel would be 4 TB and the locally connected one 400 MB.
  assert seconds < 1.0 and grown_mb < 200, (seconds, grown_mb)
  rows = {r['name']: (r['hidden_units'], r['weights'], r['biases'], r['total'])
          for r in result.rows}
  assert rows == {
      'fully connected': (10**6, 10**12, 10**6, 10**12 + 10**6),
      'locally connected': (10**6, 10**8, 10**6, 10**8 + 10**6),
      'convolution, 1 map': (10**6, 100, 1, 101),
      'convolution, 100 maps': (10**8, 10**4, 100, 10_100),
  }
  assert '| fully connected | `nn.Dense(1,000,000)` | 1,000,000 | 1,000,000,000,000 |' in (
      result.markdown())


def test_param_count_plot(tmp_path):
  assert_png(param_count.plot(param_count.run(), str(tmp_path / 'p.png')))


def test_shift_right_is_a_zero_padded_translation():
  images = jnp.arange(1, 7, dtype=jnp.float32).reshape(1, 2, 3)
  np.testing.assert_array_equal(translation.shift_right(images, 1), [[[0, 1, 2], [0, 4, 5]]])
  np.testing.assert_array_equal(translation.shift_right(images, 0), images)


def test_conv_pool_changes_less_than_fully_connected(translation_result):
  change = translation_result.change
  assert translation_result.settings.shifts[:3] == (0, 1, 2)
  for name in change:
    assert change[name][0] == 0.0, name
  # Measured (small mode, Fashion-MNIST, seed 0): shift 1: 0.21 vs 0.43;
  # shift 2: 0.30 vs 0.57.
  for shift in (1, 2):
    assert change['conv+pool'][shift] < change['fully connected'][shift], change
  assert translation_result.widths['conv+pool'] == translation_result.widths['fully connected']


def test_translation_falls_back_to_digits(tmp_path):
  images, source = translation.load_images(5, path=str(tmp_path / 'missing.gz'))
  assert images.shape == (5, 28, 28) and 'digits' in source
  assert 0 <= images.min() and images.max() == 1


def test_translation_plot(translation_result, tmp_path):
  assert_png(translation.plot(translation_result, str(tmp_path / 't.png')))
  json.dumps(translation_result.summary())


def launch_demo(*args):
  return subprocess.run([sys.executable, '-m', 'launch.demo', *args], cwd=REPO_ROOT,
                        env=subprocess_env(), capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize('name', ['param_count', 'backprop'])
def test_cli_writes_picture_and_numbers(name, tmp_path):
  proc = launch_demo(name, f'--outdir={tmp_path}', '--small')
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert f'== {name}' in proc.stdout
  assert_png(tmp_path / f'{name}.png')
  with open(tmp_path / f'{name}.json') as f:
    results = json.load(f)
  assert results['demo'] == name and results['small'] is True


def test_cli_rejects_unknown_demo(tmp_path):
  proc = launch_demo('nope', f'--outdir={tmp_path}')
  assert proc.returncode == 2
  assert proc.stderr.strip().splitlines() == [
      "error: Unknown demo 'nope'; choose from: decision_boundaries, universal_approximation, "
      'backprop, param_count, translation, all.']
