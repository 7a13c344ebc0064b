"""Phrases and sentences: speech in, characters out, with a bidirectional LSTM
trained by CTC (research/models/speech.py `CTCRecogniser`; Graves et al.
2006, 2013), decoded greedily (best path) and by prefix beam search
(research/ctc.py), scored by word and character error rate (jiwer).

Training speech comes from `config.dataset` (by default synthetic phrases of
research/data/speech_synth.py: espeak-ng and flite voices saying 2-8 word
phrases of the fortunes corpus), tuned on its held-out utterances; the test
set is `config.test_dataset` (Asterisk's prompts, one professional speaker,
never used for training or tuning) without the folders of
`config.test_exclude_folders` (the isolated words). A transcript is scored as
research/data/speech.py's `spoken_transcript` writes it (a lone digit as its
word); a test prompt with a longer number is left out, and results.json
counts them.

Training utterances are padded to `config.audio.max_seconds` and kept on the
device as int16 with their lengths and character labels; longer ones are left
out (counted in the log). The model computes its own features, so a step is
one compiled function from waveforms to the update. The real test recordings
(up to 73 s) are transcribed after training, in length buckets
(`transcribe`), with predictions_test.json listing each file's reference and
both decodings.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from research import audio, config_lib, ctc, errors, fileio, parallel, writers
from research.data import feeding, speech
from research.data.registry import DATASETS
from research.models.speech import CTCRecogniser
from research.plots import curves
from research.plots import speech as speech_pictures
from research.tasks import base

PREDICTIONS_FILE = 'predictions_test.json'
MODELS = {'blstm_ctc': CTCRecogniser}
BLANK = 0
# What the recogniser writes: index 0 is CTC's blank, then these.
CHARACTERS = " 'abcdefghijklmnopqrstuvwxyz"
VOCAB_SIZE = 1 + len(CHARACTERS)
_INDEX = {c: i + 1 for i, c in enumerate(CHARACTERS)}


def encode(text: str) -> np.ndarray:
  """Character ids of a spoken_transcript (no blank)."""
  try:
    return np.asarray([_INDEX[c] for c in text], np.int32)
  except KeyError as e:
    raise errors.DataError(f'{text!r}: {e.args[0]!r} is not one of the recogniser\'s '
                           f'characters ({CHARACTERS!r}).') from None


def decode(ids: Sequence[int]) -> str:
  """The text of character ids (blanks dropped), spaces normalised."""
  return ' '.join(''.join(CHARACTERS[i - 1] for i in ids if i != BLANK).split())


def max_samples(config) -> int:
  return int(round(config.audio.max_seconds * config.audio.sample_rate))


def output_steps(config, num_samples: int) -> int:
  """The model's time steps for `num_samples` (frames, then stacked)."""
  frames = audio.FeatureConfig(sample_rate=config.audio.sample_rate,
                               num_mel=config.model.num_mel).num_frames(num_samples)
  return -(-frames // config.model.stack)


def pack(split: speech.Sentences, config, *, name: str) -> dict[str, np.ndarray]:
  """Padded arrays of the utterances that fit `max_seconds` and whose
  labels fit their steps (CTC needs a step per character, and one more
  between repeated characters)."""
  n_max = max_samples(config)
  rows = []
  for wave, text in zip(split.waveforms, split.texts):
    labels = encode(text)
    repeats = int(np.sum(labels[1:] == labels[:-1]))
    if len(wave) <= n_max and len(labels) + repeats <= output_steps(config, len(wave)):
      rows.append((wave, labels))
  left_out = len(split.texts) - len(rows)
  if not rows:
    raise errors.DataError(
        f'{name}: none of the {len(split.texts)} utterances fits audio.max_seconds='
        f'{config.audio.max_seconds} with its characters (CTC needs a model step, '
        f'{config.model.stack} frames of 10 ms, per character).')
  max_label = max(len(labels) for _, labels in rows)
  audio_NxS = np.zeros((len(rows), n_max), np.int16)
  labels_NxL = np.zeros((len(rows), max_label), np.int32)
  for i, (wave, labels) in enumerate(rows):
    audio_NxS[i, :len(wave)] = wave
    labels_NxL[i, :len(labels)] = labels
  writers.log(f'transcription [{name}]: {len(rows):,} utterances, '
              f'{sum(len(w) for w, _ in rows) / config.audio.sample_rate / 3600:.2f} h'
              + (f' ({left_out:,} longer than {config.audio.max_seconds} s left out)'
                 if left_out else ''))
  return {'audio': audio_NxS,
          'audio_length': np.asarray([len(w) for w, _ in rows], np.int32),
          'labels': labels_NxL,
          'label_length': np.asarray([len(labels) for _, labels in rows], np.int32)}


def load_splits(config) -> dict[str, speech.Sentences]:
  """'train' and 'validation' from config.dataset, 'test' from config.test_dataset."""
  rate, ds, test = config.audio.sample_rate, config.dataset, config.test_dataset
  return {'train': speech.load_sentences(ds, ds.train_split, sample_rate=rate),
          'validation': speech.load_sentences(ds, ds.eval_split, sample_rate=rate),
          'test': speech.load_sentences(test, test.eval_split, sample_rate=rate,
                                        exclude_folders=tuple(config.test_exclude_folders))}


class SentenceFeeder(feeding.RowFeeder):
  """Training and validation utterances on every device; the real test
  recordings on the host, transcribed after training."""

  def __init__(self, config, mesh):
    self.mesh = mesh
    self.splits = load_splits(config)
    packed = {name: pack(self.splits[name], config, name=name)
              for name in ('train', 'validation')}
    test = self.splits['test']
    writers.log(f'transcription [test]: {len(test.texts):,} recordings, '
                f'{sum(len(w) for w in test.waveforms) / config.audio.sample_rate / 60:.1f} min'
                f' ({len(test.skipped)} left out: a number with no one spelling)')
    self.eval_splits = ('validation',)
    self.order = feeding.TrainOrder(len(packed['train']['audio']), config.batch_size,
                                    config.seed)
    self.eval_batch_size = config.eval_batch_size
    self.sample_rate = config.audio.sample_rate
    self.max_samples = max_samples(config)
    self.split_sizes = {name: len(p['audio']) for name, p in packed.items()}
    self.data = {name: {k: parallel.replicate(v, mesh) for k, v in p.items()}
                 for name, p in packed.items()}

  @property
  def model_kwargs(self) -> dict[str, Any]:
    return {'vocab_size': VOCAB_SIZE, 'sample_rate': self.sample_rate}


def make_feeder(config, mesh) -> SentenceFeeder:
  return SentenceFeeder(config, mesh)


def init_variables(model, feeder: SentenceFeeder):
  def init(rng):
    wave = jnp.zeros((1, feeder.max_samples), jnp.int16)
    variables = model.init({'params': rng, 'dropout': rng, 'augment': rng}, wave,
                           jnp.full((1,), feeder.max_samples, jnp.int32))
    return variables['params'], {k: v for k, v in variables.items() if k != 'params'}
  return init


def ctc_losses(model, params, batch, *, train: bool, rngs=None):
  """(per-utterance CTC loss B, label lengths B): -log p(labels | audio)."""
  log_probs_BxTxV, paddings_BxT = model.apply(
      {'params': params}, batch['audio'], batch['audio_length'], train=train, rngs=rngs)
  label_paddings = (jnp.arange(batch['labels'].shape[1])[None, :]
                    >= batch['label_length'][:, None]).astype(jnp.float32)
  per_B = optax.ctc_loss(log_probs_BxTxV, paddings_BxT, batch['labels'], label_paddings,
                         blank_id=BLANK)
  return per_B, batch['label_length'].astype(jnp.float32)


def loss(params, model_state, batch, rngs, constants, step, *, model, config):
  """CTC loss per character of the batch (the sum over utterances over the
  sum of their lengths, so long and short phrases weigh by their characters)."""
  del constants, step, config
  per_B, chars_B = ctc_losses(model, params, batch, train=True,
                              rngs={'dropout': rngs['dropout'], 'augment': rngs['augment']})
  value = jnp.sum(per_B) / jnp.maximum(jnp.sum(chars_B), 1.0)
  return value, (model_state, {'ctc_per_utterance': jnp.mean(per_B)})


def eval_step(params, model_state, batch, carry, constants, *, model, config):
  del model_state, constants, config
  per_B, chars_B = ctc_losses(model, params, batch, train=False)
  weights = batch['mask'].astype(jnp.float32)
  return {'loss_sum': jnp.sum(per_B * weights), 'chars': jnp.sum(chars_B * weights),
          'count': jnp.sum(weights)}, carry


def summarize_eval(sums: dict[str, Any], prefix: str) -> dict[str, Any]:
  return {f'{prefix}_loss': sums['loss_sum'] / sums['chars'],
          f'{prefix}_examples': sums['count']}


# --- Transcribing whole recordings ---------------------------------------------

def bucket_samples(num_samples: int, sample_rate: int, smallest_seconds: float = 2.0) -> int:
  """The padded length a recording is run at: `smallest_seconds` doubled until
  it holds the recording (one compiled shape per bucket: 2, 4, 8, ... s)."""
  size = int(round(smallest_seconds * sample_rate))
  while size < num_samples:
    size *= 2
  return size


@functools.lru_cache(maxsize=4)
def _forward(model):
  """The model's compiled eval-mode forward pass, one per model, so the
  validation and test transcriptions (and the picture) share its compiled
  buckets."""
  return jax.jit(lambda p, x, n: model.apply({'params': p}, x, n, train=False))


def log_probabilities(model, params, waveforms: Sequence[np.ndarray], sample_rate: int,
                      samples_per_batch: int = 8000 * 64) -> list[np.ndarray]:
  """Per recording: its T x V log-probabilities (its own steps only). The
  recordings run in buckets of equal padded length, as many per batch as
  `samples_per_batch` allows (padding rows, zero length, fill the last)."""
  run = _forward(model)
  sizes = [bucket_samples(len(w), sample_rate) for w in waveforms]
  out: list[np.ndarray | None] = [None] * len(waveforms)
  for size in sorted(set(sizes)):
    members = [i for i, s in enumerate(sizes) if s == size]
    per_batch = max(1, samples_per_batch // size)
    for start in range(0, len(members), per_batch):
      chunk = members[start:start + per_batch]
      audio_BxS = np.zeros((per_batch, size), np.int16)
      length_B = np.zeros(per_batch, np.int32)
      for row, i in enumerate(chunk):
        audio_BxS[row, :len(waveforms[i])] = waveforms[i]
        length_B[row] = len(waveforms[i])
      log_probs, paddings = jax.device_get(run(params, audio_BxS, length_B))
      for row, i in enumerate(chunk):
        out[i] = log_probs[row, :int(np.sum(paddings[row] == 0))]
  return out


def transcribe(model, params, waveforms: Sequence[np.ndarray], sample_rate: int, *,
               beam_size: int, prune_below: float) -> dict[str, list[str]]:
  """{'greedy': [...], 'beam': [...]}: each recording's text by best path and
  by prefix beam search (beam_size; characters below `prune_below` log
  probability at a step not extended, Hannun et al. 2014's pruning)."""
  out: dict[str, list[str]] = {'greedy': [], 'beam': []}
  for lp in log_probabilities(model, params, waveforms, sample_rate):
    out['greedy'].append(decode(ctc.greedy_decode(lp, blank=BLANK)))
    best, _ = ctc.prefix_beam_search(lp, beam_size, blank=BLANK, prune_below=prune_below)[0]
    out['beam'].append(decode(best))
  return out


def score(references: Sequence[str], hypotheses: dict[str, list[str]], prefix: str
          ) -> dict[str, float]:
  """{PREFIX_HOW_wer, PREFIX_HOW_cer} in percent for each decoding HOW
  ('greedy', 'beam'); with PREFIX alone when HOW is ''."""
  return {'_'.join(filter(None, (prefix, how, f'{unit[0]}er'))):
          100.0 * ctc.error_rate(references, texts, unit=unit)
          for how, texts in hypotheses.items() for unit in ('word', 'char')}


def final_results(workdir, config, model, state, feeder: SentenceFeeder) -> dict[str, Any]:
  params = jax.device_get(state.params)
  results: dict[str, Any] = {}
  for name in ('validation', 'test'):
    split = feeder.splits[name]
    texts = transcribe(model, params, split.waveforms, config.audio.sample_rate,
                       beam_size=config.decode.beam_size, prune_below=config.decode.prune_below)
    results |= score(split.texts, texts, name)
    results[f'{name}_recordings'] = len(split.texts)
    if name == 'test':
      results['test_left_out'] = len(split.skipped)
      if jax.process_index() == 0:
        fileio.write_json(fileio.join(workdir, PREDICTIONS_FILE), [
            {'audio': f, 'reference': r, 'greedy': g, 'beam': b}
            for f, r, g, b in zip(split.filenames, split.texts, texts['greedy'], texts['beam'])])
  writers.log('transcription: ' + writers.format_scalars(results))
  return results


def plot_run(workdir, config, model, state, feeder: SentenceFeeder) -> list[str]:
  """The CTC loss against steps, and the spectrogram of a real test recording
  with the character posteriors and the best path's alignment under it."""
  paths = [curves.plot_metric_curves(workdir, 'loss', ('validation',),
                                     'CTC loss per character (validation: synthetic)')]
  test = feeder.splits['test']
  # The shortest recording of at least 4 words: a phrase, readable in one picture.
  candidates = [i for i, t in enumerate(test.texts) if len(t.split()) >= 4] or [0]
  i = min(candidates, key=lambda k: len(test.waveforms[k]))
  lp, = log_probabilities(model, jax.device_get(state.params), [test.waveforms[i]],
                          config.audio.sample_rate)
  paths.append(speech_pictures.plot_ctc_alignment(
      test.waveforms[i], lp, ['_'] + list(CHARACTERS), test.texts[i],
      decode(ctc.greedy_decode(lp, blank=BLANK)), fileio.join(workdir, 'ctc_alignment.png'),
      config.audio.sample_rate, frames_per_step=config.model.stack, title=test.filenames[i]))
  return paths


def check_config(config) -> None:
  config_lib.check_choice('test_dataset', config.test_dataset.name, SPEECH_DATASETS)
  if not (config.audio.sample_rate > 0 and config.audio.max_seconds > 0):
    raise errors.ConfigError('audio.sample_rate and audio.max_seconds must be positive.')
  if config.decode.beam_size < 1:
    raise errors.ConfigError(f'decode.beam_size={config.decode.beam_size}: at least 1.')


SPEECH_DATASETS = {name: DATASETS[name] for name in ('audio_folder',)}

TASK = base.Task(
    name='transcription',
    models=MODELS,
    datasets=SPEECH_DATASETS,
    make_feeder=make_feeder,
    init_variables=init_variables,
    loss=loss,
    eval_step=eval_step,
    summarize_eval=summarize_eval,
    check_config=check_config,
    data_model_fields=('vocab_size', 'sample_rate'),
    rng_streams=('dropout', 'augment'),
    final_results=final_results,
    plot_run=plot_run,
)
