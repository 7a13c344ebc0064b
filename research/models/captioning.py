"""Show and Tell (Vinyals, Toshev, Bengio & Erhan 2015, "Show and Tell: A
Neural Image Caption Generator", CVPR): an image vector from a CNN starts an
LSTM that then reads and predicts the caption's words.

Section 3.1 of the paper, with I the image and S_0 .. S_N its words (S_0 the
start word, S_N the stop word):
    x_{-1} = W_I CNN(I)              (eq. 10; the image is seen once, at t = -1)
    x_t    = W_e S_t,  t = 0 .. N-1  (eq. 11; words as one-hot vectors times W_e)
    p_{t+1} = LSTM(x_t)              (eq. 12; a softmax over the vocabulary)
and the loss is the negative log likelihood of the correct word at each step
(eq. 13). The CNN is not part of this module: it takes CNN(I) as a vector
(`features_BxF`), so a frozen encoder's features can be computed once and
cached, and a fine-tuned encoder composes with it (research/tasks/captioning.py).
Dropout on the embeddings and the LSTM output (the paper's section 4.3.1:
"dropout and ensembling gave a few BLEU points").
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from research.models.common import Dropout
from research.models.rnn import LSTMCell


class ShowAndTell(nn.Module):
  vocab_size: int
  embed_size: int = 512
  hidden_size: int = 512
  dropout_rate: float = 0.5
  dtype: str = 'float32'

  def setup(self):
    self.image_embed = nn.Dense(self.embed_size, name='image_embed')  # W_I, eq. 10
    self.word_embed = nn.Embed(self.vocab_size, self.embed_size, name='word_embed')  # W_e
    self.lstm = LSTMCell(self.hidden_size, dtype=self.dtype, name='lstm')
    self.dropout = Dropout(self.dropout_rate)
    self.to_logits = nn.Dense(self.vocab_size, name='logits')

  def start(self, features_BxF: jax.Array, *, train: bool = False) -> tuple:
    """The LSTM's state after it has seen the image (t = -1, eq. 10)."""
    x_BxE = self.dropout(self.image_embed(features_BxF), deterministic=not train)
    carry, _ = self.lstm(self.lstm.initial_carry(features_BxF.shape[0]), x_BxE)
    return carry

  def step(self, carry: tuple, tokens_B: jax.Array, *,
           train: bool = False) -> tuple[tuple, jax.Array]:
    """One word in, the next word's logits out (eqs. 11-12): decoding."""
    x_BxE = self.dropout(self.word_embed(tokens_B), deterministic=not train)
    carry, h_BxH = self.lstm(carry, x_BxE)
    return carry, self.to_logits(self.dropout(h_BxH, deterministic=not train))

  def __call__(self, features_BxF: jax.Array, tokens_BxT: jax.Array, *,
               train: bool = False) -> jax.Array:
    """Teacher forcing: inputs S_0 .. S_{T-1} -> logits_BxTxV of S_1 .. S_T."""
    carry = self.start(features_BxF, train=train)
    x_BxTxE = self.dropout(self.word_embed(tokens_BxT), deterministic=not train)
    _, h_BxTxH = self.lstm.sequence(carry, x_BxTxE)
    return self.to_logits(self.dropout(h_BxTxH, deterministic=not train)).astype(jnp.float32)
