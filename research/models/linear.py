"""The perceptron / softmax regression: one affine map from pixels to class scores."""

import flax.linen as nn

from research.models.common import flatten, layer_init


class Linear(nn.Module):
  """logits = W x + b. With the perceptron criterion this is Rosenblatt's
  multiclass perceptron; with softmax cross-entropy, multinomial logistic
  regression. Either way the decision boundaries are hyperplanes."""

  num_classes: int
  param_init: str = 'flax'    # or 'torch': PyTorch's default init (common.INITS)

  @nn.compact
  def __call__(self, x, *, train: bool = False):
    del train  # No dropout or batch statistics.
    x = flatten(x)
    return nn.Dense(self.num_classes, name='out',
                    **layer_init(self.param_init, x.shape[-1]))(x)
