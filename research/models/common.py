"""Small pieces shared by the model files."""

import flax.linen as nn

ACTIVATIONS = {
    'relu': nn.relu,
    'tanh': nn.tanh,
    'sigmoid': nn.sigmoid,
    'gelu': nn.gelu,
    # LeCun 1998, Appendix A: f(a) = A tanh(S a) with A = 1.7159, S = 2/3.
    'lecun_tanh': lambda x: 1.7159 * nn.tanh(2.0 / 3.0 * x),
}


def flatten(x):
  return x.reshape((x.shape[0], -1))
