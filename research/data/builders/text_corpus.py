"""TFDS builder for a plain-text corpus in a local directory (language modelling).

Reads UTF-8 text from TFDS's `manual_dir`, in one of two layouts:

  * PTB-style: exactly one file each matching `*.train.txt`, `*.valid.txt` and
    `*.test.txt` (e.g. Mikolov's `ptb.train.txt`, `ptb.valid.txt`,
    `ptb.test.txt`) gives the train / validation / test splits; other files in
    the directory are ignored. If any of the three patterns matches, the
    directory is read this way, so a partial or ambiguous set is an error.
    (Mikolov's `simple-examples/data` also holds `ptb.char.*.txt`: copy the
    three files you want into a directory of their own.)
  * Anything else: every regular file directly in the directory (no recursion)
    is read in name order (Python's sorted order of the names) and the texts are
    joined with a single '\\n' between files. Skipped: hidden files (names
    starting with '.'), files ending in `.dat` (fortune's binary index files),
    subdirectories, and symlinks whose target lies in the same directory (e.g.
    Debian fortunes' `art.u8 -> art`, which would otherwise be read twice).
    The whole text is then split contiguously by characters (Unicode code
    points), with the same arithmetic as TFDS's `tiny_shakespeare` (90/5/5):
    with n characters, train = the first `a = int(n * 0.9)`, validation = the
    next `int((n - a) * 0.5)`, test = the rest. The split points may fall
    inside a word or a line.

Every split is ONE example `{'text': Text}` holding the split's whole text, as in
`tiny_shakespeare`, so the same code (`research.data.lm_corpus`) reads both. Files
are decoded as strict UTF-8 (a leading byte-order mark is dropped); line endings
are kept as they are. Which files were read (names and sizes) is recorded in
the dataset's metadata (`builder.info.metadata`).

A prepared copy is not rebuilt when `manual_dir` changes: use one TFDS data_dir
per corpus (`research.data.lm_corpus.load_text_splits` checks the file list).
"""

from __future__ import annotations

import fnmatch
import os

import tensorflow_datasets as tfds

from research.data.builders import encoding

from research import fileio

# Split name -> file pattern of the PTB-style layout.
PTB_PATTERNS = {
    'train': '*.train.txt',
    'validation': '*.valid.txt',
    'test': '*.test.txt',
}
SKIPPED_SUFFIXES = ('.dat',)
TRAIN_FRACTION = 0.9  # Of the whole text; validation gets half of the rest.


def _visible_files(directory: str) -> list[str]:
  """Sorted names of the non-hidden regular files (following symlinks)."""
  return sorted(name for name in fileio.listdir(directory)
                if not name.startswith('.') and fileio.isfile(fileio.join(directory, name)))


def find_corpus_files(directory: str) -> tuple[str, dict[str, list[str]]]:
  """The layout ('ptb' or 'single') and the files each split is read from.

  For 'ptb' the dict maps each split to its one file; for 'single' it maps
  'all' to the files whose concatenation is split 90/5/5. Paths are
  `fileio.join(directory, name)`. Raises ValueError for a partial or
  ambiguous PTB layout.
  """
  names = _visible_files(directory)
  matches = {split: [n for n in names if fnmatch.fnmatchcase(n, pattern)]
             for split, pattern in PTB_PATTERNS.items()}
  if any(matches.values()):
    problems = []
    for split, found in matches.items():
      if len(found) != 1:
        problems.append(f'{len(found)} files match {PTB_PATTERNS[split]}'
                        + (f' ({", ".join(found)})' if found else ''))
    if problems:
      raise ValueError(
          f'{directory}: partial or ambiguous PTB-style layout: {"; ".join(problems)}. '
          'It needs exactly one *.train.txt, one *.valid.txt and one *.test.txt; '
          'put the three files of one corpus in a directory of their own.')
    return 'ptb', {split: [fileio.join(directory, found[0])]
                   for split, found in matches.items()}

  files = []
  for name in names:
    path = fileio.join(directory, name)
    if name.endswith(SKIPPED_SUFFIXES):
      continue
    if fileio.is_alias_in(path, directory):
      continue  # An alias of a file in this directory (read under its own name or skipped).
    files.append(path)
  return 'single', {'all': files}


