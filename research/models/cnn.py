"""A modern small CNN for 28-32 px images.

Not one paper's network but the common recipe that grew out of them: stacks
of 3x3 convolutions (Simonyan & Zisserman 2015) with batch normalization
(Ioffe & Szegedy 2015) and ReLU, 2x2 max pooling, dropout (Srivastava et al.
2014) after each block and in the dense head. With the defaults on 28x28x1:

  [conv 32 -> conv 32 -> pool] -> [conv 64 -> conv 64 -> pool] (7x7x64)
  -> dense 256 -> out.
"""

import flax.linen as nn
import jax.numpy as jnp

from research.models.common import (DTYPES, HE_INIT, Dropout, batch_norm, check_dtype, conv,
                                    flatten, pool_2x2)



class SmallCNN(nn.Module):
  num_classes: int
  block_channels: tuple = (32, 64)
  convs_per_block: int = 2
  conv_dropout_rate: float = 0.25
  dense_sizes: tuple = (256,)
  dense_dropout_rate: float = 0.5
  dtype: str = 'float32'  # Computation dtype; params stay float32.
  conv_impl: str = 'xla'  # 'patches': im2col + matmul, same math, faster on CPU

  def __post_init__(self):
    check_dtype(self.dtype)
    super().__post_init__()

  @nn.compact
  def __call__(self, x_BxHxWxC, *, train: bool = False):
    dt = DTYPES[self.dtype]
    x = x_BxHxWxC.astype(dt)
    for b, channels in enumerate(self.block_channels):
      for c in range(self.convs_per_block):
        # No conv bias: the BatchNorm shift that follows makes it redundant.
        x = conv(self.conv_impl, channels, (3, 3), f'block{b}_conv{c}', padding='SAME',
                 use_bias=False, kernel_init=HE_INIT, dtype=dt)(x)
        # BatchNorm + ReLU: one oneDNN call each way with conv_impl 'onednn'.
        x = batch_norm(self.conv_impl, f'block{b}_bn{c}', train=train, relu=True, momentum=0.9,
                       epsilon=1e-5, dtype=dt)(x)
      x = pool_2x2(x, 'max')  # reshape + max: a cheaper gradient on CPU than reduce_window
      x = Dropout(self.conv_dropout_rate, deterministic=not train)(x)
    h = flatten(x)
    for i, width in enumerate(self.dense_sizes):
      h = nn.relu(nn.Dense(width, dtype=dt, name=f'dense{i}')(h))
      h = Dropout(self.dense_dropout_rate, deterministic=not train)(h)
    logits_BxK = nn.Dense(self.num_classes, dtype=dt, name='out')(h)
    return logits_BxK.astype(jnp.float32)
