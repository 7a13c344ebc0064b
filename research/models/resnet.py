"""Residual networks (He, Zhang, Ren & Sun 2016, "Deep Residual Learning for
Image Recognition").

- `CifarResNet`: the 6n+2-layer CIFAR-10 networks of §4.2 (ResNet-20/32/44/56/
  110; Table 6 gives 0.27M/0.46M/0.66M/0.85M/1.7M parameters).
- `ResNet`: the ImageNet networks of Table 1 (ResNet-18/34/50/101/152), with
  the stride of a downsampling bottleneck block on its 3x3 conv ("ResNet v1.5",
  as in torchvision; the paper put it on the first 1x1 conv). Parameter counts
  match torchvision's: 11,689,512 for ResNet-18, 25,557,032 for ResNet-50.

Every conv is followed by BatchNorm "right after each convolution and before
activation" (§3.4), so convs carry no bias. Weights use the He init of [13]
(§3.4), in torchvision's fan_out form.
"""

import flax.linen as nn
import jax.numpy as jnp

from research.models.common import CONV_IMPLS, DTYPES, HE_INIT, batch_norm, check_dtype, conv

# Torch-style symmetric padding: for stride 2 it samples the same positions as
# the parameter-free option-A shortcut x[:, ::2, ::2] (the 'SAME' rule would
# pad (0, 1) on even inputs and shift the grid by one pixel).
_PAD1 = ((1, 1), (1, 1))


def _conv(features, kernel, strides, padding, dtype, name, impl):
  return conv(impl, features, (kernel, kernel), name, padding=padding, strides=(strides, strides),
              use_bias=False, kernel_init=HE_INIT, dtype=DTYPES[dtype])


def _bn(train, dtype, name, impl, zero_scale=False, relu=False):
  # Flax's momentum is the running average's decay: 0.9 is torch's 0.1.
  # conv_impl 'onednn' computes the batch norm (and the ReLU after it) with
  # oneDNN on a CPU too (common.batch_norm).
  return batch_norm(impl, name, train=train, relu=relu, momentum=0.9, epsilon=1e-5,
                    dtype=DTYPES[dtype],
                    scale_init=nn.initializers.zeros if zero_scale else nn.initializers.ones)


class BasicBlock(nn.Module):
  """Two 3x3 convs (Fig. 2 / Fig. 5 left)."""

  features: int
  strides: int = 1
  shortcut: str = 'B'  # Used only where the shape changes: 'A' or 'B' (§3.3).
  zero_init_residual: bool = False
  dtype: str = 'float32'
  conv_impl: str = 'xla'  # see research/models/common.py `conv`

  @nn.compact
  def __call__(self, x_BxHxWxC, *, train: bool):
    y = _conv(self.features, 3, self.strides, _PAD1, self.dtype, 'conv1', self.conv_impl)(x_BxHxWxC)
    y = _bn(train, self.dtype, 'bn1', self.conv_impl, relu=True)(y)
    y = _conv(self.features, 3, 1, _PAD1, self.dtype, 'conv2', self.conv_impl)(y)
    # Zero-init of the last BN scale: each block starts as the identity
    # (Goyal et al. 2017), an option, not the paper's.
    y = _bn(train, self.dtype, 'bn2', self.conv_impl, zero_scale=self.zero_init_residual)(y)
    return nn.relu(y + _shortcut(self, x_BxHxWxC, y.shape[-1], train))


class BottleneckBlock(nn.Module):
  """1x1 reduce, 3x3, 1x1 expand (4x) (Fig. 5 right); stride on the 3x3."""

  features: int
  strides: int = 1
  shortcut: str = 'B'
  zero_init_residual: bool = False
  dtype: str = 'float32'
  expansion: int = 4
  conv_impl: str = 'xla'

  @nn.compact
  def __call__(self, x_BxHxWxC, *, train: bool):
    y = _conv(self.features, 1, 1, 'VALID', self.dtype, 'conv1', self.conv_impl)(x_BxHxWxC)
    y = _bn(train, self.dtype, 'bn1', self.conv_impl, relu=True)(y)
    y = _conv(self.features, 3, self.strides, _PAD1, self.dtype, 'conv2', self.conv_impl)(y)
    y = _bn(train, self.dtype, 'bn2', self.conv_impl, relu=True)(y)
    y = _conv(self.features * self.expansion, 1, 1, 'VALID', self.dtype, 'conv3', self.conv_impl)(y)
    y = _bn(train, self.dtype, 'bn3', self.conv_impl, zero_scale=self.zero_init_residual)(y)
    return nn.relu(y + _shortcut(self, x_BxHxWxC, y.shape[-1], train))


def _shortcut(block, x_BxHxWxC, out_channels, train):
  """Identity where shapes agree; otherwise option A or B of §3.3."""
  in_channels = x_BxHxWxC.shape[-1]
  if block.strides == 1 and in_channels == out_channels:
    return x_BxHxWxC
  if block.shortcut == 'A':
    # Option A: "identity mapping, with extra zero entries padded for
    # increasing dimensions" and stride-2 subsampling; no parameters.
    if out_channels < in_channels:
      raise ValueError('Option-A shortcuts can only add channels.')
    x = x_BxHxWxC[:, ::block.strides, ::block.strides, :]
    return jnp.pad(x, ((0, 0), (0, 0), (0, 0), (0, out_channels - in_channels)))
  # Option B: 1x1 projection (stride 2 where the block downsamples) + BN.
  x = _conv(out_channels, 1, block.strides, 'VALID', block.dtype, 'proj_conv',
            block.conv_impl)(x_BxHxWxC)
  return _bn(train, block.dtype, 'proj_bn', block.conv_impl)(x)


