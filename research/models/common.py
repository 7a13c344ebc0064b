"""Small pieces shared by the model files."""

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from research.kernels import onednn
from research.kernels import threefry

ACTIVATIONS = {
    'relu': nn.relu,
    'tanh': nn.tanh,
    'sigmoid': nn.sigmoid,
    'gelu': nn.gelu,
    # LeCun 1998, Appendix A: f(a) = A tanh(S a) with A = 1.7159, S = 2/3.
    'lecun_tanh': lambda x: 1.7159 * nn.tanh(2.0 / 3.0 * x),
}


# Computation dtypes a model's `dtype` field may name; params stay float32.
DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}
# He et al. 2015 ("Delving deep into rectifiers") init for ReLU networks, in
# the fan-out form torchvision uses.
HE_INIT = nn.initializers.variance_scaling(2.0, 'fan_out', 'normal')


# PyTorch's default init of nn.Linear / nn.ConvNd (kaiming_uniform, a = sqrt 5):
# weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)). For reproducing
# results of PyTorch reference code (e.g. MNIST-1D's); Flax's default
# (LeCun normal, zero bias) draws weights sqrt(3) times larger.
TORCH_KERNEL_INIT = nn.initializers.variance_scaling(1.0 / 3.0, 'fan_in', 'uniform')
INITS = ('flax', 'torch')


def uniform_init(bound: float):
  """U(-bound, bound), whatever the shape."""
  return lambda key, shape, dtype=jnp.float32: jax.random.uniform(
      key, shape, dtype, -bound, bound)


def torch_bias_init(fan_in: int):
  return uniform_init(1.0 / math.sqrt(fan_in))


def layer_init(init: str, fan_in: int) -> dict[str, Any]:
  """kernel_init / bias_init keyword arguments of a Dense or Conv for `init`
  ('flax': the library defaults; 'torch': PyTorch's defaults)."""
  if init == 'flax':
    return {}
  if init == 'torch':
    return {'kernel_init': TORCH_KERNEL_INIT, 'bias_init': torch_bias_init(fan_in)}
  raise ValueError(f'init must be one of {INITS}, got {init!r}.')


def check_dtype(dtype: str) -> None:
  if dtype not in DTYPES:
    raise ValueError(f'dtype must be one of {sorted(DTYPES)}, got {dtype!r}.')


def flatten(x):
  return x.reshape((x.shape[0], -1))


class Dropout(nn.Dropout):
  """`nn.Dropout` with the same masks (the same rng, the same bits), drawn by
  research/kernels/threefry.py: on the CPU JAX hashes them in a loop that
  cost the 2 x 512 LSTM about 5 % of its training step. The class keeps the
  name Dropout, so its auto-named scopes (Dropout_0, ...) and therefore its
  rngs are nn.Dropout's."""

  @nn.compact
  def __call__(self, inputs, deterministic: bool | None = None, rng=None):
    deterministic = nn.merge_param('deterministic', self.deterministic, deterministic)
    if self.rate == 0.0 or deterministic:
      return inputs
    if self.rate == 1.0:  # zeros, not 0 / 0 in the gradient
      return jnp.zeros_like(inputs)
    keep_prob = 1.0 - self.rate
    if rng is None:
      rng = self.make_rng(self.rng_collection)
    mask_shape = list(inputs.shape)
    for dim in self.broadcast_dims:  # may count from the end
      mask_shape[dim] = 1
    kept = jnp.broadcast_to(threefry.bernoulli(rng, keep_prob, mask_shape), inputs.shape)
    return jax.lax.select(kept, inputs / keep_prob, jnp.zeros_like(inputs))


