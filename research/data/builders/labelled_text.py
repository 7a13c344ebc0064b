"""TFDS builder for a labelled text dataset in a local directory (text classification).

Reads UTF-8 text from TFDS's `manual_dir` and gives the splits 'train',
'validation' and 'test' of examples `{'text': Text, 'label': ClassLabel}`. The
layout of the directory is detected, checking in this order:

  1. Tabular: `train.csv` or `train.jsonl` (exactly one of them), and
     optionally a validation file (`validation.*`, `valid.*` or `dev.*`) and a
     `test.*` file of the same format. CSV: a header row naming the columns
     `text` and `label` (compared without surrounding spaces; other columns
     are ignored; parsed with the `csv` module, so quoted commas and line
     breaks work; blank lines are skipped). JSON lines: one object per
     non-blank line with the keys "text" and "label"; integer labels become
     strings with `str()`. Texts are kept as written.
  2. Folder per class: `DIR/CLASS/*.txt`, one example per file (the whole file,
     as written), the class named after its directory. If `DIR/train/` exists
     the directory is split by folders instead: `DIR/train/CLASS/*.txt` and
     optionally `DIR/test/CLASS/` and `DIR/validation/CLASS/` (or `valid/`,
     `dev/`). Only `*.txt` files directly in a class directory are read; files
     directly in DIR (or in a split folder) and hidden entries are ignored.
  3. Fortune files (Debian's `fortunes` package, /usr/share/games/fortunes):
     every regular file directly in DIR is one class named after the file, its
     examples separated by lines holding only '%'. Skipped: hidden files,
     `*.dat` files (fortune's binary indexes), symlinks whose target lies in
     the same directory (Debian's `art.u8 -> art`, which would double the
     class) and subdirectories (Debian's `off/` holds the offensive fortunes).
     Each example is stripped of surrounding whitespace, and examples empty
     after that (e.g. after a trailing '%') are dropped -- in this layout only.

The first layout that matches wins: e.g. a fortune directory with a
subdirectory holding `*.txt` files is read as class folders. A directory with
held-out files but no train file or folder is an error, as is one matching no
layout.

Held-out splits that are not given are cut from train, deterministically and
stratified by class: within each class (examples in file / name order),
`numpy.random.default_rng(0).permutation(n)` orders the n examples, and

  * with no validation and no test (always in the fortune layout) the first
    `int(n * 0.8)` go to train, the next `int(n * 0.1)` to validation and the
    rest to test; a class needs at least 2 examples so that train holds it;
  * with only one of them missing, the last `int(n * 0.1)` of that order go to
    the missing split and the rest stay in train.

Every split keeps the examples in their original (file / name) order.

Labels are strings, stripped of surrounding whitespace (TFDS stores class
names one per line in `label.labels.txt` and strips them on reload, so a
label with outer spaces or a line break could not survive a reload). The class
names are the train split's labels in Python's sorted order; a validation or
test label that is not among them is an error.

Class names: TFDS calls `_info()` before it knows `manual_dir` (the builder is
constructed from `data_dir` alone; `manual_dir` arrives with
`download_and_prepare`'s DownloadConfig), so the names cannot be known there.
`_info()` declares an undefined `tfds.features.ClassLabel()` and
`_split_generators` sets `info.features['label'].names` once the files are
read -- the pattern of TFDS's own `cifar10` and `omniglot` builders. TFDS saves
the names with the prepared data and restores them when it is loaded again.

`builder.info.metadata` records the layout, where each split came from and the
number of examples per split and class.

A prepared copy is not rebuilt when `manual_dir` changes: use one TFDS data_dir
per dataset directory (--config.dataset.data_dir).

Errors are ValueErrors naming the file (and line where it applies) and how to
fix it: text that is not UTF-8 (with the byte offset; a leading byte-order mark
is dropped), an empty text or label, a held-out label not seen in train, a CSV
without `text`/`label` columns, a JSON line that is not an object with both
keys, a class with no examples, and a split left with no examples (an empty
held-out file, or too few examples per class to cut the split from train).

The reading and checking are plain functions (`find_layout`,
`read_labelled_examples`, ...) of a directory, usable without a TFDS builder.
"""

from __future__ import annotations

import csv
import io
import json
import os
from typing import NamedTuple, Sequence

import numpy as np
import tensorflow_datasets as tfds

from research.data.builders import encoding

from research import fileio
from research.data.builders.text_corpus import read_utf8

