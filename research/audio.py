"""Speech features in JAX: framing, power spectrum, log-mel filterbank and
MFCCs, as pure functions of a batch of waveforms.

Why in JAX rather than a library (librosa, torchaudio, python_speech_features):
the features are the models' first layer, computed inside the jitted step on
whatever device trains, from waveforms kept on that device; nothing runs on
the host per step, and the same code serves training, evaluation and
`launch.transcribe`. The definitions are the classic ones (HTK / Davis &
Mermelstein 1980, as in Young et al., "The HTK Book", section 5.4):

  frames     25 ms Hamming-windowed frames every 10 ms, pre-emphasis 0.97;
  power      |FFT|^2 of each frame, zero-padded to the next power of two;
  log-mel    log of the power through triangular filters spaced evenly on
             the mel scale m = 2595 log10(1 + f / 700) (HTK's eq. 5.13);
  MFCC       the orthonormal DCT-II of the log-mel energies, first N kept
             (c0 included).

tests/test_speech.py compares every stage with a NumPy/SciPy computation
written independently, on a synthetic tone.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
  sample_rate: int = 8000
  frame_ms: float = 25.0
  hop_ms: float = 10.0
  num_mel: int = 40
  fmin_hz: float = 20.0
  fmax_hz: float | None = None  # None: the Nyquist frequency
  preemphasis: float = 0.97

  @property
  def frame_length(self) -> int:
    return int(round(self.sample_rate * self.frame_ms / 1000))

  @property
  def hop_length(self) -> int:
    return int(round(self.sample_rate * self.hop_ms / 1000))

  @property
  def fft_length(self) -> int:
    return 1 << (self.frame_length - 1).bit_length()

  def num_frames(self, num_samples: int) -> int:
    return 1 + max(0, num_samples - self.frame_length) // self.hop_length


def hz_to_mel(hz):
  return 2595.0 * np.log10(1.0 + np.asarray(hz, np.float64) / 700.0)


def mel_to_hz(mel):
  return 700.0 * (10.0 ** (np.asarray(mel, np.float64) / 2595.0) - 1.0)


def mel_filterbank(config: FeatureConfig) -> np.ndarray:
  """(fft_length // 2 + 1) x num_mel triangular filters: filter k rises from
  the centre of k - 1 to its own centre and falls to the centre of k + 1,
  centres evenly spaced in mel between fmin and fmax (peak 1)."""
  fmax = config.fmax_hz or config.sample_rate / 2
  edges_hz = mel_to_hz(np.linspace(hz_to_mel(config.fmin_hz), hz_to_mel(fmax),
                                   config.num_mel + 2))
  bins_hz = np.arange(config.fft_length // 2 + 1) * config.sample_rate / config.fft_length
  lower, centre, upper = edges_hz[:-2], edges_hz[1:-1], edges_hz[2:]
  rising = (bins_hz[:, None] - lower) / (centre - lower)
  falling = (upper - bins_hz[:, None]) / (upper - centre)
  return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


def frames(waveform_BxN: jax.Array, config: FeatureConfig) -> jax.Array:
  """B x T x frame_length overlapping frames, pre-emphasised within each
  frame (HTK's per-frame pre-emphasis), Hamming-windowed."""
  n = waveform_BxN.shape[-1]
  num_frames = config.num_frames(n)
  starts = np.arange(num_frames) * config.hop_length
  index_TxL = starts[:, None] + np.arange(config.frame_length)[None, :]
  x_BxTxL = waveform_BxN.astype(jnp.float32)[..., index_TxL]
  if config.preemphasis:
    x_BxTxL = jnp.concatenate(
        [x_BxTxL[..., :1] * (1 - config.preemphasis),
         x_BxTxL[..., 1:] - config.preemphasis * x_BxTxL[..., :-1]], axis=-1)
  window = np.hamming(config.frame_length).astype(np.float32)
  return x_BxTxL * window


def power_spectrum(waveform_BxN: jax.Array, config: FeatureConfig) -> jax.Array:
  """B x T x (fft_length // 2 + 1): |FFT|^2 of each frame."""
  spectrum = jnp.fft.rfft(frames(waveform_BxN, config), n=config.fft_length, axis=-1)
  return jnp.real(spectrum) ** 2 + jnp.imag(spectrum) ** 2


# Added before the log so silence (all-zero padding) stays finite: about
# -70 dB below a full-scale int16 sine's per-band energy.
LOG_FLOOR = 1e-3


def log_mel(waveform_BxN: jax.Array, config: FeatureConfig) -> jax.Array:
  """B x T x num_mel log filterbank energies (natural log)."""
  energies = power_spectrum(waveform_BxN, config) @ jnp.asarray(mel_filterbank(config))
  return jnp.log(energies + LOG_FLOOR)


def dct_matrix(num_in: int, num_out: int) -> np.ndarray:
  """num_in x num_out orthonormal DCT-II basis: x @ D = scipy.fft.dct(x,
  norm='ortho')[..., :num_out]."""
  n = np.arange(num_in)[:, None]
  k = np.arange(num_out)[None, :]
  basis = np.cos(math.pi / num_in * (n + 0.5) * k) * math.sqrt(2.0 / num_in)
  basis[:, 0] /= math.sqrt(2.0)
  return basis.astype(np.float32)


def mfcc(waveform_BxN: jax.Array, config: FeatureConfig, num_ceps: int = 13) -> jax.Array:
  """B x T x num_ceps cepstral coefficients (c0 first)."""
  return log_mel(waveform_BxN, config) @ jnp.asarray(dct_matrix(config.num_mel, num_ceps))


def deltas(features_BxTxF: jax.Array, width: int = 2) -> jax.Array:
  """HTK's regression deltas (eq. 5.16): sum_k k (c_{t+k} - c_{t-k}) /
  (2 sum_k k^2), the edges repeated."""
  t = features_BxTxF.shape[-2]
  padded = jnp.concatenate([jnp.repeat(features_BxTxF[..., :1, :], width, axis=-2),
                            features_BxTxF,
                            jnp.repeat(features_BxTxF[..., -1:, :], width, axis=-2)], axis=-2)
  total = sum(k * (padded[..., width + k:width + k + t, :] - padded[..., width - k:width - k + t, :])
              for k in range(1, width + 1))
  return total / (2 * sum(k * k for k in range(1, width + 1)))


def frame_energy_mask(waveform_BxN: jax.Array, config: FeatureConfig,
                      below_peak_db: float = 40.0) -> jax.Array:
  """B x T: 1 where a frame's energy is within `below_peak_db` of the
  utterance's loudest frame (speech), 0 for silence and padding."""
  energy = jnp.sum(frames(waveform_BxN, config) ** 2, axis=-1) + 1e-10
  db = 10.0 * jnp.log10(energy)
  return (db >= jnp.max(db, axis=-1, keepdims=True) - below_peak_db).astype(jnp.float32)


def normalise(features_BxTxF: jax.Array, mask_BxT: jax.Array) -> jax.Array:
  """Cepstral mean and variance normalisation over each utterance's speech
  frames (mask), so a channel's or a speaker's fixed spectral tilt and level
  do not reach the model; padding becomes 0."""
  m = mask_BxT[..., None]
  count = jnp.maximum(jnp.sum(m, axis=-2, keepdims=True), 1.0)
  mean = jnp.sum(features_BxTxF * m, axis=-2, keepdims=True) / count
  var = jnp.sum(((features_BxTxF - mean) * m) ** 2, axis=-2, keepdims=True) / count
  return (features_BxTxF - mean) * jax.lax.rsqrt(var + 1e-5) * m
