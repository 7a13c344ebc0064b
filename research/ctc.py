"""Decoding connectionist temporal classification outputs (Graves et al.
2006) and scoring transcripts: what a CTC recogniser (a (bi)LSTM over speech
frames, trained with `optax.ctc_loss`) needs after its forward pass.

- `greedy_decode`: the best path (argmax per frame), repeats collapsed, blanks
  dropped (Graves et al. 2006, section 3.2, "best path decoding").
- `prefix_beam_search`: the most probable labellings, each scored by the sum
  over all of its alignments (the CTC forward variable, kept separately for
  prefixes ending in a blank and in a label; Hannun et al. 2014's prefix
  search without a language model).
- `edit_distance`: the Levenshtein distance, our own reading of it, which the
  tests hold `error_rate` to.
- `error_rate`: corpus word / character error rate (total edits over total
  reference length), computed by jiwer, the library most speech papers'
  scripts score with.

All on the host in NumPy: decoding is per utterance, after the compiled
forward pass.
"""

from __future__ import annotations

import collections
from typing import Sequence

import numpy as np


def greedy_decode(log_probs_TxV: np.ndarray, blank: int = 0) -> list[int]:
  """The labels of the best path: argmax per frame, repeats merged, blanks removed."""
  best = np.asarray(log_probs_TxV).argmax(axis=-1)
  out, previous = [], None
  for label in best.tolist():
    if label != previous and label != blank:
      out.append(label)
    previous = label
  return out


def _logsumexp(a: float, b: float) -> float:
  if a == -np.inf:
    return b
  if b == -np.inf:
    return a
  high = max(a, b)
  return high + float(np.log1p(np.exp(-abs(a - b))))


def prefix_beam_search(log_probs_TxV: np.ndarray, beam_size: int, blank: int = 0, *,
                       prune_below: float | None = None
                       ) -> list[tuple[tuple[int, ...], float]]:
  """The `beam_size` best labellings with their log probabilities (summed
  over alignments), best first. With `prune_below`, a frame extends the
  prefixes only by the labels whose log probability there is at least that
  (Hannun et al. 2014's character pruning; the best label always)."""
  log_probs = np.asarray(log_probs_TxV, np.float64)
  # prefix -> (log P(prefix, last frame blank), log P(prefix, last frame a label))
  beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -np.inf)}
  for frame in log_probs:
    labels = range(len(frame))
    if prune_below is not None:
      labels = np.flatnonzero((frame >= prune_below) | (frame == frame.max())).tolist()
    grown: dict[tuple[int, ...], list[float]] = collections.defaultdict(
        lambda: [-np.inf, -np.inf])
    for prefix, (p_blank, p_label) in beams.items():
      total = _logsumexp(p_blank, p_label)
      entry = grown[prefix]  # a blank: the prefix stays, now ending in a blank
      entry[0] = _logsumexp(entry[0], total + frame[blank])
      if prefix:  # the last label again without a blank between: merged
        entry[1] = _logsumexp(entry[1], p_label + frame[prefix[-1]])
      for label in labels:
        if label == blank:
          continue
        extended = grown[prefix + (label,)]
        # A repeated label only extends the prefix after a blank.
        source = p_blank if prefix and label == prefix[-1] else total
        extended[1] = _logsumexp(extended[1], source + frame[label])
    ranked = sorted(grown.items(), key=lambda kv: -_logsumexp(*kv[1]))[:beam_size]
    beams = {prefix: (p[0], p[1]) for prefix, p in ranked}
  return [(prefix, _logsumexp(*p)) for prefix, p in
          sorted(beams.items(), key=lambda kv: -_logsumexp(*kv[1]))]


def edit_distance(reference: Sequence, hypothesis: Sequence) -> int:
  """Levenshtein distance: substitutions + deletions + insertions."""
  previous = list(range(len(hypothesis) + 1))
  for i, r in enumerate(reference, 1):
    current = [i]
    for j, h in enumerate(hypothesis, 1):
      current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
    previous = current
  return previous[-1]


def error_rate(references: Sequence[str], hypotheses: Sequence[str], *, unit: str) -> float:
  """Corpus word (`unit='word'`) or character (`unit='char'`) error rate:
  total edit distance over total reference length, by jiwer."""
  if unit not in ('word', 'char'):
    raise ValueError(f"unit must be 'word' or 'char', got {unit!r}.")
  import jiwer
  references = [' '.join(r.split()) for r in references]
  hypotheses = [' '.join(h.split()) for h in hypotheses]
  if len(references) != len(hypotheses):
    raise ValueError(f'{len(references)} references, {len(hypotheses)} hypotheses.')
  if not any(references):
    raise ValueError('The references are empty: an error rate needs words to compare with.')
  # jiwer refuses an empty reference; an empty one's errors are its
  # hypothesis's insertions.
  empty = [len(h.split() if unit == 'word' else h) for r, h in zip(references, hypotheses)
           if not r]
  kept = [(r, h) for r, h in zip(references, hypotheses) if r]
  refs, hyps = [r for r, _ in kept], [h for _, h in kept]
  measure = jiwer.process_words(refs, hyps) if unit == 'word' else jiwer.process_characters(
      refs, hyps)
  edits = measure.substitutions + measure.deletions + measure.insertions + sum(empty)
  length = sum(len(r.split() if unit == 'word' else r) for r in refs)
  return edits / length
