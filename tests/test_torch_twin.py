"""The model twins of `launch.benchmark --against=torch` without torch: the
file the JAX side writes (research/torch_export.py) and the comparison of
the two sides (research/torch_twin.py).

The known answer for the file: a numpy forward pass that reads only what a
twin reads (the spec, the parameters under torch's names in torch's
layouts, the check batch) gives the objective JAX computed on that batch.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from research import errors, torch_export, torch_twin

# --- A numpy twin of launch/torch_models.py's forward passes (float64, eval mode) ----------

ACTIVATIONS = {'relu': lambda x: np.maximum(x, 0.0), 'tanh': np.tanh}


def sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def linear(p, name, x):
  return x @ p[f'{name}.weight'].T + p[f'{name}.bias']


def conv2d(x_NxCxHxW, w_OxCxKxK, stride=1, padding=0, bias=None):
  x = np.pad(x_NxCxHxW, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
  o, _, kh, kw = w_OxCxKxK.shape
  ho, wo = (x.shape[2] - kh) // stride + 1, (x.shape[3] - kw) // stride + 1
  out = np.zeros((x.shape[0], o, ho, wo))
  for i in range(kh):
    for j in range(kw):
      window = x[:, :, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride]
      out += np.einsum('nchw,oc->nohw', window, w_OxCxKxK[:, :, i, j])
  return out if bias is None else out + bias[:, None, None]


def batch_norm(p, name, x):
  scale = p[f'{name}.weight'] / np.sqrt(p[f'{name}.running_var'] + 1e-5)
  shift = p[f'{name}.bias'] - p[f'{name}.running_mean'] * scale
  return x * scale[:, None, None] + shift[:, None, None]


def pool(x, kind):
  n, c, h, w = x.shape
  x = x[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2)
  return x.max(axis=(3, 5)) if kind == 'max' else x.mean(axis=(3, 5))


def numpy_logits(spec, p, x):
  a, relu = spec['architecture'], ACTIVATIONS['relu']
  if spec['model'] == 'mlp':
    h = x.reshape(len(x), -1)
    for i in range(len(a['hidden_sizes'])):
      h = ACTIVATIONS[a['activation']](linear(p, f'hidden_{i}', h))
    return linear(p, 'out', h)
  if spec['model'] == 'lenet5':
    act = ACTIVATIONS[a['activation']]
    for name in ('C1', 'C3'):
      x = pool(act(conv2d(x, p[f'{name}.weight'], bias=p[f'{name}.bias'])), a['pooling'])
    x = act(conv2d(x, p['C5.weight'], bias=p['C5.bias'])).reshape(len(x), -1)
    return linear(p, 'out', act(linear(p, 'F6', x)))
  if spec['model'] == 'small_cnn':
    for b in range(len(a['block_channels'])):
      for c in range(a['convs_per_block']):
        x = relu(batch_norm(p, f'block{b}_bn{c}', conv2d(x, p[f'block{b}_conv{c}.weight'],
                                                           padding=1)))
      x = pool(x, 'max')
    return linear(p, 'out', relu(linear(p, 'dense0', x.reshape(len(x), -1))))
  if spec['model'] == 'cifar_resnet':
    x = relu(batch_norm(p, 'stem_bn', conv2d(x, p['stem_conv.weight'], padding=1)))
    for s in (1, 2, 3):  # depth 8: one block per stage
      name, stride = f'stage{s}_block1', 1 if s == 1 else 2
      y = relu(batch_norm(p, f'{name}.bn1', conv2d(x, p[f'{name}.conv1.weight'], stride, 1)))
      y = batch_norm(p, f'{name}.bn2', conv2d(y, p[f'{name}.conv2.weight'], 1, 1))
      shortcut = x[:, :, ::stride, ::stride]
      shortcut = np.pad(shortcut, ((0, 0), (0, y.shape[1] - x.shape[1]), (0, 0), (0, 0)))
      x = relu(y + shortcut)
    return linear(p, 'out', x.mean(axis=(2, 3)))
  if spec['model'] == 'textcnn':
    emb = p['embed.weight'][x] * (x != 0)[..., None]
    pad = max(a['window_sizes']) - 1
    emb = np.pad(emb.transpose(0, 2, 1), ((0, 0), (0, 0), (pad, pad)))[:, :, None, :]
    pooled = [relu(conv2d(emb, p[f'conv_{h}.weight'][:, :, None, :], bias=p[f'conv_{h}.bias']))
              .max(axis=(2, 3)) for h in a['window_sizes']]
    return linear(p, 'out', np.concatenate(pooled, axis=1))
  raise AssertionError(spec['model'])


def numpy_lstm_logits(spec, p, tokens_BxT):
  """nn.LSTM's equations, gates i, f, g, o, both biases, zero initial state."""
  a = spec['architecture']
  x = p['embed.weight'][tokens_BxT]
  for layer in range(a['num_layers']):
    b, hidden = x.shape[0], a['hidden_size']
    h, c, outputs = np.zeros((b, hidden)), np.zeros((b, hidden)), []
    for t in range(x.shape[1]):
      gates = (x[:, t] @ p[f'lstm.weight_ih_l{layer}'].T + p[f'lstm.bias_ih_l{layer}']
               + h @ p[f'lstm.weight_hh_l{layer}'].T + p[f'lstm.bias_hh_l{layer}'])
      i, f, g, o = np.split(gates, 4, axis=-1)
      c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
      h = sigmoid(o) * np.tanh(c)
      outputs.append(h)
    x = np.stack(outputs, axis=1)
  return linear(p, 'out', x)