SPLITS = ('train', 'validation', 'test')
# Split -> accepted file stems (tabular) or folder names (split folders).
SPLIT_NAMES = {
    'train': ('train',),
    'validation': ('validation', 'valid', 'dev'),
    'test': ('test',),
}
TABULAR_FORMATS = ('.csv', '.jsonl')
TRAIN_FRACTION = 0.8        # of each class, when all held-out splits are cut from train
HELD_OUT_FRACTION = 0.1     # of each class, per held-out split cut from train
FORTUNE_SEPARATOR = '%'
FORTUNE_SKIPPED_SUFFIXES = ('.dat',)
SPLIT_SEED = 0
_MAX_LISTED_LABELS = 20

LAYOUTS_ACCEPTED = (
    'train.csv or train.jsonl (with optional validation/valid/dev and test files), '
    'class folders DIR/CLASS/*.txt or DIR/train/CLASS/*.txt (with optional '
    'validation/valid/dev and test folders), or fortune files (examples separated '
    "by '%' lines) directly in DIR")


class _Example(NamedTuple):
  text: str
  label: str
  where: str  # file (and line), for error messages


# --- Layout -----------------------------------------------------------------------

def _visible(directory: str) -> list[str]:
  """Sorted non-hidden entry names of a directory."""
  return sorted(name for name in fileio.listdir(directory) if not name.startswith('.'))


def _one_of(directory: str, candidates: Sequence[str], what: str) -> str | None:
  """The one existing path among `candidates` (names in `directory`), or None."""
  found = [name for name in candidates if fileio.exists(fileio.join(directory, name))]
  if len(found) > 1:
    raise ValueError(f'{directory}: ambiguous {what}: {", ".join(found)} all exist. '
                     'Keep one of them and move the others away.')
  return fileio.join(directory, found[0]) if found else None


def _tabular_files(directory: str) -> dict[str, str] | None:
  """Split -> file of the tabular layout, or None when DIR has no train file."""
  train = _one_of(directory, [f'train{ext}' for ext in TABULAR_FORMATS], 'train file')
  if train is None:
    held_out = [stem + ext for split in ('validation', 'test') for stem in SPLIT_NAMES[split]
                for ext in TABULAR_FORMATS if fileio.isfile(fileio.join(directory, stem + ext))]
    if held_out:
      raise ValueError(
          f'{directory}: {", ".join(held_out)} found but no train.csv or train.jsonl. '
          'The tabular layout needs a train file; add one or rename the file to train.*.')
    return None
  ext = os.path.splitext(train)[1]
  files = {'train': train}
  for split in ('validation', 'test'):
    path = _one_of(directory, [stem + ext for stem in SPLIT_NAMES[split]], f'{split} file')
    if path is not None:
      files[split] = path
    other_ext = [e for e in TABULAR_FORMATS if e != ext]
    mismatched = [stem + e for stem in SPLIT_NAMES[split] for e in other_ext
                  if fileio.isfile(fileio.join(directory, stem + e))]
    if mismatched:
      raise ValueError(
          f'{fileio.join(directory, mismatched[0])}: the train file is '
          f'{os.path.basename(train)}, so held-out files must be {ext} too. '
          'Convert it or remove it.')
  return files


def _class_dirs(directory: str) -> list[str]:
  return [name for name in _visible(directory) if fileio.isdir(fileio.join(directory, name))]


def _txt_files(class_dir: str) -> list[str]:
  return [fileio.join(class_dir, name) for name in _visible(class_dir)
          if name.endswith('.txt') and fileio.isfile(fileio.join(class_dir, name))]


def _split_folders(directory: str) -> dict[str, str] | None:
  """Split -> folder of the split-folder layout, or None when DIR has no train/."""
  train = fileio.join(directory, 'train')
  if not fileio.isdir(train):
    return None
  folders = {'train': train}
  for split in ('validation', 'test'):
    path = _one_of(directory, SPLIT_NAMES[split], f'{split} folder')
    if path is not None and fileio.isdir(path):
      folders[split] = path
  return folders


def fortune_files(directory: str) -> list[str]:
  """Paths of the fortune files directly in `directory`, sorted by name.

  Hidden files, `*.dat` indexes, subdirectories and symlinks to files in the
  same directory are skipped (see the module docstring).
  """
  files = []
  for name in _visible(directory):
    path = fileio.join(directory, name)
    if name.endswith(FORTUNE_SKIPPED_SUFFIXES) or not fileio.isfile(path):
      continue
    if fileio.is_alias_in(path, directory):
      continue  # An alias of a file in this directory, read under its own name.
    files.append(path)
  return files