class CifarResNet(nn.Module):
  """§4.2: 3x3 conv 16 -> 3 stages of n basic blocks on 32/16/8 px maps with
  16/32/64 filters -> global average pool -> dense; 6n+2 weighted layers."""

  num_classes: int
  depth: int = 20
  shortcut: str = 'A'  # The paper's CIFAR choice (parameter-free); or 'B'.
  zero_init_residual: bool = False
  dtype: str = 'float32'  # Computation dtype; params stay float32.
  conv_impl: str = 'xla'  # 'onednn': oneDNN's convolutions on a CPU (common.conv)

  def __post_init__(self):
    if self.conv_impl not in CONV_IMPLS:
      raise ValueError(f'conv_impl must be one of {CONV_IMPLS}, got {self.conv_impl!r}.')
    if self.depth < 8 or (self.depth - 2) % 6:
      raise ValueError(
          f'CifarResNet depth must be 6n+2 with n >= 1 (20, 32, 44, 56, 110, ...); '
          f'got {self.depth}.')
    if self.shortcut not in ('A', 'B'):
      raise ValueError(f"shortcut must be 'A' or 'B', got {self.shortcut!r}.")
    check_dtype(self.dtype)
    super().__post_init__()

  @nn.compact
  def __call__(self, x_BxHxWxC, *, train: bool = False):
    n = (self.depth - 2) // 6
    x = x_BxHxWxC.astype(DTYPES[self.dtype])
    x = _conv(16, 3, 1, _PAD1, self.dtype, 'stem_conv', self.conv_impl)(x)
    x = _bn(train, self.dtype, 'stem_bn', self.conv_impl, relu=True)(x)
    for s, features in enumerate((16, 32, 64)):
      for b in range(n):
        # "Subsampling is performed by convolutions with a stride of 2."
        strides = 2 if s > 0 and b == 0 else 1
        x = BasicBlock(features, strides, self.shortcut, self.zero_init_residual,
                       self.dtype, conv_impl=self.conv_impl,
                       name=f'stage{s + 1}_block{b + 1}')(x, train=train)
    x = jnp.mean(x, axis=(1, 2))
    logits_BxK = nn.Dense(self.num_classes, dtype=DTYPES[self.dtype], name='out')(x)
    return logits_BxK.astype(jnp.float32)


# Table 1: (block, blocks per stage conv2_x..conv5_x).
_IMAGENET_CONFIGS = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (BottleneckBlock, (3, 4, 6, 3)),
    101: (BottleneckBlock, (3, 4, 23, 3)),
    152: (BottleneckBlock, (3, 8, 36, 3)),
}


class ResNet(nn.Module):
  """Table 1: 7x7/2 conv 64 -> 3x3/2 max pool -> 4 stages (64/128/256/512
  filters, stride 2 at the start of stages 3-5) -> global average pool ->
  dense. Projection shortcuts (option B) where the shape changes.

  `stem='cifar'` replaces the stem with a 3x3/1 conv and no max pool, so that
  32 px inputs keep 32/16/8/4 px maps in the four stages.
  """

  num_classes: int
  depth: int = 50
  stem: str = 'imagenet'  # 'imagenet' or 'cifar'.
  zero_init_residual: bool = False
  dtype: str = 'float32'  # Computation dtype; params stay float32.
  conv_impl: str = 'xla'  # 'onednn': oneDNN's convolutions on a CPU (common.conv)

  def __post_init__(self):
    if self.conv_impl not in CONV_IMPLS:
      raise ValueError(f'conv_impl must be one of {CONV_IMPLS}, got {self.conv_impl!r}.')
    if self.depth not in _IMAGENET_CONFIGS:
      raise ValueError(
          f'ResNet depth must be one of {sorted(_IMAGENET_CONFIGS)}; got {self.depth}.')
    if self.stem not in ('imagenet', 'cifar'):
      raise ValueError(f"stem must be 'imagenet' or 'cifar', got {self.stem!r}.")
    check_dtype(self.dtype)
    super().__post_init__()

  @nn.compact
  def __call__(self, x_BxHxWxC, *, train: bool = False):
    block, stage_sizes = _IMAGENET_CONFIGS[self.depth]
    x = x_BxHxWxC.astype(DTYPES[self.dtype])
    if self.stem == 'imagenet':
      x = _conv(64, 7, 2, ((3, 3), (3, 3)), self.dtype, 'stem_conv', self.conv_impl)(x)
      x = _bn(train, self.dtype, 'stem_bn', self.conv_impl, relu=True)(x)
      x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=_PAD1)
    else:
      x = _conv(64, 3, 1, _PAD1, self.dtype, 'stem_conv', self.conv_impl)(x)
      x = _bn(train, self.dtype, 'stem_bn', self.conv_impl, relu=True)(x)
    for s, num_blocks in enumerate(stage_sizes):
      for b in range(num_blocks):
        strides = 2 if s > 0 and b == 0 else 1
        x = block(64 * 2**s, strides, 'B', self.zero_init_residual, self.dtype,
                  conv_impl=self.conv_impl, name=f'stage{s + 1}_block{b + 1}')(x, train=train)
    x = jnp.mean(x, axis=(1, 2))
    logits_BxK = nn.Dense(self.num_classes, dtype=DTYPES[self.dtype], name='out')(x)
    return logits_BxK.astype(jnp.float32)