def cross_entropy(logits, targets):
  z = logits - logits.max(axis=-1, keepdims=True)
  log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
  return -np.take_along_axis(log_p, targets[..., None], axis=-1).mean()


# --- The JAX side's file -------------------------------------------------------------------

def starting_point(name, arg, synthetic, num_steps=5, **overrides):
  from research import benchmark
  from testlib import load_config, quiet
  config = quiet(load_config(name, arg), **overrides)
  return config, benchmark.starting_point(config, num_steps=num_steps, synthetic_shape=synthetic,
                                          num_classes=5)


def read_twin_file(path):
  """(spec, params, data) as launch/benchmark_torch.py's read_twin_file splits them."""
  with np.load(path, allow_pickle=False) as f:
    arrays = {k: f[k] for k in f.files}
  spec = json.loads(str(arrays.pop('spec')))
  params = {k[len('param/'):]: arrays.pop(k) for k in list(arrays) if k.startswith('param/')}
  return spec, params, arrays


def export(tmp_path, config, start):
  path = str(tmp_path / 'twin.npz')
  losses = torch_export.write(path, config, start)
  return (losses, *read_twin_file(path))


# Non-square images with several channels: a layout that swaps H and W, or
# flattens channels last, gives another objective.
@pytest.mark.parametrize('name, arg, synthetic', [
    ('fashion_mnist_mlp', 'runlocal', (6, 5, 3)),
    ('fashion_mnist_lenet5', 'runlocal', (32, 32, 2)),
    ('fashion_mnist_cnn', 'runlocal', (12, 10, 2)),
    ('fashion_mnist_resnet', 'runlocal,depth=8', (12, 10, 2)),
    ('fortunes_textcnn', 'cnn,runlocal', (16, 50)),
])
def test_the_file_in_torch_layouts_gives_the_jax_objective(tmp_path, name, arg, synthetic):
  import jax.numpy as jnp
  from research import train
  config, start = starting_point(name, arg, synthetic)
  if name == 'fortunes_textcnn':  # padding (id 0) at the end of every row, as real texts have
    ids = np.array(start.feeder.train_data['image'])
    ids[:, -5:] = 0
    start.feeder.train_data['image'] = jnp.asarray(ids)
  losses, spec, params, data = export(tmp_path, config, start)
  logits = numpy_logits(spec, {k: v.astype(np.float64) for k, v in params.items()},
                        data['check_inputs'] if name == 'fortunes_textcnn'
                        else data['check_inputs'].astype(np.float64))
  expected = cross_entropy(logits, data['check_targets'])
  if spec['dtype'] == 'bfloat16':
    assert losses['float32_loss_at_start'] == pytest.approx(expected, rel=1e-5)
    # The bfloat16 model's objective: near the float32 one, not equal to it.
    assert losses['loss_at_start'] != losses['float32_loss_at_start']
    assert losses['loss_at_start'] == pytest.approx(expected, rel=torch_twin.BF16_LOSS_RTOL)
  else:
    assert losses['loss_at_start'] == pytest.approx(expected, rel=1e-5)
    assert 'float32_loss_at_start' not in losses
  # The check batch is the first step's, and the twin trains what JAX trains.
  np.testing.assert_array_equal(data['check_inputs'], data['inputs'][data['batch_rows'][0]])
  np.testing.assert_array_equal(data['check_targets'], data['labels'][data['batch_rows'][0]])
  trained = [n for n in params if not n.endswith(('running_mean', 'running_var'))]
  assert sum(params[n].size for n in trained) == train.num_params(start.state.params)


