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