class PatchConv(nn.Module):
  """A stride-1 convolution as im2col (k*k shifted slices) and one matmul.

  Same parameters (names, shapes, initialisation) as `nn.Conv`, so the two are
  interchangeable in a checkpoint. XLA:CPU runs LeNet's small convolutions
  faster this way (one large matmul; see launch/benchmark.py); a convolution
  whose output is 1x1 (LeNet's C5) becomes exactly a dense layer.
  """

  features: int
  kernel_size: tuple
  padding: str = 'VALID'
  use_bias: bool = True
  kernel_init: Any = nn.initializers.lecun_normal()
  dtype: Any = None

  @nn.compact
  def __call__(self, x_BxHxWxC):
    kh, kw = self.kernel_size
    cin = x_BxHxWxC.shape[-1]
    kernel = self.param('kernel', self.kernel_init, (kh, kw, cin, self.features))
    x = x_BxHxWxC
    if self.dtype is not None:
      x, kernel = x.astype(self.dtype), kernel.astype(self.dtype)
    if self.padding == 'SAME':
      x = jnp.pad(x, ((0, 0), ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0)))
    elif self.padding != 'VALID':
      raise ValueError(f"padding={self.padding!r}; use 'VALID' or 'SAME'.")
    b, h, w, _ = x.shape
    ho, wo = h - kh + 1, w - kw + 1
    # Columns ordered (i, j, c), matching kernel.reshape(kh * kw * cin, features).
    cols = jnp.stack([x[:, i:i + ho, j:j + wo, :] for i in range(kh) for j in range(kw)], axis=3)
    cols = cols.reshape(b, ho, wo, kh * kw * cin)
    y = cols @ kernel.reshape(kh * kw * cin, self.features)
    if self.use_bias:
      y = y + self.param('bias', nn.initializers.zeros_init(), (self.features,)).astype(y.dtype)
    return y


class OnednnConv(nn.Module):
  """`nn.Conv` (NHWC, no dilation, one group) computed by oneDNN on the CPU
  and by XLA elsewhere (research/kernels/onednn.py). Same parameters (names,
  shapes, initialisation) as `nn.Conv`, so checkpoints are interchangeable."""

  features: int
  kernel_size: tuple
  strides: tuple = (1, 1)
  padding: Any = 'VALID'
  use_bias: bool = True
  kernel_init: Any = nn.initializers.lecun_normal()
  bias_init: Any = nn.initializers.zeros_init()
  dtype: Any = None

  @nn.compact
  def __call__(self, x_BxHxWxC):
    kh, kw = self.kernel_size
    kernel = self.param('kernel', self.kernel_init, (kh, kw, x_BxHxWxC.shape[-1], self.features))
    dtype = self.dtype or jnp.result_type(x_BxHxWxC, jnp.float32)
    y = onednn.conv2d(x_BxHxWxC.astype(dtype), kernel.astype(dtype), self.strides, self.padding)
    if self.use_bias:
      y = y + self.param('bias', self.bias_init, (self.features,)).astype(dtype)
    return y


CONV_IMPLS = ('xla', 'patches', 'onednn')


def conv(impl: str, features: int, kernel_size: tuple, name: str, padding='VALID',
         strides: tuple = (1, 1), **kwargs):
  """A convolution layer with `nn.Conv`'s parameters, computed by `impl`:
  'xla' (nn.Conv), 'patches' (PatchConv: im2col + one matmul; stride 1) or
  'onednn' (OnednnConv: oneDNN on the CPU, XLA elsewhere).
  kwargs: use_bias, kernel_init, dtype."""
  strides = tuple(strides)
  if impl == 'xla':
    return nn.Conv(features, kernel_size, strides=strides, padding=padding, name=name, **kwargs)
  if impl == 'patches':
    if strides != (1, 1):
      raise ValueError(f"conv_impl='patches' computes stride-1 convolutions only; got {strides}.")
    return PatchConv(features, tuple(kernel_size), padding=padding, name=name, **kwargs)
  if impl == 'onednn':
    return OnednnConv(features, tuple(kernel_size), strides=strides, padding=padding, name=name,
                      **kwargs)
  raise ValueError(f'conv_impl={impl!r}; use one of {CONV_IMPLS}.')