def test_the_lstm_file_gives_the_jax_objective_with_the_forget_bias_constant(tmp_path):
  config, start = starting_point('tiny_shakespeare_lstm', 'runlocal', (65,))
  losses, spec, params, data = export(tmp_path, config, start)
  p = {k: v.astype(np.float64) for k, v in params.items()}
  logits = numpy_lstm_logits(spec, p, data['check_inputs'])
  assert losses['loss_at_start'] == pytest.approx(cross_entropy(logits, data['check_targets']),
                                                  rel=1e-5)
  hidden = config.model.hidden_size
  assert spec['constant_params'] == ['lstm.bias_hh_l0', 'lstm.bias_hh_l1']
  for layer in (0, 1):  # forget_bias=1.0 on f (gates i, f, g, o), zeros elsewhere
    np.testing.assert_array_equal(params[f'lstm.bias_hh_l{layer}'],
                                  np.repeat([0.0, 1.0, 0.0, 0.0], hidden))
  assert params['lstm.weight_ih_l0'].shape == (4 * hidden, config.model.embed_dim)
  assert params['lstm.weight_hh_l1'].shape == (4 * hidden, hidden)
  assert spec['optimizer']['grad_clip_norm'] == 1.0 and spec['seq_len'] == config.seq_len


def test_the_file_holds_each_steps_batch_and_learning_rate(tmp_path):
  config, start = starting_point('fashion_mnist_resnet', 'runlocal,depth=8', (12, 10, 2),
                                 num_steps=300)
  _, spec, _, data = export(tmp_path, config, start)
  images = np.asarray(start.feeder.train_data['image'])
  labels = np.asarray(start.feeder.train_data['label'])
  # 300 steps of 16 cover 4096 examples more than once: a new order each epoch.
  assert data['batch_rows'].shape == (300, 16) and len(data['inputs']) == 4096
  for step in (0, 1, 255, 256, 299):
    rows = start.feeder.order.global_indices(step)
    np.testing.assert_array_equal(data['inputs'][data['batch_rows'][step]],
                                  images[rows].transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(data['labels'][data['batch_rows'][step]], labels[rows])
  # Cosine decay from 0.1 over the 301 steps the schedule spans.
  np.testing.assert_allclose(data['learning_rates'][[0, 150, 299]],
                             [0.1, 0.05 * (1 + np.cos(np.pi * 150 / 301)),
                              0.05 * (1 + np.cos(np.pi * 299 / 301))], rtol=1e-6, atol=1e-9)
  assert spec['optimizer'] == {'name': 'momentum', 'momentum': 0.9, 'nesterov': True,
                               'b1': 0.9, 'b2': 0.999, 'weight_decay': 5e-4,
                               'grad_clip_norm': None}
  assert spec['augment'] == {'crop_padding': 2, 'flip': True}
  assert spec['dtype'] == 'bfloat16' and spec['input_shape'] == [2, 12, 10]
  assert spec['architecture'] == {'depth': 8, 'shortcut': 'A', 'dtype': 'bfloat16',
                                  'num_classes': 5}


def test_the_language_models_file_holds_the_windows_and_the_warmup(tmp_path):
  config, start = starting_point('tiny_shakespeare_lstm', 'runlocal', (65,), num_steps=4)
  _, _, _, data = export(tmp_path, config, start)
  np.testing.assert_array_equal(data['token_rows'], np.asarray(start.feeder.train_rows))
  np.testing.assert_array_equal(data['window_offsets'], [0, 4, 8, 12])
  np.testing.assert_array_equal(data['check_targets'], data['token_rows'][:, 1:5])
  # Linear warmup over 100 steps to 2e-3.
  np.testing.assert_allclose(data['learning_rates'], [0.0, 2e-5, 4e-5, 6e-5], rtol=1e-5)  # float32


def test_max_norm_and_frozen_modules_name_torch_parameters(tmp_path):
  config, start = starting_point('fortunes_textcnn', 'cnn,runlocal', (16, 50))
  _, spec, params, _ = export(tmp_path, config, start)
  assert spec['max_norm'] == 3.0 and spec['max_norm_params'] == ['out.weight']
  assert spec['frozen_params'] == [] and spec['architecture']['vocab_size'] == 50
  config.optimizer.frozen_modules = ('embed',)
  _, spec, _, _ = export(tmp_path, config, start)
  assert spec['frozen_params'] == ['embed.weight']
  assert params['conv_3.weight'].shape == (100, 16, 3)  # Conv1d: out, in, width


def test_the_mlps_parameters_get_torchs_names_and_shapes(tmp_path):
  config, start = starting_point('fashion_mnist_mlp', 'runlocal', (28, 28, 1))
  _, _, params, _ = export(tmp_path, config, start)
  assert {k: v.shape for k, v in params.items()} == {
      'hidden_0.weight': (256, 784), 'hidden_0.bias': (256,),
      'hidden_1.weight': (256, 256), 'hidden_1.bias': (256,),
      'out.weight': (5, 256), 'out.bias': (5,)}
  kernel = np.asarray(start.state.params['out']['kernel'])
  np.testing.assert_array_equal(params['out.weight'], kernel.T)


def test_a_dense_layer_over_a_flattened_map_reads_torchs_order():
  h, w, c = 2, 3, 4
  map_HxWxC = np.arange(h * w * c, dtype=np.float64).reshape(h, w, c)
  kernel = np.random.default_rng(0).standard_normal((h * w * c, 5))
  rows = torch_export.rows_hwc_to_chw(kernel, (h, w, c))
  np.testing.assert_allclose(map_HxWxC.transpose(2, 0, 1).reshape(-1) @ rows,
                             map_HxWxC.reshape(-1) @ kernel)
  # Row (c, h, w) of the result is row (h, w, c) of the kernel.
  np.testing.assert_array_equal(rows[1 * h * w + 1 * w + 2], kernel[(1 * w + 2) * c + 1])


# --- What a twin cannot mirror --------------------------------------------------------------

def config(name, arg=None, **overrides):
  from testlib import load_config, quiet
  return quiet(load_config(name, arg), **overrides)


@pytest.mark.parametrize('name, arg, overrides, match', [
    ('cifar10_squeezenet', None, {},
     r"No PyTorch twin for model 'squeezenet1_1' of task 'classification' \(twins: "
     r'cifar_resnet, lenet5, mlp, small_cnn, textcnn\)\.'),
    ('fortunes_textcnn', 'bow', {}, "No PyTorch twin for model 'bag_of_words'"),
    ('johnson_style', None, {}, "No PyTorch twin for task 'fast_neural_style'"),
    ('fashion_mnist_distill', 'distilled', {}, "No PyTorch twin for task 'distillation'"),
    ('fashion_mnist_mlp', None, {'optimizer.name': 'adadelta'},
     r"optimizer.name='adadelta' \(it needs optimizer.name in 'sgd', 'momentum', 'adam', "
     r"'adamw'\)"),
    ('fashion_mnist_mlp', None, {'loss': 'hinge'}, "loss='hinge'"),
    ('fashion_mnist_resnet', None, {'augment.erasing_prob': 0.5}, 'augment.erasing_prob=0.5'),
    ('tiny_shakespeare_lstm', None, {'model.dtype': 'bfloat16'},
     r"model.dtype='bfloat16' \(it needs model.dtype in 'float32'\)"),
    ('tiny_shakespeare_lstm', None, {'model.cell': 'gru'}, "model.cell='gru'"),
])
def test_what_no_twin_mirrors_is_one_clear_error(name, arg, overrides, match):
  with pytest.raises(errors.ConfigError, match=match):
    torch_twin.check_supported(config(name, arg, **overrides))


def test_a_model_field_the_twin_does_not_know_is_refused():
  c = config('fashion_mnist_mlp')
  with c.unlocked():
    c.model.use_bias = False
  with pytest.raises(errors.ConfigError, match=r"twin of 'mlp' does not mirror model.use_bias"):
    torch_twin.check_supported(c)


def test_every_setting_of_the_six_configs_is_mirrored():
  for name, arg in (('fashion_mnist_mlp', None), ('fashion_mnist_lenet5', None),
                    ('fashion_mnist_cnn', None), ('fashion_mnist_resnet', None),
                    ('tiny_shakespeare_lstm', None), ('fortunes_textcnn', 'cnn')):
    torch_twin.check_supported(config(name, arg))  # raises where one is not


def test_the_gatys_twin_refuses_synthetic_data_before_looking_for_torch():
  from testlib import load_config
  with pytest.raises(errors.ConfigError, match="--synthetic: the Gatys twin reads the config's"):
    torch_twin.against_torch(load_config('gatys_style'), torch_python='/no/such/python',
                             steps=1, warmup=0, repeats=1, synthetic_shape=(8, 8, 3))


# --- The command, the report, the comparison ------------------------------------------------

def test_a_model_twins_command_names_its_file_and_the_timing():
  c = config('fashion_mnist_cnn')
  cmd = torch_twin.twin_command(c, torch_python='/x/python', steps=20, warmup=3, repeats=2,
                                threads=2, twin_file='/tmp/t/twin.npz')
  assert cmd == ['/x/python', '-m', 'launch.benchmark_torch', '--twin=/tmp/t/twin.npz',
                 '--steps=20', '--warmup=3', '--repeats=2', '--threads=2']
  with pytest.raises(ValueError, match='twin_file'):
    torch_twin.twin_command(c, torch_python='/x/python', steps=1, warmup=0, repeats=1,
                            threads=1)


TWIN_OUTPUT = '\n'.join([
    'model: cifar_resnet (twin, bfloat16)  batch: 128  threads: 2  torch 2.13.0+cpu',
    'params: 269434',
    'loss_at_start: 4.1038',
    'float32_loss_at_start: 4.0981',
    'first_step_seconds: 0.115',
    'examples_per_second_each_repeat: [1000.0, 1024.0]',
    'seconds_per_iteration: 0.125',
    'peak_host_rss_mb: 470.0',
    'examples_per_second=1024.0'])


def test_a_model_twins_report_is_parsed_and_compared():
  twin = torch_twin.parse_report(TWIN_OUTPUT)
  assert twin['params'] == 269434 and isinstance(twin['params'], int)
  assert twin['examples_per_second'] == 1024.0 and twin['seconds_per_iteration'] == 0.125
  assert twin['examples_per_second_each_repeat'] == [1000.0, 1024.0]
  jax_report = {'examples_per_second': 2048.0, 'seconds_per_step': 0.0625, 'params': 269434,
                'loss_at_start': 2.9}  # the JAX report's own: a training step's, not compared
  c = config('fashion_mnist_resnet')
  result = torch_twin.compare(c, jax_report, twin,
                              {'loss_at_start': 4.1040, 'float32_loss_at_start': 4.0981})
  assert result['speed_jax_over_torch'] == 2.0 and result['params_agree']
  assert result['jax_loss_at_start'] == 4.1040 and result['torch_loss_at_start'] == 4.1038
  assert result['loss_at_start_tolerance'] == torch_twin.BF16_LOSS_RTOL
  assert result['float32_loss_at_start_tolerance'] == torch_twin.LOSS_RTOL
  assert result['losses_agree'] and torch_twin.disagreements(result) == []
  # The float32 check is the strict one: 1e-3 apart fails it alone.
  result = torch_twin.compare(c, jax_report, twin,
                              {'loss_at_start': 4.1040, 'float32_loss_at_start': 4.1022})
  assert not result['losses_agree']
  assert torch_twin.disagreements(result) == [
      'float32_loss_at_start by a relative 0.000999 (tolerance 0.0001)']


def test_a_float32_models_comparison_has_one_strict_check():
  twin = torch_twin.parse_report('\n'.join([
      'params: 269322', 'loss_at_start: 2.3751554', 'seconds_per_iteration: 0.002',
      'examples_per_second=64000.0']))
  jax_report = {'examples_per_second': 80000.0, 'seconds_per_step': 0.0016, 'params': 269322}
  c = config('fashion_mnist_mlp')
  result = torch_twin.compare(c, jax_report, twin, {'loss_at_start': 2.3751557})
  assert result['speed_jax_over_torch'] == 1.25 and result['losses_agree']
  assert 'float32_loss_at_start_tolerance' not in result
  result = torch_twin.compare(c, jax_report, twin, {'loss_at_start': 2.38})
  assert torch_twin.disagreements(result) == [
      'loss_at_start by a relative 0.00204 (tolerance 0.0001)']


def test_against_torch_takes_synthetic_data_and_then_looks_for_torch():
  """--synthetic with --against=torch passes the argument checks (it used
  to be refused) and stops, in one line, at the missing Python."""
  from testlib import REPO_ROOT, subprocess_env
  cmd = [sys.executable, '-m', 'launch.benchmark', '--config=configs/fashion_mnist_mlp.py',
         '--synthetic=28,28,1', '--against=torch', '--torch_python=/no/such/python']
  proc = subprocess.run(cmd, cwd=REPO_ROOT, env=subprocess_env(), capture_output=True,
                        text=True, timeout=180)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert "error: --torch_python='/no/such/python' cannot be run" in proc.stderr
  assert proc.stderr.count('error:') == 1 and 'Traceback' not in proc.stderr
