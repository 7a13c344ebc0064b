"""Captioning metrics, computed by the COCO caption evaluation code
(`pycocoevalcap`, the scorers behind the COCO leaderboard and most papers'
tables): BLEU-1..4 (Papineni et al. 2002), METEOR 1.5 (Denkowski & Lavie
2014; Java), ROUGE-L (Lin 2004) and CIDEr-D (Vedantam et al. 2015). SPICE is
left out: it downloads Stanford CoreNLP at first use, which an offline
machine cannot. sacrebleu's corpus BLEU is reported beside, as a check of
the BLEU-4 figure by an independent implementation.

Both sides are tokenised by research/data/captions.py's `tokenize` (lower
case, no punctuation: what the COCO evaluation's PTB tokeniser does to such
captions), in Python, so only METEOR needs Java.
"""

from __future__ import annotations

import shutil
from typing import Mapping, Sequence

from research import errors
from research.data.captions import tokenize

METRICS = ('bleu_1', 'bleu_2', 'bleu_3', 'bleu_4', 'meteor', 'rouge_l', 'cider')
INSTALL = 'pip install "classicnets[captioning]" (pycocoevalcap, sacrebleu)'


def check_available(names: Sequence[str]) -> None:
  """A clear error now, not after training, for a metric that cannot run here."""
  unknown = sorted(set(names) - set(METRICS))
  if unknown:
    raise errors.ConfigError(f'Unknown caption metrics {unknown}; choose from {METRICS}.')
  try:
    import pycocoevalcap  # noqa: F401
    import sacrebleu  # noqa: F401
  except ImportError as e:
    raise errors.ConfigError(f'Caption metrics need {e.name}: {INSTALL}.') from e
  if 'meteor' in names and shutil.which('java') is None:
    raise errors.ConfigError(
        'METEOR runs on Java, which is not installed (Debian/Ubuntu: apt-get install '
        'default-jre-headless). Or leave it out: --config.caption_metrics="(\'bleu_1\', '
        '\'bleu_2\', \'bleu_3\', \'bleu_4\', \'rouge_l\', \'cider\')".')


def _joined(text: str) -> str:
  return ' '.join(tokenize(text))


def score(references: Mapping[str, Sequence[str]], candidates: Mapping[str, str],
          names: Sequence[str] = METRICS) -> dict[str, float]:
  """Corpus scores of one candidate caption per image against the image's
  reference captions (both keyed by image), plus `sacrebleu_bleu_4`."""
  from pycocoevalcap.bleu.bleu import Bleu
  from pycocoevalcap.cider.cider import Cider
  from pycocoevalcap.meteor.meteor import Meteor
  from pycocoevalcap.rouge.rouge import Rouge
  import sacrebleu

  check_available(names)
  if set(references) != set(candidates) or not candidates:
    raise ValueError('references and candidates must describe the same, non-empty set of images.')
  keys = sorted(candidates)
  gts = {k: [_joined(r) for r in references[k]] for k in keys}
  res = {k: [_joined(candidates[k])] for k in keys}
  out: dict[str, float] = {}
  if any(n.startswith('bleu') for n in names):
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    out.update({f'bleu_{n + 1}': float(bleu[n]) for n in range(4) if f'bleu_{n + 1}' in names})
  if 'meteor' in names:
    meteor = Meteor()  # a Java subprocess, stopped when the object is deleted
    out['meteor'] = float(meteor.compute_score(gts, res)[0])
    del meteor
  if 'rouge_l' in names:
    out['rouge_l'] = float(Rouge().compute_score(gts, res)[0])
  if 'cider' in names:
    out['cider'] = float(Cider().compute_score(gts, res)[0])
  # sacrebleu wants as many reference streams as the most references any image
  # has: an image with fewer repeats its first (a repeated reference changes
  # neither the clipped counts nor the closest length).
  streams = max(len(gts[k]) for k in keys)
  refs = [[gts[k][i] if i < len(gts[k]) else gts[k][0] for k in keys] for i in range(streams)]
  out['sacrebleu_bleu_4'] = float(sacrebleu.corpus_bleu(
      [res[k][0] for k in keys], refs, tokenize='none', smooth_method='none').score) / 100.0
  return out
