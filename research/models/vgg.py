"""VGG networks (Simonyan & Zisserman 2015, "Very Deep Convolutional Networks
for Large-Scale Image Recognition", Table 1).

Configurations A/B/D/E = VGG-11/13/16/19: five stages of 3x3 stride-1 convs
(padding 1) with 64/128/256/512/512 channels, each followed by 2x2/2 max
pooling, then the classifier.

- `classifier='imagenet'`: flatten (7x7x512 at 224 px) -> FC 4096 -> FC 4096
  -> out, with dropout 0.5 on the first two FC layers (§3.1).
  VGG-16 without BatchNorm has 138,357,544 parameters (Table 2: 138M).
- `classifier='small'`: global average pool -> out, for 28-32 px inputs.

Departures, each a switch: `batch_norm=True` (Ioffe & Szegedy 2015, after
the paper) puts BatchNorm between each conv and its ReLU and then drops the
conv bias, which BN's shift makes redundant; `width_multiplier` scales the
conv channels (not the 4096-wide FC layers) for small CPU runs.
"""

import flax.linen as nn
import jax.numpy as jnp

from research.models.common import DTYPES, HE_INIT, Dropout, check_dtype, flatten

# He et al. 2015 init; the paper pre-trained A to initialise deeper nets and
# later noted Glorot init works without pre-training (§3.1).

# Table 1: convs per stage for configurations A, B, D, E.
_CONVS_PER_STAGE = {
    11: (1, 1, 2, 2, 2),
    13: (2, 2, 2, 2, 2),
    16: (2, 2, 3, 3, 3),
    19: (2, 2, 4, 4, 4),
}
_STAGE_CHANNELS = (64, 128, 256, 512, 512)


class VGG(nn.Module):
  num_classes: int
  depth: int = 16  # 11, 13, 16, 19 = configurations A, B, D, E.
  batch_norm: bool = True
  width_multiplier: float = 1.0
  classifier: str = 'imagenet'  # 'imagenet' or 'small'.
  dropout_rate: float = 0.5
  dtype: str = 'float32'  # Computation dtype; params stay float32.

  def __post_init__(self):
    if self.depth not in _CONVS_PER_STAGE:
      raise ValueError(
          f'VGG depth must be one of {sorted(_CONVS_PER_STAGE)}; got {self.depth}.')
    if self.classifier not in ('imagenet', 'small'):
      raise ValueError(
          f"classifier must be 'imagenet' or 'small', got {self.classifier!r}.")
    if self.width_multiplier <= 0:
      raise ValueError(f'width_multiplier must be > 0, got {self.width_multiplier}.')
    check_dtype(self.dtype)
    super().__post_init__()

  @nn.compact
  def __call__(self, x_BxHxWxC, *, train: bool = False):
    dt = DTYPES[self.dtype]
    x = x_BxHxWxC.astype(dt)
    for s, num_convs in enumerate(_CONVS_PER_STAGE[self.depth]):
      channels = max(1, int(round(_STAGE_CHANNELS[s] * self.width_multiplier)))
      for c in range(num_convs):
        x = nn.Conv(channels, (3, 3), padding=((1, 1), (1, 1)),
                    use_bias=not self.batch_norm, kernel_init=HE_INIT,
                    dtype=dt, name=f'stage{s + 1}_conv{c + 1}')(x)
        if self.batch_norm:
          x = nn.BatchNorm(use_running_average=not train, momentum=0.9,
                           epsilon=1e-5, dtype=dt, name=f'stage{s + 1}_bn{c + 1}')(x)
        x = nn.relu(x)
      # Five 2x2 pools take 224 px to 7; on 28 px the fifth would leave
      # nothing (28 -> 14 -> 7 -> 3 -> 1), so a map of size 1 is not pooled.
      if min(x.shape[1:3]) >= 2:
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
    if self.classifier == 'small':
      x = jnp.mean(x, axis=(1, 2))
    else:
      x = flatten(x)
      for i in range(2):
        x = nn.relu(nn.Dense(4096, dtype=dt, name=f'fc{i + 1}')(x))
        x = Dropout(self.dropout_rate, deterministic=not train)(x)
    logits_BxK = nn.Dense(self.num_classes, dtype=dt, name='out')(x)
    return logits_BxK.astype(jnp.float32)
