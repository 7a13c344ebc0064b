"""Convolutional models: shapes, BatchNorm behaviour and the papers' parameter
counts (ResNet Table 6, torchvision's ImageNet counts)."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from research.models import MODELS, VGG, AlexNet, CifarResNet, ResNet, SmallCNN
from research.models.alexnet import local_response_norm

INPUT_SHAPES = [(2, 28, 28, 1), (2, 32, 32, 3)]

# Small but complete: every block type, shortcut kind and classifier head.
SMALL_MODELS = {
    'small_cnn': lambda: SmallCNN(num_classes=10),
    'cifar_resnet20_A': lambda: CifarResNet(num_classes=10, depth=20),
    'cifar_resnet8_B': lambda: CifarResNet(num_classes=10, depth=8, shortcut='B'),
    'resnet18_cifar_stem': lambda: ResNet(num_classes=10, depth=18, stem='cifar'),
    'resnet50': lambda: ResNet(num_classes=10, depth=50),
    'vgg11_small_bn': lambda: VGG(num_classes=10, depth=11, classifier='small',
                                  width_multiplier=0.25),
    'vgg16_imagenet_nobn': lambda: VGG(num_classes=10, depth=16, batch_norm=False,
                                       width_multiplier=0.125),
    'alexnet_small_lrn': lambda: AlexNet(num_classes=10, variant='small',
                                         dense_width=64, lrn=True),
}


def num_params(model, input_shape):
  variables = jax.eval_shape(
      lambda: model.init(jax.random.key(0), jnp.zeros(input_shape), train=False))
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(variables['params']))


def init(model, x):
  return model.init(jax.random.key(0), x, train=False)


def apply_train(model, variables, x):
  """Training-mode call; returns (logits, updated batch_stats or None)."""
  rng = jax.random.key(1)
  if 'batch_stats' in variables:
    logits, updates = model.apply(variables, x, train=True, rngs={'dropout': rng},
                                  mutable=['batch_stats'])
    return logits, updates['batch_stats']
  return model.apply(variables, x, train=True, rngs={'dropout': rng}), None


@pytest.mark.parametrize('input_shape', INPUT_SHAPES, ids=['28x28x1', '32x32x3'])
@pytest.mark.parametrize('name', sorted(SMALL_MODELS))
def test_logits_shape_train_and_eval(name, input_shape):
  # Shapes only (traced, not run: eager CPU runs of every model would take
  # minutes); the bfloat16 and BatchNorm tests below run real forward passes.
  model = SMALL_MODELS[name]()

  def forward(x):
    variables = init(model, x)
    return model.apply(variables, x, train=False), apply_train(model, variables, x)[0]

  for logits in jax.eval_shape(forward, jax.ShapeDtypeStruct(input_shape, jnp.float32)):
    assert logits.shape == (2, 10)
    assert logits.dtype == jnp.float32


@pytest.mark.parametrize('model', [
    AlexNet(num_classes=1000),
    VGG(num_classes=1000, depth=16),
    ResNet(num_classes=1000, depth=50),
], ids=['alexnet', 'vgg16', 'resnet50'])
def test_imagenet_variants_logits_shape(model):
  x = jax.ShapeDtypeStruct((2, 224, 224, 3), jnp.float32)
  logits = jax.eval_shape(lambda x: model.apply(init(model, x), x), x)
  assert logits.shape == (2, 1000) and logits.dtype == jnp.float32


@pytest.mark.parametrize('depth,millions', [
    (20, 0.27), (32, 0.46), (44, 0.66), (56, 0.85), (110, 1.7)])
def test_cifar_resnet_parameter_counts_match_table_6(depth, millions):
  n = num_params(CifarResNet(num_classes=10, depth=depth), (1, 32, 32, 3))
  assert round(n / 1e6, 1 if depth == 110 else 2) == millions


@pytest.mark.parametrize('depth', [20, 56])
def test_option_a_shortcut_is_parameter_free(depth):
  a = num_params(CifarResNet(num_classes=10, depth=depth, shortcut='A'), (1, 32, 32, 3))
  b = num_params(CifarResNet(num_classes=10, depth=depth, shortcut='B'), (1, 32, 32, 3))
  # Option B adds exactly the two 1x1 projections + BN: 16->32 and 32->64.
  assert b - a == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64) == 2752


def test_option_a_shortcut_zero_pads_and_subsamples():
  # With every block's residual branch zeroed, a downsampling block outputs
  # relu(shortcut(x)): the stride-2 subsample of x, then zeros for new channels.
  from research.models.resnet import BasicBlock
  block = BasicBlock(features=8, strides=2, shortcut='A', zero_init_residual=True)
  x = jax.random.normal(jax.random.key(0), (1, 6, 6, 4))
  variables = block.init(jax.random.key(1), x, train=False)
  y = block.apply(variables, x, train=False)
  np.testing.assert_allclose(y[..., :4], jax.nn.relu(x[:, ::2, ::2, :]), atol=1e-6)
  np.testing.assert_array_equal(y[..., 4:], 0.0)


@pytest.mark.parametrize('depth,expected', [(18, 11_689_512), (50, 25_557_032)])
def test_imagenet_resnet_parameter_counts_match_torchvision(depth, expected):
  assert num_params(ResNet(num_classes=1000, depth=depth), (1, 224, 224, 3)) == expected


def test_vgg16_and_alexnet_parameter_counts_match_torchvision():
  # VGG Table 2: 138M for configuration D; AlexNet one-GPU layout: 61.1M.
  assert num_params(VGG(num_classes=1000, depth=16, batch_norm=False),
                    (1, 224, 224, 3)) == 138_357_544
  assert num_params(AlexNet(num_classes=1000), (1, 224, 224, 3)) == 61_100_840


@pytest.mark.parametrize('make', [
    lambda: SmallCNN(num_classes=10),
    lambda: CifarResNet(num_classes=10, depth=8),
], ids=['small_cnn', 'cifar_resnet8'])
def test_batch_norm_statistics_update_in_training_only(make):
  model = make()
  x = jax.random.normal(jax.random.key(0), (4, 32, 32, 3)) * 3.0 + 1.0
  variables = init(model, x)
  _, new_stats = apply_train(model, variables, x)
  old, new = jax.tree.leaves(variables['batch_stats']), jax.tree.leaves(new_stats)
  assert len(old) == len(new) > 0
  assert all(not np.allclose(a, b) for a, b in zip(old, new))
  # Eval uses the running averages: deterministic, dropout off, and
  # independent of the rest of the batch.
  updated = {**variables, 'batch_stats': new_stats}
  a = model.apply(updated, x, train=False)
  b = model.apply(updated, x, train=False, rngs={'dropout': jax.random.key(5)})
  np.testing.assert_array_equal(a, b)
  other_rows_zeroed = x.at[1:].set(0.0)
  np.testing.assert_allclose(model.apply(updated, other_rows_zeroed, train=False)[0], a[0],
                             rtol=1e-5, atol=1e-5)


def test_batch_norm_momentum_is_0_9():
  model = CifarResNet(num_classes=10, depth=8)
  x = jax.random.normal(jax.random.key(0), (4, 8, 8, 3))
  variables = init(model, x)
  _, stats = apply_train(model, variables, x)
  # Stem BN sees the stem conv's output; running mean = 0.9 * 0 + 0.1 * batch mean.
  stem_conv = nn.Conv(16, (3, 3), padding=((1, 1), (1, 1)), use_bias=False)
  y = stem_conv.apply({'params': variables['params']['stem_conv']}, x)
  mean_C = y.mean(axis=(0, 1, 2))
  np.testing.assert_allclose(stats['stem_bn']['mean'], 0.1 * mean_C, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('make', [
    lambda: CifarResNet(num_classes=10, depth=21),
    lambda: CifarResNet(num_classes=10, depth=2),
    lambda: CifarResNet(num_classes=10, shortcut='C'),
    lambda: ResNet(num_classes=10, depth=20),
    lambda: ResNet(num_classes=10, stem='tiny'),
    lambda: VGG(num_classes=10, depth=12),
    lambda: VGG(num_classes=10, classifier='huge'),
    lambda: AlexNet(num_classes=10, variant='tiny'),
    lambda: SmallCNN(num_classes=10, dtype='float16'),
])
def test_invalid_configs_raise(make):
  with pytest.raises(ValueError):
    make()


def test_alexnet_imagenet_variant_rejects_small_inputs():
  with pytest.raises(ValueError, match="variant='small'"):
    init(AlexNet(num_classes=10), jnp.zeros((1, 28, 28, 1)))


def test_vgg_skips_pooling_below_one_pixel():
  # 28 -> 14 -> 7 -> 3 -> 1, fifth pool skipped: fc1 sees 1x1x(512/8) features.
  model = VGG(num_classes=10, classifier='imagenet', width_multiplier=0.125)
  variables = jax.eval_shape(lambda: init(model, jnp.zeros((1, 28, 28, 1))))
  assert variables['params']['fc1']['kernel'].shape == (64, 4096)


@pytest.mark.parametrize('make', [
    lambda: SmallCNN(num_classes=10, dtype='bfloat16'),
    lambda: CifarResNet(num_classes=10, depth=8, dtype='bfloat16'),
    lambda: ResNet(num_classes=10, depth=50, dtype='bfloat16'),
    lambda: VGG(num_classes=10, depth=11, classifier='small', width_multiplier=0.25,
                dtype='bfloat16'),
    lambda: AlexNet(num_classes=10, variant='small', dense_width=64, lrn=True,
                    dtype='bfloat16'),
], ids=['small_cnn', 'cifar_resnet', 'resnet50', 'vgg11', 'alexnet'])
def test_bfloat16_computes_in_bf16_but_returns_float32_logits(make):
  model = make()

  def forward(x):
    variables = init(model, x)
    logits, state = model.apply(variables, x, train=False, capture_intermediates=True,
                                mutable=['intermediates'])
    return variables['params'], logits, state['intermediates'], apply_train(model, variables, x)[0]

  params, logits, inner, train_logits = jax.eval_shape(
      forward, jax.ShapeDtypeStruct((2, 32, 32, 3), jnp.float32))
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(params))
  assert logits.dtype == train_logits.dtype == jnp.float32
  # Every layer's output (the model's own output excluded) is bfloat16.
  inner = {k: v for k, v in inner.items() if k != '__call__'}
  assert inner and all(a.dtype == jnp.bfloat16 for a in jax.tree.leaves(inner))


@pytest.mark.parametrize('make', [
    lambda: SmallCNN(num_classes=10, dtype='bfloat16'),
    lambda: CifarResNet(num_classes=10, depth=8, dtype='bfloat16'),
], ids=['small_cnn', 'cifar_resnet'])
def test_bfloat16_logits_are_close_to_float32(make):
  model = make()
  x = jax.random.normal(jax.random.key(0), (2, 32, 32, 3))
  variables = init(model, x)
  logits = model.apply(variables, x, train=False)
  train_logits, _ = apply_train(model, variables, x)
  assert logits.dtype == train_logits.dtype == jnp.float32
  assert np.all(np.isfinite(logits)) and np.all(np.isfinite(train_logits))
  # Same parameters in float32 give nearby, but not bit-identical, logits.
  f32 = model.clone(dtype='float32').apply(variables, x, train=False)
  assert not np.array_equal(logits, f32)
  np.testing.assert_allclose(logits, f32, atol=0.1 * float(np.abs(f32).max()) + 0.05)


def test_zero_init_residual_zeroes_last_bn_scale():
  from research.models.resnet import BottleneckBlock
  block = BottleneckBlock(features=4, strides=2, zero_init_residual=True)
  params = block.init(jax.random.key(0), jnp.ones((1, 4, 4, 8)), train=False)['params']
  np.testing.assert_array_equal(params['bn3']['scale'], np.zeros(16))
  np.testing.assert_array_equal(params['bn2']['scale'], np.ones(4))
  np.testing.assert_array_equal(params['proj_bn']['scale'], np.ones(16))
  model = CifarResNet(num_classes=10, depth=8, zero_init_residual=True)
  params = init(model, jnp.ones((1, 32, 32, 3)))['params']
  for block in ('stage1_block1', 'stage2_block1', 'stage3_block1'):
    np.testing.assert_array_equal(params[block]['bn2']['scale'], 0.0)
    np.testing.assert_array_equal(params[block]['bn1']['scale'], 1.0)


def test_sequence_fields_accept_lists_from_configs():
  shapes = [
      jax.tree.map(lambda a: a.shape, jax.eval_shape(
          lambda m=m: init(m, jnp.zeros((1, 28, 28, 1)))))
      for m in (SmallCNN(num_classes=10, block_channels=(8, 16), dense_sizes=(32,)),
                SmallCNN(num_classes=10, block_channels=[8, 16], dense_sizes=[32]))]
  assert shapes[0] == shapes[1]
  assert shapes[0]['params']['block1_conv0']['kernel'] == (3, 3, 8, 16)


def test_small_cnn_layout():
  variables = jax.eval_shape(lambda: init(SmallCNN(num_classes=10), jnp.zeros((1, 28, 28, 1))))
  p = variables['params']
  assert p['block1_conv1']['kernel'].shape == (3, 3, 64, 64)
  assert 'bias' not in p['block0_conv0']  # BN follows every conv.
  assert p['dense0']['kernel'].shape == (7 * 7 * 64, 256)
  assert num_params(SmallCNN(num_classes=10), (1, 28, 28, 1)) == 870_826


def test_local_response_norm_matches_section_3_3():
  a = 3.0
  x = jnp.full((1, 1, 1, 7), a)
  b = local_response_norm(x)[0, 0, 0]
  # Interior channels sum n=5 neighbours; channel 0 only itself and 2 above.
  np.testing.assert_allclose(b[3], a / (2 + 1e-4 * 5 * a**2)**0.75, rtol=1e-6)
  np.testing.assert_allclose(b[0], a / (2 + 1e-4 * 3 * a**2)**0.75, rtol=1e-6)


def test_registry_builds_every_new_model_from_keyword_config():
  configs = {
      'small_cnn': dict(block_channels=[8], dense_sizes=[16]),
      'cifar_resnet': dict(depth=8, shortcut='B'),
      'resnet': dict(depth=18, stem='cifar'),
      'vgg': dict(depth=11, classifier='small', width_multiplier=0.125),
      'alexnet': dict(variant='small', dense_width=32),
  }
  for name, kwargs in configs.items():
    model = MODELS[name](num_classes=5, **kwargs)
    logits = jax.eval_shape(
        lambda m=model: m.apply(init(m, jnp.zeros((1, 28, 28, 1))), jnp.zeros((1, 28, 28, 1))))
    assert logits.shape == (1, 5), name
