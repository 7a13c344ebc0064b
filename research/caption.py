"""Captioning any image file with a trained Show-and-Tell workdir
(`python -m launch.caption`; research/tasks/captioning.py trains it).

The image goes through the same path as the training images (transparency on
white, padded to a square, 256x256: the caption_folder builder's
`padded_rgb`), then the run's encoder (pretrained weights from the config's
weights_dir, or, for a random-encoder run, the same seeded random weights),
then beam search over the run's decoder with the run's vocabulary.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from research import errors, fileio
from research import workdir as workdir_lib
from research.data import captions
from research.data.builders import caption_folder
from research.data.lm_corpus import Vocabulary
from research.models.captioning import ShowAndTell
from research.tasks import captioning


@dataclasses.dataclass
class Captioner:
  config: object
  model: ShowAndTell
  params: object
  vocab: Vocabulary
  step: int


def load_captioner(workdir: str) -> Captioner:
  run = workdir_lib.load_run(workdir, tasks=('captioning',), what='a trained captioning model')
  path = fileio.join(workdir, captioning.VOCAB_FILE)
  if not fileio.exists(path):
    raise errors.ConfigError(f'{path} is missing: the run\'s vocabulary, without which its '
                             'word ids mean nothing.')
  vocab = Vocabulary.load(path)
  captions.check_vocabulary(vocab)
  kwargs = {k: v for k, v in run.config.model.items() if k != 'name'}
  model = ShowAndTell(vocab_size=len(vocab), **kwargs)
  embed = run.params['word_embed']['embedding'].shape[0]
  if embed != len(vocab):
    raise errors.ConfigError(
        f'Vocabulary mismatch: {path} has {len(vocab)} words, the checkpoint\'s embedding '
        f'{embed}.')
  return Captioner(run.config, model, run.params, vocab, run.step)


def caption_files(captioner: Captioner, paths: list[str], *, beam_size: int | None = None
                  ) -> list[str]:
  """One caption per image file, in order."""
  images = []
  for path in paths:
    if not fileio.isfile(path):
      raise errors.DataNotFoundError(f'{path} does not exist.')
    try:
      images.append(np.asarray(caption_folder.padded_rgb(fileio.read_bytes(path), path)))
    except ValueError as e:
      raise errors.DataError(str(e)) from e
  config = captioner.config
  features, = captioning.encoder_features(config.encoder, [np.stack(images)], config.seed)
  ids = captioning.generate(captioner.model, captioner.params, features,
                            beam_size=beam_size or config.decode.beam_size,
                            max_length=config.decode.max_length)
  return [captions.decode(captioner.vocab, row) for row in ids]
