"""AlexNet (Krizhevsky, Sutskever & Hinton 2012, "ImageNet Classification with
Deep Convolutional Neural Networks", Fig. 2), single-tower.

`variant='imagenet'` (224 px) is the widely used one-GPU layout (torchvision's,
after Krizhevsky 2014, "One weird trick"): conv 64 11x11/4 -> pool -> conv 192
5x5 -> pool -> conv 384 3x3 -> conv 256 3x3 -> conv 256 3x3 -> pool (6x6x256)
-> dropout -> FC 4096 -> dropout -> FC 4096 -> out; 61,100,840 parameters.
The paper's two-tower version has 96/256/384/384/256 kernels split over two
GPUs, and about 60M parameters.

`variant='small'` (28-32 px) keeps the five-conv/three-FC shape with 3x3 SAME
convs and 2x2/2 pools (28 -> 14 -> 7 -> 3, 32 -> 16 -> 8 -> 4), and
`dense_width` sets both hidden FC widths.

Departures: overlapping 3x3/2 pooling (§3.4) only in the ImageNet variant;
local response normalization (§3.3) is off unless `lrn=True`; convs use He
init rather than the paper's N(0, 0.01) with unit biases (§5), which needed
hand-tuned learning rates to get started.
"""

import flax.linen as nn
import jax.numpy as jnp

from research.models.common import DTYPES, HE_INIT, Dropout, check_dtype, flatten


# (features, kernel, stride, padding) per conv layer.
_CONVS = {
    'imagenet': ((64, 11, 4, 2), (192, 5, 1, 2), (384, 3, 1, 1), (256, 3, 1, 1),
                 (256, 3, 1, 1)),
    'small': ((64, 3, 1, 1), (192, 3, 1, 1), (384, 3, 1, 1), (256, 3, 1, 1),
              (256, 3, 1, 1)),
}
# (window, stride) of the max pools after conv1, conv2 and conv5.
_POOL = {'imagenet': (3, 2), 'small': (2, 2)}


def local_response_norm(x_BxHxWxC, *, k=2.0, n=5, alpha=1e-4, beta=0.75):
  """§3.3: b_i = a_i / (k + alpha * sum_{j=i-n/2}^{i+n/2} a_j^2)^beta over the
  n adjacent channels (clipped at the ends). Note alpha is not divided by n,
  unlike torch's LocalResponseNorm."""
  x = x_BxHxWxC.astype(jnp.float32)  # Squares and powers lose a lot in bf16.
  channels = x.shape[-1]
  sq = jnp.pad(jnp.square(x), ((0, 0),) * 3 + ((n // 2, n // 2),))
  window_sum = sum(sq[..., i:i + channels] for i in range(n))
  return (x / (k + alpha * window_sum) ** beta).astype(x_BxHxWxC.dtype)


class AlexNet(nn.Module):
  num_classes: int
  variant: str = 'imagenet'  # 'imagenet' (224 px) or 'small' (28-32 px).
  dense_width: int = 4096
  dropout_rate: float = 0.5
  lrn: bool = False
  dtype: str = 'float32'  # Computation dtype; params stay float32.

  def __post_init__(self):
    if self.variant not in _CONVS:
      raise ValueError(f"variant must be 'imagenet' or 'small', got {self.variant!r}.")
    check_dtype(self.dtype)
    super().__post_init__()

  @nn.compact
  def __call__(self, x_BxHxWxC, *, train: bool = False):
    dt = DTYPES[self.dtype]
    window, stride = _POOL[self.variant]
    x = x_BxHxWxC.astype(dt)
    for i, (features, kernel, strides, pad) in enumerate(_CONVS[self.variant]):
      x = nn.Conv(features, (kernel, kernel), strides=(strides, strides),
                  padding=((pad, pad), (pad, pad)), kernel_init=HE_INIT,
                  dtype=dt, name=f'conv{i + 1}')(x)
      x = nn.relu(x)
      # §3.3: "Response-normalization layers follow the first and second
      # convolutional layers"; max pools follow them and the fifth (§3.5).
      if self.lrn and i < 2:
        x = local_response_norm(x)
      if i in (0, 1, 4):
        if min(x.shape[1:3]) < window:
          raise ValueError(
              f'AlexNet variant={self.variant!r}: input {x_BxHxWxC.shape[1:3]} is '
              f'too small (a {x.shape[1:3]} map before pool {window}x{window}); '
              "use variant='small' for 28-32 px images.")
        x = nn.max_pool(x, (window, window), strides=(stride, stride))
    x = flatten(x)
    # §4.2: dropout on the first two fully-connected layers.
    for i in range(2):
      x = Dropout(self.dropout_rate, deterministic=not train)(x)
      x = nn.relu(nn.Dense(self.dense_width, dtype=dt, name=f'fc{i + 1}')(x))
    logits_BxK = nn.Dense(self.num_classes, dtype=dt, name='out')(x)
    return logits_BxK.astype(jnp.float32)
