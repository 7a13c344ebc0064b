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
from research.models.common import Dropout
from research.models.rnn import LSTMCell


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
      x = Dropout(self.dropout_rate, deterministic=not train)(nn.relu(nn.Dense(width)(x)))
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
    x = Dropout(self.dropout_rate, deterministic=not train)(nn.relu(nn.Dense(self.dense)(x)))
    return nn.Dense(self.num_classes)(x)


def reverse_within_length(x_BxTxD: jax.Array, length_B: jax.Array) -> jax.Array:
  """Each sequence's first length_b steps in reverse order, the padding after
  them left in place: what a backward RNN over padded sequences reads (and,
  applied again, puts its outputs back in time order)."""
  t = jnp.arange(x_BxTxD.shape[1])[None, :]
  index_BxT = jnp.where(t < length_B[:, None], length_B[:, None] - 1 - t, t)
  return jnp.take_along_axis(x_BxTxD, index_BxT[..., None], axis=1)


def spec_augment(feats_BxTxM: jax.Array, rng: jax.Array, *, freq_masks: int, freq_width: int,
                 time_masks: int, time_width: int) -> jax.Array:
  """SpecAugment's masks (Park et al. 2019, section 2, without time warping):
  `freq_masks` bands of 0..freq_width mel channels and `time_masks` spans of
  0..time_width frames set to 0, the normalised features' mean, per utterance."""
  b, t, m = feats_BxTxM.shape
  keep_BxTxM = jnp.ones((b, t, m), bool)
  for axis, size, masks, width in ((2, m, freq_masks, freq_width), (1, t, time_masks, time_width)):
    for _ in range(masks):
      rng, width_rng, start_rng = jax.random.split(rng, 3)
      w_B = jax.random.randint(width_rng, (b,), 0, width + 1)
      start_B = jax.random.randint(start_rng, (b,), 0, jnp.maximum(size - w_B, 0) + 1)
      pos = jnp.arange(size)[None, :]
      inside_BxS = (pos >= start_B[:, None]) & (pos < (start_B + w_B)[:, None])
      keep_BxTxM &= ~(inside_BxS[:, None, :] if axis == 2 else inside_BxS[:, :, None])
  return feats_BxTxM * keep_BxTxM


class CTCRecogniser(nn.Module):
  """Speech to characters, trained with CTC (Graves et al. 2006; the deep
  bidirectional LSTM of Graves, Mohamed & Hinton 2013, without its
  transducer): log-mel features normalised per utterance, `stack` frames
  concatenated into one step (Sak et al. 2015's frame stacking: 30 ms steps
  when 3), `layers` bidirectional LSTMs, and a dense layer to the characters
  and the blank at every step.

  `__call__(waveform_BxN, length_B)` returns (log-probabilities B x T x V,
  paddings B x T: 1 after each utterance's last step), what optax.ctc_loss
  takes as logits and logit_paddings.
  """
  vocab_size: int              # the characters and the blank (index 0)
  sample_rate: int = 8000
  num_mel: int = 40
  stack: int = 3
  hidden: int = 256            # per direction
  layers: int = 3
  dropout_rate: float = 0.2
  # SpecAugment in training (stream 'augment'); 0 masks: none.
  freq_masks: int = 2
  freq_width: int = 8
  time_masks: int = 2
  time_width: int = 10

  @nn.compact
  def __call__(self, waveform_BxN, length_B, *, train: bool = False):
    config = audio.FeatureConfig(sample_rate=self.sample_rate, num_mel=self.num_mel)
    x_BxN = waveform_BxN.astype(jnp.float32)
    num_frames = config.num_frames(x_BxN.shape[1])
    frames_B = jnp.clip(1 + (length_B - config.frame_length) // config.hop_length, 1,
                        num_frames)
    valid_BxT = (jnp.arange(num_frames)[None, :] < frames_B[:, None]).astype(jnp.float32)
    # Statistics over the speech frames (within 40 dB of the loudest) inside
    # the utterance; applied to all of its frames, padding zeroed.
    speech_BxT = audio.frame_energy_mask(x_BxN * (jnp.arange(x_BxN.shape[1]) < length_B[:, None]),
                                         config) * valid_BxT
    logmel_BxTxM = audio.log_mel(x_BxN, config)
    m = speech_BxT[..., None]
    count = jnp.maximum(jnp.sum(m, axis=1, keepdims=True), 1.0)
    mean = jnp.sum(logmel_BxTxM * m, axis=1, keepdims=True) / count
    var = jnp.sum(((logmel_BxTxM - mean) * m) ** 2, axis=1, keepdims=True) / count
    feats_BxTxM = (logmel_BxTxM - mean) * jax.lax.rsqrt(var + 1e-5) * valid_BxT[..., None]
    if train and (self.freq_masks or self.time_masks):
      feats_BxTxM = spec_augment(feats_BxTxM, self.make_rng('augment'),
                                 freq_masks=self.freq_masks, freq_width=self.freq_width,
                                 time_masks=self.time_masks, time_width=self.time_width)
    # Frame stacking: k consecutive frames per step, k times fewer steps.
    b, t, mel = feats_BxTxM.shape
    steps = -(-t // self.stack)
    feats_BxTxM = jnp.pad(feats_BxTxM, ((0, 0), (0, steps * self.stack - t), (0, 0)))
    x = feats_BxTxM.reshape(b, steps, self.stack * mel)
    steps_B = -(-frames_B // self.stack)
    paddings_BxT = (jnp.arange(steps)[None, :] >= steps_B[:, None]).astype(jnp.float32)
    for layer in range(self.layers):
      forward = LSTMCell(self.hidden, forget_bias=1.0, name=f'lstm{layer}_forward')
      backward = LSTMCell(self.hidden, forget_bias=1.0, name=f'lstm{layer}_backward')
      _, h_fwd = forward.sequence(forward.initial_carry(b), x)
      _, h_bwd = backward.sequence(backward.initial_carry(b), reverse_within_length(x, steps_B))
      x = jnp.concatenate([h_fwd, reverse_within_length(h_bwd, steps_B)], axis=-1)
      x = Dropout(self.dropout_rate, deterministic=not train)(x)
    logits_BxTxV = nn.Dense(self.vocab_size)(x)
    return jax.nn.log_softmax(logits_BxTxV), paddings_BxT