def find_layout(directory: str) -> tuple[str, dict[str, str]]:
  """(layout, split -> source path) of a dataset directory.

  layout is 'tabular', 'split_folders', 'class_folders' or 'fortunes'. Sources:
  the file of each given split (tabular), the folder of each given split
  (split_folders), or DIR as 'train' (class_folders, fortunes). Splits missing
  from the dict are cut from train. Raises ValueError for an ambiguous layout
  or a directory matching none.
  """
  if not fileio.isdir(directory):
    raise ValueError(f'{directory}: not a directory. Pass the dataset directory as manual_dir.')
  tabular = _tabular_files(directory)
  if tabular is not None:
    return 'tabular', tabular
  folders = _split_folders(directory)
  if folders is not None:
    return 'split_folders', folders
  held_out = [name for split in ('validation', 'test') for name in SPLIT_NAMES[split]
              if fileio.isdir(fileio.join(directory, name))]
  if held_out:
    raise ValueError(
        f'{directory}: split folder(s) {", ".join(held_out)} found but no train/ folder. '
        'Add DIR/train/CLASS/*.txt, or put the class folders directly in DIR.')
  if any(_txt_files(fileio.join(directory, name)) for name in _class_dirs(directory)):
    return 'class_folders', {'train': directory}
  if fortune_files(directory):
    return 'fortunes', {'train': directory}
  raise ValueError(f'{directory}: no recognised layout. Accepted: {LAYOUTS_ACCEPTED}.')


# --- Readers ------------------------------------------------------------------------

def _label(value, where: str) -> str:
  label = str(value).strip()
  if not label:
    raise ValueError(f'{where}: empty label. Give every example a class label.')
  if '\n' in label or '\r' in label:
    raise ValueError(f'{where}: label {label!r} holds a line break, which TFDS cannot '
                     'store as a class name. Use a one-line label.')
  return label


def _example(text: str, label, where: str) -> _Example:
  if not text.strip():
    raise ValueError(f'{where}: empty text (nothing but whitespace). Remove the example '
                     'or give it text.')
  return _Example(text, _label(label, where), where)


def _read_csv(path: str) -> list[_Example]:
  content = read_utf8(path)
  reader = csv.reader(io.StringIO(content, newline=''))
  try:
    header = next(reader, None)
    header = None if header is None else [name.strip() for name in header]
    if header is None or 'text' not in header or 'label' not in header:
      raise ValueError(
          f'{path}: line 1: the header row {header!r} lacks a `text` and a `label` column. '
          'Put a header row naming them (e.g. "text,label") first in the file.')
    text_col, label_col = header.index('text'), header.index('label')
    examples = []
    line = reader.line_num + 1  # Where the next record starts.
    for row in reader:
      where = f'{path}, line {line}'
      line = reader.line_num + 1
      if not row:
        continue  # A blank line.
      if len(row) <= max(text_col, label_col):
        raise ValueError(f'{where}: {len(row)} fields, but the header has {len(header)}. '
                         'Check the quoting: fields holding commas or line breaks need "..." '
                         'and every opening quote a closing one.')
      examples.append(_example(row[text_col], row[label_col], where))
  except csv.Error as e:
    raise ValueError(f'{path}, line {reader.line_num}: malformed CSV ({e}). Check the '
                     'quoting around that line.') from e
  return examples


def _read_jsonl(path: str) -> list[_Example]:
  examples = []
  # Not splitlines(): JSON strings may hold U+2028 etc. raw, but never '\n'.
  for number, line in enumerate(read_utf8(path).split('\n'), start=1):
    if not line.strip():
      continue
    where = f'{path}, line {number}'
    try:
      record = json.loads(line)
    except json.JSONDecodeError as e:
      raise ValueError(f'{where}: not valid JSON ({e.msg}, column {e.colno}). Write one '
                       'JSON object per line.') from e
    if not isinstance(record, dict) or 'text' not in record or 'label' not in record:
      raise ValueError(f'{where}: expected an object with keys "text" and "label", got '
                       f'{line.strip()[:80]!r}. Write {{"text": ..., "label": ...}} per line.')
    text, label = record['text'], record['label']
    if not isinstance(text, str):
      raise ValueError(f'{where}: "text" is a {type(text).__name__}, not a string. '
                       'Write the text as a JSON string.')
    if isinstance(label, bool) or not isinstance(label, (str, int)):
      raise ValueError(f'{where}: "label" is a {type(label).__name__}; use a string '
                       'or an integer.')
    examples.append(_example(text, label, where))
  return examples


