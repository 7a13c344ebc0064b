"""The perceptron / softmax regression: one affine map from pixels to class scores."""

import flax.linen as nn

from research.models.common import flatten


class Linear(nn.Module):
  """logits = W x + b. With the perceptron criterion this is Rosenblatt's
  multiclass perceptron; with softmax cross-entropy, multinomial logistic
  regression. Either way the decision boundaries are hyperplanes."""

  num_classes: int

  @nn.compact
  def __call__(self, x, *, train: bool = False):
    del train  # No dropout or batch statistics.
    return nn.Dense(self.num_classes, name='out')(flatten(x))
