"""Text classifiers over rows of word ids (id 0 = padding): Kim (2014)'s
TextCNN, a bag-of-words linear model and a recurrent classifier.

Every model takes `ids_BxL` (int, or float holding ints: the task initialises
models with zeros of the input's shape) and returns class logits BxK.
"""

from __future__ import annotations

import functools
from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from research.models.common import ACTIVATIONS, Dropout
from research.models.rnn import CELLS

PAD_ID = 0


def _ids(x) -> jnp.ndarray:
  return x.astype(jnp.int32)


class TextCNN(nn.Module):
  """Kim 2014, "Convolutional Neural Networks for Sentence Classification".

  Words -> k-dim vectors (the 'embed' table; pre-trained word2vec vectors for
  CNN-static / non-static) -> for each window size h, `num_filters` filters
  c_i = f(w . x_{i:i+h-1} + b) (eq. 2) -> max-over-time pooling c^ = max c
  (eq. 3: one feature per filter, whatever the sentence length) -> dropout ->
  softmax layer ('out', whose weight vectors the optimizer keeps within an L2
  ball: optimizer.max_norm). A key phrase counts wherever it occurs: the
  filters are shared across positions and the max ignores where it fired.

  Padding: the padding id's vector is zero (as in Kim's code), and the sentence
  gets max(window_sizes) - 1 zero vectors on each side, so every word sits in
  every position of every window (Kim pads the same way).
  """

  num_classes: int
  vocab_size: int
  embed_dim: int = 300
  window_sizes: Sequence[int] = (3, 4, 5)
  num_filters: int = 100
  activation: str = 'relu'
  dropout_rate: float = 0.5

  @nn.compact
  def __call__(self, x_BxL, *, train: bool = False):
    feature_maps = self.feature_maps(x_BxL)
    # Max-over-time pooling (eq. 3): one number per filter.
    pooled_BxF = jnp.concatenate([m.max(axis=1) for m in feature_maps], axis=-1)
    h = Dropout(self.dropout_rate, deterministic=not train)(pooled_BxF)
    return nn.Dense(self.num_classes, name='out')(h)

  @nn.compact
  def feature_maps(self, x_BxL) -> list[jnp.ndarray]:
    """c for every window size: a list of B x positions x num_filters arrays
    (position i covers padded tokens i .. i+h-1)."""
    ids = _ids(x_BxL)
    emb_BxLxD = nn.Embed(self.vocab_size, self.embed_dim, name='embed')(ids)
    emb_BxLxD = emb_BxLxD * (ids != PAD_ID)[..., None]
    pad = max(self.window_sizes) - 1
    emb_BxLxD = jnp.pad(emb_BxLxD, ((0, 0), (pad, pad), (0, 0)))
    act = ACTIVATIONS[self.activation]
    return [act(nn.Conv(self.num_filters, (h,), padding='VALID', name=f'conv_{h}')(emb_BxLxD))
            for h in self.window_sizes]


class BagOfWords(nn.Module):
  """Multinomial logistic regression on word counts: logits = W n + b, n the
  vector of the text's word counts (padding excluded). Written as a sum of
  per-word rows of W ('embed', V x K) so no V-wide count vector is built."""

  num_classes: int
  vocab_size: int

  @nn.compact
  def __call__(self, x_BxL, *, train: bool = False):
    del train
    ids = _ids(x_BxL)
    scores_BxLxK = nn.Embed(self.vocab_size, self.num_classes, name='embed',
                            embedding_init=nn.initializers.zeros_init())(ids)
    counts_BxK = jnp.sum(scores_BxLxK * (ids != PAD_ID)[..., None], axis=1)
    bias_K = self.param('bias', nn.initializers.zeros_init(), (self.num_classes,))
    return counts_BxK + bias_K


class RNNTextClassifier(nn.Module):
  """Embed -> a recurrent cell (research/models/rnn.py: 'lstm', 'gru', 'rnn')
  over the words -> the hidden state after the last real word (padding is at
  the end and skipped) -> dropout -> dense layer."""

  num_classes: int
  vocab_size: int
  embed_dim: int = 300
  hidden_size: int = 150
  cell: str = 'lstm'
  dropout_rate: float = 0.5
  dtype: str = 'float32'

  @nn.compact
  def __call__(self, x_BxL, *, train: bool = False):
    ids = _ids(x_BxL)
    batch = ids.shape[0]
    emb_BxLxD = nn.Embed(self.vocab_size, self.embed_dim, name='embed')(ids)
    emb_BxLxD = Dropout(self.dropout_rate, deterministic=not train)(emb_BxLxD)
    cell = functools.partial(CELLS[self.cell], hidden_size=self.hidden_size, dtype=self.dtype)
    rnn = cell(name='rnn')
    _, h_BxLxH = rnn.sequence(rnn.initial_carry(batch), emb_BxLxD)
    # The state after each row's last real word (an empty row: the first step).
    last_B = jnp.maximum(jnp.sum(ids != PAD_ID, axis=1) - 1, 0)
    h_BxH = jnp.take_along_axis(h_BxLxH, last_B[:, None, None], axis=1)[:, 0]
    h_BxH = Dropout(self.dropout_rate, deterministic=not train)(h_BxH)
    return nn.Dense(self.num_classes, name='out')(h_BxH)