def _read_class_folders(directory: str) -> list[_Example]:
  """Examples of DIR/CLASS/*.txt, classes and files in name order."""
  examples = []
  for name in _class_dirs(directory):
    class_dir = fileio.join(directory, name)
    files = _txt_files(class_dir)
    if not files:
      raise ValueError(f'{class_dir}: class {name!r} has no examples (no *.txt files). '
                       'Add examples or remove the folder.')
    for path in files:
      examples.append(_example(read_utf8(path), name, path))
  if not examples:
    raise ValueError(f'{directory}: no class folders holding *.txt files. '
                     'Put each class in DIR/CLASS/*.txt.')
  return examples


def parse_fortunes(text: str) -> list[str]:
  """The examples of one fortune file: stripped texts between '%' lines, empty ones dropped."""
  examples, lines = [], []
  for line in text.split('\n') + [FORTUNE_SEPARATOR]:
    if line.rstrip('\r') == FORTUNE_SEPARATOR:
      example = '\n'.join(lines).strip()
      if example:
        examples.append(example)
      lines = []
    else:
      lines.append(line)
  return examples


def _read_fortunes(directory: str) -> list[_Example]:
  examples = []
  for path in fortune_files(directory):
    texts = parse_fortunes(read_utf8(path))
    if not texts:
      raise ValueError(f'{path}: class {os.path.basename(path)!r} has no examples (nothing '
                       "but whitespace and '%' lines). Add examples or remove the file.")
    label = _label(os.path.basename(path), path)
    examples.extend(_Example(text, label, f'{path}, example {i + 1}')
                    for i, text in enumerate(texts))
  return examples


def _read_source(layout: str, path: str) -> list[_Example]:
  if layout == 'tabular':
    return _read_csv(path) if path.endswith('.csv') else _read_jsonl(path)
  if layout in ('split_folders', 'class_folders'):
    return _read_class_folders(path)
  return _read_fortunes(path)


# --- Splitting --------------------------------------------------------------------

def _class_orders(examples: Sequence[tuple]) -> dict[str, list[int]]:
  """Label -> indices of its examples in `default_rng(SPLIT_SEED)` permutation order."""
  by_class: dict[str, list[int]] = {}
  for i, example in enumerate(examples):
    by_class.setdefault(example[1], []).append(i)
  return {label: [indices[j] for j in np.random.default_rng(SPLIT_SEED).permutation(len(indices))]
          for label, indices in by_class.items()}


def _select(examples: Sequence[tuple], indices) -> list:
  return [examples[i] for i in sorted(indices)]


def stratified_split(examples: Sequence[tuple]) -> dict[str, list]:
  """80/10/10 split per class (see the module docstring); keeps the input order.

  `examples` are tuples whose second item is the label, e.g. (text, label).
  """
  chosen = {split: [] for split in SPLITS}
  for order in _class_orders(examples).values():
    n = len(order)
    num_train, num_validation = int(n * TRAIN_FRACTION), int(n * HELD_OUT_FRACTION)
    chosen['train'] += order[:num_train]
    chosen['validation'] += order[num_train:num_train + num_validation]
    chosen['test'] += order[num_train + num_validation:]
  return {split: _select(examples, indices) for split, indices in chosen.items()}


def hold_out(examples: Sequence[tuple]) -> tuple[list, list]:
  """(kept, held out): the last int(n * 0.1) of each class's permutation are held out."""
  kept, held = [], []
  for order in _class_orders(examples).values():
    num_kept = len(order) - int(len(order) * HELD_OUT_FRACTION)
    kept += order[:num_kept]
    held += order[num_kept:]
  return _select(examples, kept), _select(examples, held)


def _labels_listing(labels: Sequence[str]) -> str:
  shown = ', '.join(repr(label) for label in labels[:_MAX_LISTED_LABELS])
  more = f', ... ({len(labels)} in all)' if len(labels) > _MAX_LISTED_LABELS else ''
  return shown + more


def _check_enough_to_split(examples: Sequence[_Example]) -> None:
  first = {}
  counts: dict[str, int] = {}
  for example in examples:
    first.setdefault(example.label, example.where)
    counts[example.label] = counts.get(example.label, 0) + 1
  for label, count in counts.items():
    if int(count * TRAIN_FRACTION) == 0:
      raise ValueError(
          f'{first[label]}: class {label!r} has {count} example(s); the stratified '
          '80/10/10 split needs at least 2 so that train holds the class. Add examples, '
          'remove the class, or give validation/test files.')


def _check_held_out_labels(splits: dict[str, list[_Example]]) -> None:
  train_labels = sorted({example.label for example in splits['train']})
  known = set(train_labels)
  for split in ('validation', 'test'):
    for example in splits[split]:
      if example.label not in known:
        raise ValueError(
            f'{example.where}: {split} label {example.label!r} is not among the train '
            f'split\'s labels ({_labels_listing(train_labels)}). Fix the label or add '
            'train examples of that class.')


