"""Speech pictures: log-mel spectrograms of a real test recording beside
synthetic training utterances of the same word (what the models must bridge)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from research import audio, fileio
from research.plots.common import figures


def plot_real_and_synthetic(real_NxS: np.ndarray, synthetic_NxKxS: np.ndarray,
                            words: Sequence[str], predicted: Sequence[str | None],
                            path: str, sample_rate: int) -> str:
  """One row per word: the real recording (titled with the word and the
  model's answer), then K synthetic utterances of it; log-mel, 10 ms frames."""
  plt = figures()
  config = audio.FeatureConfig(sample_rate=sample_rate)
  n, k = synthetic_NxKxS.shape[:2]
  fig, axes = plt.subplots(n, k + 1, figsize=(2.4 * (k + 1), 1.9 * n), squeeze=False)
  for i in range(n):
    clips = np.concatenate([real_NxS[i:i + 1], synthetic_NxKxS[i]]).astype(np.float32)
    mels = np.asarray(audio.log_mel(clips, config))
    for j, ax in enumerate(axes[i]):
      ax.imshow(mels[j].T, origin='lower', aspect='auto', cmap='magma',
                extent=(0, mels.shape[1] * config.hop_ms / 1000, 0, config.num_mel))
      ax.set_xticks([])
      ax.set_yticks([])
      if j == 0:
        answer = predicted[i] if predicted[i] is not None else 'nothing'
        ax.set_title(f'real "{words[i]}" -> {answer}', fontsize=8)
      else:
        ax.set_title(f'synthetic "{words[i]}"', fontsize=8)
  fig.suptitle('log-mel spectrograms (40 bands, 1 s): a real test recording and synthetic '
               'training utterances', fontsize=9)
  fig.tight_layout()
  return fileio.save_figure(fig, path)


def plot_ctc_alignment(waveform: np.ndarray, log_probs_TxV: np.ndarray, symbols: Sequence[str],
                       reference: str, hypothesis: str, path: str, sample_rate: int, *,
                       frames_per_step: int, title: str = '') -> str:
  """Top: the recording's log-mel spectrogram. Bottom: the CTC posteriors of
  every character at every step (blank first), the best path's characters
  written where it emits them, on the same time axis."""
  plt = figures()
  config = audio.FeatureConfig(sample_rate=sample_rate)
  mel = np.asarray(audio.log_mel(np.asarray(waveform, np.float32)[None], config))[0]
  seconds = len(waveform) / sample_rate
  step_s = frames_per_step * config.hop_ms / 1000
  probs_VxT = np.exp(np.asarray(log_probs_TxV, np.float64)).T
  fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(6.0, 2.2 * seconds), 5.2), sharex=True,
                                    gridspec_kw={'height_ratios': (1, 1.4)})
  top.imshow(mel.T, origin='lower', aspect='auto', cmap='magma',
             extent=(0, mel.shape[0] * config.hop_ms / 1000, 0, config.num_mel))
  top.set_ylabel('mel band')
  top.set_title(f'{title}\nreference: "{reference}"\nbest path: "{hypothesis}"', fontsize=8)
  bottom.imshow(probs_VxT, origin='lower', aspect='auto', cmap='Greys', vmin=0, vmax=1,
                extent=(0, probs_VxT.shape[1] * step_s, -0.5, len(symbols) - 0.5))
  bottom.set_yticks(range(len(symbols)))
  bottom.set_yticklabels(['blank' if i == 0 else ('space' if s == ' ' else s)
                          for i, s in enumerate(symbols)], fontsize=5)
  best = np.argmax(log_probs_TxV, axis=-1)
  previous = 0
  for t, label in enumerate(best.tolist()):
    if label != 0 and label != previous:
      x = (t + 0.5) * step_s
      bottom.axvline(x, color='tab:red', lw=0.4, alpha=0.5)
      top.text(x, config.num_mel - 3, symbols[label] if symbols[label] != ' ' else '_',
               color='white', fontsize=7, ha='center', va='top')
    previous = label
  bottom.set_xlabel(f'seconds ({step_s * 1000:.0f} ms per step)')
  bottom.set_ylabel('P(character | audio)')
  bottom.set_xlim(0, seconds)
  fig.tight_layout()
  return fileio.save_figure(fig, path)
