"""Isolated-word recognisers over a waveform: the log-mel features
(research/audio.py) are their first layer, computed on the device.

`FrameStackMLP`: the 2012 "DNN" acoustic model idea (Hinton et al. 2012,
"Deep Neural Networks for Acoustic Modeling in Speech Recognition", section
III: a feed-forward net on a window of 11 stacked frames of filterbank
features): every frame, with its `context` neighbours on each side, goes
through the same MLP to word scores; the utterance's scores are their mean
over its speech frames. With no HMM, the frame scores are words, not states.

`SpeechCNN`: 3x3 convolutions with 2x2 max pooling between them over the
log-mel spectrogram, time x frequency (Abdel-Hamid et al. 2014; Sainath &
Parada 2015 for keywords), global average pooling, a dense layer to the words.

Both normalise each utterance's features over its speech frames (cepstral
mean and variance normalisation), which removes a channel's or a voice's
fixed colouring: the models train on synthetic voices and are tested on a
real one.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from research import audio


class _Features(nn.Module):
  """Waveform B x N (int16 or float) -> (normalised log-mel B x T x M, speech mask B x T)."""
  sample_rate: int
  num_mel: int

  def __call__(self, waveform_BxN):
    config = audio.FeatureConfig(sample_rate=self.sample_rate, num_mel=self.num_mel)
    x = waveform_BxN.astype(jnp.float32)
    mask_BxT = audio.frame_energy_mask(x, config)
    return audio.normalise(audio.log_mel(x, config), mask_BxT), mask_BxT


class FrameStackMLP(nn.Module):
  num_classes: int
  sample_rate: int = 8000
  num_mel: int = 40
  context: int = 5            # frames each side: 11 stacked, as Hinton et al. 2012
  hidden: tuple[int, ...] = (512, 512)
  dropout_rate: float = 0.2

  @nn.compact
  def __call__(self, waveform_BxN, *, train: bool = False):
    feats_BxTxM, mask_BxT = _Features(self.sample_rate, self.num_mel)(waveform_BxN)
    t = feats_BxTxM.shape[1]
    padded = jnp.pad(feats_BxTxM, ((0, 0), (self.context, self.context), (0, 0)))
    stacked_BxTxW = jnp.concatenate(
        [padded[:, k:k + t] for k in range(2 * self.context + 1)], axis=-1)
    x = stacked_BxTxW
    for width in self.hidden:
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(nn.relu(nn.Dense(width)(x)))
    frame_logits_BxTxC = nn.Dense(self.num_classes)(x)
    weights = mask_BxT[..., None] / jnp.maximum(jnp.sum(mask_BxT, 1)[:, None, None], 1.0)
    return jnp.sum(jax.nn.log_softmax(frame_logits_BxTxC) * weights, axis=1)


class SpeechCNN(nn.Module):
  num_classes: int
  sample_rate: int = 8000
  num_mel: int = 40
  widths: tuple[int, ...] = (16, 32, 64, 128)
  dense: int = 256
  dropout_rate: float = 0.3
  batch_norm: bool = True  # after each convolution (Ioffe & Szegedy 2015)

  @nn.compact
  def __call__(self, waveform_BxN, *, train: bool = False):
    feats_BxTxM, _ = _Features(self.sample_rate, self.num_mel)(waveform_BxN)
    x = feats_BxTxM[..., None]
    for i, width in enumerate(self.widths):
      if i:  # pool between convolutions: each layer sees twice the time and frequency
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
      x = nn.Conv(width, (3, 3), use_bias=not self.batch_norm)(x)
      if self.batch_norm:
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
      x = nn.relu(x)
    x = jnp.mean(x, axis=(1, 2))  # global average: any utterance length
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(nn.relu(nn.Dense(self.dense)(x)))
    return nn.Dense(self.num_classes)(x)