def _read(directory: str) -> tuple[str, dict[str, str], dict[str, list[_Example]]]:
  layout, sources = find_layout(directory)
  given = {split: _read_source(layout, path) for split, path in sources.items()}
  if 'validation' not in given and 'test' not in given:
    _check_enough_to_split(given['train'])
    splits = stratified_split(given['train'])
  else:
    splits = dict(given)
    for missing in (s for s in ('validation', 'test') if s not in given):
      splits['train'], splits[missing] = hold_out(splits['train'])
  _check_held_out_labels(splits)
  for split in SPLITS:
    if not splits[split]:
      _raise_empty_split(directory, split, sources)
  return layout, sources, {split: splits[split] for split in SPLITS}


def _raise_empty_split(directory: str, split: str, sources: dict[str, str]) -> None:
  if split in sources:
    raise ValueError(f'{sources[split]}: the {split} split has no examples. Add examples '
                     'or remove it (it is then cut from train).')
  share = 'int(n * 0.8)' if split == 'train' else 'int(n * 0.1)'
  raise ValueError(
      f'{directory}: too few examples to cut a {split} split from train (a class of n '
      f'examples gives it {share}, 0 for every class here). Add examples or give a '
      f'{split} file or folder.')


def read_labelled_examples(directory: str) -> dict[str, list[tuple[str, str]]]:
  """Split ('train', 'validation', 'test') -> [(text, label name)] of a dataset directory.

  Detects the layout, reads and checks the files and cuts missing held-out
  splits from train, as the module docstring says. Raises ValueError naming
  the file (and line) for any problem.
  """
  _, _, splits = _read(directory)
  return {split: [(e.text, e.label) for e in examples] for split, examples in splits.items()}


def class_names(splits: dict[str, Sequence[tuple]]) -> list[str]:
  """The train split's labels in Python's sorted order."""
  return sorted({example[1] for example in splits['train']})


def class_counts(splits: dict[str, Sequence[tuple]]) -> dict[str, dict[str, int]]:
  """Split -> class name -> number of examples (classes in sorted order)."""
  counts = {}
  for split, examples in splits.items():
    per_class: dict[str, int] = {}
    for example in examples:
      per_class[example[1]] = per_class.get(example[1], 0) + 1
    counts[split] = dict(sorted(per_class.items()))
  return counts


def _source_description(directory: str, split: str, sources: dict[str, str]) -> str:
  if split in sources:
    return os.path.relpath(sources[split], directory)
  if 'validation' not in sources and 'test' not in sources:
    return 'cut from train: 80/10/10 per class'
  return 'cut from train: 10% per class'


# --- Builder ------------------------------------------------------------------------

class LabelledText(tfds.core.GeneratorBasedBuilder):
  """A local labelled text dataset: train/validation/test of (text, label)."""

  VERSION = tfds.core.Version('2.0.0')
  RELEASE_NOTES = {'1.0.0': 'Tabular (CSV / JSON lines), class folders and fortune files.',
                   '2.0.0': encoding.RELEASE_2_0_0}
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f'Pass a directory of UTF-8 labelled text as manual_dir: {LAYOUTS_ACCEPTED}.')

  def _info(self):
    return self.dataset_info_from_configs(
        description=__doc__,
        features=tfds.features.FeaturesDict({
            'text': tfds.features.Text(),
            # Names are set in _split_generators, from the files (module docstring).
            'label': tfds.features.ClassLabel(),
        }),
        supervised_keys=('text', 'label'),
        disable_shuffling=True,  # keep the files' order, as the other project builders
        metadata=tfds.core.MetadataDict(),
    )

  def _split_generators(self, dl_manager):
    try:
      directory = os.fspath(dl_manager.manual_dir)
    except AssertionError as e:  # TFDS's multi-line "does not exist or is empty".
      raise ValueError('the manual directory does not exist or holds no files; pass the '
                       f'dataset directory as manual_dir ({LAYOUTS_ACCEPTED})') from e
    layout, sources, splits = _read(directory)
    self.info.features['label'].names = class_names(splits)
    self.info.metadata.update({
        'layout': layout,
        'sources': {split: _source_description(directory, split, sources) for split in SPLITS},
        'class_counts': class_counts(splits),
    })
    return {split: self._generate_examples(examples) for split, examples in splits.items()}

  def _generate_examples(self, examples):
    for i, example in enumerate(examples):
      yield i, {'text': example.text, 'label': example.label}
