"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998, Fig. 2).

32x32 input -> C1 conv 6@5x5 (28x28) -> S2 pool (14x14) -> C3 conv 16@5x5
(10x10) -> S4 pool (5x5) -> C5 conv 120@5x5 (1x1) -> F6 dense 84 -> 10 outputs.

Departures from the paper, each a config switch where it matters:
- C3 connects to all 6 S2 maps (the paper's Table I wires each C3 map to a
  subset of them, 1,516 instead of 2,416 weights); with full C3 the network has
  61,706 parameters, the figure usually quoted for LeNet-5.
- S2/S4 are plain average or max pooling (`pooling`); the paper's subsampling
  layers also had a trainable coefficient and bias per map.
- The output layer is a dense layer (logits for softmax cross-entropy), not the
  paper's Euclidean RBF units.
"""

import flax.linen as nn

from research.models.common import ACTIVATIONS, Dropout, conv, flatten, pool_2x2


class LeNet5(nn.Module):
  num_classes: int = 10
  activation: str = 'tanh'
  pooling: str = 'avg'  # 'avg' (the paper's subsampling) or 'max'.
  dropout_rate: float = 0.0
  # 'patches' computes each convolution as one matmul over image patches:
  # same parameters and results, faster on CPU (launch/benchmark.py).
  conv_impl: str = 'xla'

  @nn.compact
  def __call__(self, x_BxHxWxC, *, train: bool = False):
    if x_BxHxWxC.shape[1:3] != (32, 32):
      raise ValueError(
          f'LeNet-5 expects 32x32 inputs (got {x_BxHxWxC.shape[1:3]}); set '
          'preprocess.image_size=32 or preprocess.pad to reach 32x32.')
    act = ACTIVATIONS[self.activation]
    x = act(conv(self.conv_impl, 6, (5, 5), 'C1')(x_BxHxWxC))  # 28x28
    x = pool_2x2(x, self.pooling)  # S2: 14x14
    x = act(conv(self.conv_impl, 16, (5, 5), 'C3')(x))  # 10x10
    x = pool_2x2(x, self.pooling)  # S4: 5x5
    x = act(conv(self.conv_impl, 120, (5, 5), 'C5')(x))  # 1x1
    x = flatten(x)
    x = act(nn.Dense(84, name='F6')(x))
    x = Dropout(self.dropout_rate, deterministic=not train)(x)
    return nn.Dense(self.num_classes, name='out')(x)
