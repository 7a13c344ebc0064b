"""Hinton & Salakhutdinov (2006)'s deep autoencoder, and a classifier that
reuses its encoder.

Encoder: input -> sizes[0] -> ... -> sizes[-1] (the code), logistic hidden
units and a linear code layer; decoder: the mirror image, sizes reversed, back
to the input with logistic output units (here: logits; pixels in [0, 1] are
the targets of a cross-entropy). Layer names are `encoder_k` / `decoder_k`, so
the encoder's parameters can seed an `EncoderClassifier` (same names), and
encoder layer k and decoder layer L-1-k form the shallow autoencoder that
greedy layer-wise pre-training trains first (research/tasks/autoencoder.py).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from research.models.common import ACTIVATIONS, flatten


class DeepAutoencoder(nn.Module):
  """x_BxD -> (reconstruction logits BxD, code BxC). `input_dim` comes from
  the data (784 for 28x28 images)."""

  input_dim: int
  sizes: Sequence[int] = (1000, 500, 250, 30)
  activation: str = 'sigmoid'

  def setup(self):
    widths = [self.input_dim, *self.sizes]
    self.encoders = [nn.Dense(w, name=f'encoder_{k}') for k, w in enumerate(widths[1:])]
    # decoder_k maps widths[L-k] -> widths[L-1-k]: the mirror of encoder L-1-k.
    self.decoders = [nn.Dense(w, name=f'decoder_{k}') for k, w in enumerate(widths[-2::-1])]

  @property
  def num_layers(self) -> int:
    return len(self.sizes)

  def encode_layer(self, k: int, h):
    """Encoder layer k: logistic, except the last (the linear code)."""
    a = self.encoders[k](h)
    return a if k == self.num_layers - 1 else ACTIVATIONS[self.activation](a)

  def decode_layer_logits(self, k: int, h):
    """Decoder layer k's pre-activation (its output unit is logistic)."""
    return self.decoders[k](h)

  def encode(self, x):
    h = flatten(x)
    for k in range(self.num_layers):
      h = self.encode_layer(k, h)
    return h

  def decode_logits(self, code):
    h = code
    for k in range(self.num_layers):
      a = self.decode_layer_logits(k, h)
      h = a if k == self.num_layers - 1 else ACTIVATIONS[self.activation](a)
    return h

  def __call__(self, x, *, train: bool = False):
    del train
    code = self.encode(x)
    return self.decode_logits(code), code


class EncoderClassifier(nn.Module):
  """The autoencoder's encoder (same layer names and activations) followed by
  a softmax layer 'out': the network Hinton & Salakhutdinov fine-tune for
  classification after pre-training. Its encoder can be initialised from an
  autoencoder workdir (config.init_from)."""

  num_classes: int
  sizes: Sequence[int] = (1000, 500, 250, 30)
  activation: str = 'sigmoid'

  @nn.compact
  def __call__(self, x, *, train: bool = False):
    del train
    h = flatten(x)
    for k, w in enumerate(self.sizes):
      h = nn.Dense(w, name=f'encoder_{k}')(h)
      if k < len(self.sizes) - 1:
        h = ACTIVATIONS[self.activation](h)
    return nn.Dense(self.num_classes, name='out')(h)


def code_of(model: DeepAutoencoder, params, x) -> jnp.ndarray:
  return model.apply({'params': params}, x, method=DeepAutoencoder.encode)