class OnednnBatchNorm(nn.Module):
  """Flax's `nn.BatchNorm` over the channels of an NHWC activation (the same
  parameters, statistics and running averages), then a ReLU where `relu`;
  in training its batch statistics, normalisation and gradient are one oneDNN
  call each on the CPU (research/kernels/onednn.py), XLA elsewhere. With the
  running averages it is XLA's arithmetic, as Flax's."""

  use_running_average: bool
  momentum: float = 0.99
  epsilon: float = 1e-5
  dtype: Any = None
  relu: bool = False
  scale_init: Any = nn.initializers.ones
  bias_init: Any = nn.initializers.zeros

  @nn.compact
  def __call__(self, x_BxHxWxC):
    channels = (x_BxHxWxC.shape[-1],)
    ra_mean = self.variable('batch_stats', 'mean', jnp.zeros, channels, jnp.float32)
    ra_var = self.variable('batch_stats', 'var', jnp.ones, channels, jnp.float32)
    scale = self.param('scale', self.scale_init, channels, jnp.float32)
    bias = self.param('bias', self.bias_init, channels, jnp.float32)
    dtype = self.dtype or jnp.result_type(x_BxHxWxC, jnp.float32)
    x = x_BxHxWxC.astype(dtype)
    if self.use_running_average:
      # Flax's _normalize: (x - mean) * (scale / sqrt(var + eps)) + bias, in float32.
      mul = jax.lax.rsqrt(ra_var.value + self.epsilon) * scale
      y = ((x.astype(jnp.float32) - ra_mean.value) * mul + bias).astype(dtype)
      return nn.relu(y) if self.relu else y
    y, mean, var = onednn.batch_norm(x, scale, bias, self.epsilon, self.relu)
    if not self.is_initializing():
      ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
      ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * var
    return y


def batch_norm(impl: str, name: str, *, train: bool, relu: bool = False, momentum: float = 0.9,
               epsilon: float = 1e-5, dtype=None, scale_init=nn.initializers.ones):
  """BatchNorm after a convolution layer computed by `impl` (`conv`'s names),
  then a ReLU where `relu`: oneDNN's batch norm with conv_impl 'onednn',
  Flax's `nn.BatchNorm` otherwise; the same parameters and statistics."""
  if impl == 'onednn':
    return OnednnBatchNorm(use_running_average=not train, momentum=momentum, epsilon=epsilon,
                           dtype=dtype, relu=relu, scale_init=scale_init, name=name)
  if impl not in CONV_IMPLS:
    raise ValueError(f'conv_impl={impl!r}; use one of {CONV_IMPLS}.')
  bn = nn.BatchNorm(use_running_average=not train, momentum=momentum, epsilon=epsilon,
                    dtype=dtype, scale_init=scale_init, name=name)
  return (lambda x: nn.relu(bn(x))) if relu else bn


@jax.custom_vjp
def _max_2x2(x_BxHx2xWx2xC):
  return x_BxHx2xWx2xC.max(axis=(2, 4))


def _max_2x2_fwd(x):
  y = _max_2x2(x)
  return y, (x, y)


def _max_2x2_bwd(residuals, dy_BxHxWxC):
  # The whole gradient to the first maximum of each window in row-major order
  # (PyTorch's and cuDNN's rule), one elementwise pass. Autodiff of `max`
  # splits it evenly among tied maxima instead, with a second pass to count
  # them: the same wherever a window has one maximum, and where the tie is
  # ReLU's zeros, whose gradient the ReLU below stops either way.
  x, y = residuals
  is_max = x == y[:, :, None, :, None, :]
  m00 = is_max[:, :, 0, :, 0]
  m01 = is_max[:, :, 0, :, 1] & ~m00
  m10 = is_max[:, :, 1, :, 0] & ~(m00 | m01)
  m11 = ~(m00 | m01 | m10)
  zero = jnp.zeros_like(dy_BxHxWxC)
  row0 = jnp.stack([jnp.where(m00, dy_BxHxWxC, zero), jnp.where(m01, dy_BxHxWxC, zero)], axis=3)
  row1 = jnp.stack([jnp.where(m10, dy_BxHxWxC, zero), jnp.where(m11, dy_BxHxWxC, zero)], axis=3)
  return (jnp.stack([row0, row1], axis=2),)


_max_2x2.defvjp(_max_2x2_fwd, _max_2x2_bwd)


def pool_2x2(x_BxHxWxC, kind: str):
  """Non-overlapping 2x2 average or max pooling as a reshape + reduction
  (cheaper on CPU than a general reduce_window and its gradient)."""
  b, h, w, c = x_BxHxWxC.shape
  x = x_BxHxWxC[:, :h - h % 2, :w - w % 2].reshape(b, h // 2, 2, w // 2, 2, c)
  if kind == 'avg':
    return x.mean(axis=(2, 4))
  if kind == 'max':
    return _max_2x2(x)
  raise ValueError(f"pooling={kind!r}; use 'avg' or 'max'.")