def read_utf8(path: str) -> str:
  """The file's text; ValueError naming the file and byte offset if not UTF-8."""
  raw = fileio.read_bytes(path)
  try:
    text = raw.decode('utf-8')
  except UnicodeDecodeError as e:
    bad = raw[e.start:e.start + 8]
    raise ValueError(
        f'{path}: not valid UTF-8 at byte offset {e.start} ({e.reason}; bytes '
        f'{bad!r}). Convert it, e.g. `iconv -f latin1 -t utf-8`, or remove it '
        'from the directory.') from e
  return text[1:] if text.startswith('\ufeff') else text


def split_90_5_5(text: str) -> dict[str, str]:
  """Contiguous train/validation/test split, `tiny_shakespeare`'s arithmetic."""
  a = int(len(text) * TRAIN_FRACTION)
  b = a + int((len(text) - a) * 0.5)
  return {'train': text[:a], 'validation': text[a:b], 'test': text[b:]}


def read_corpus(directory: str) -> tuple[dict[str, str], dict]:
  """(split -> text, metadata) for a corpus directory; see the module docstring."""
  layout, files = find_corpus_files(directory)
  metadata = {
      'layout': layout,
      'files': [[os.path.basename(p), fileio.size(p)] for ps in files.values() for p in ps],
  }
  if layout == 'ptb':
    texts = {}
    for split, (path,) in files.items():
      texts[split] = read_utf8(path)
      if not texts[split].strip():
        raise ValueError(f'{path}: the {split} file of this PTB-style corpus is empty.')
  else:
    if not files['all']:
      raise ValueError(
          f'{directory}: empty corpus: no text files (hidden files, *.dat files '
          'and symlinks to files in the same directory are skipped).')
    text = '\n'.join(read_utf8(path) for path in files['all'])
    if not text.strip():
      raise ValueError(
          f'{directory}: empty corpus: the files '
          f'({", ".join(os.path.basename(p) for p in files["all"])}) hold no text.')
    texts = split_90_5_5(text)
    empty = [split for split, t in texts.items() if not t]
    if empty:
      raise ValueError(
          f'{directory}: the corpus has only {len(text)} characters, too few for a '
          f'90/5/5 split ({", ".join(empty)} would be empty).')
  metadata['num_chars'] = {split: len(t) for split, t in texts.items()}
  return texts, metadata


class TextCorpus(tfds.core.GeneratorBasedBuilder):
  """A local plain-text corpus: train/validation/test, one text example each."""

  VERSION = tfds.core.Version('2.0.0')
  RELEASE_NOTES = {'1.0.0': 'PTB-style *.train/valid/test.txt, or all files split 90/5/5.',
                   '2.0.0': encoding.RELEASE_2_0_0}
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      'Pass a directory of UTF-8 text files as manual_dir: either exactly one '
      '*.train.txt, *.valid.txt and *.test.txt (PTB-style), or any text files, '
      'which are concatenated in name order and split 90/5/5.')

  def _info(self):
    return self.dataset_info_from_configs(
        description=__doc__,
        features=tfds.features.FeaturesDict({'text': tfds.features.Text()}),
        supervised_keys=None,
        disable_shuffling=True,  # one example per split; keep the house style
        metadata=tfds.core.MetadataDict(),
    )

  def _split_generators(self, dl_manager):
    try:
      directory = os.fspath(dl_manager.manual_dir)
    except AssertionError as e:  # TFDS's multi-line "does not exist or is empty".
      raise ValueError('empty corpus: the manual directory does not exist or holds no '
                       'files') from e
    texts, metadata = read_corpus(directory)
    self.info.metadata.update(metadata)
    return {split: self._generate_examples(split, text) for split, text in texts.items()}

  def _generate_examples(self, split, text):
    yield split, {'text': text}
