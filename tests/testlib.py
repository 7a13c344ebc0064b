"""Helpers shared by the tests (importable as `testlib`; conftest puts tests/ on the path)."""

import os

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class NetworkAccessInTest(RuntimeError):
  pass


def refuse_download(*args, **kwargs):
  # An unmocked TFDS download here retries for ~200 s before failing; fail now.
  raise NetworkAccessInTest(
      'A test tried to download data. Use tfds.testing.mock_data or a '
      'project builder that builds offline.')


def load_config(name: str, arg: str | None = None):
  """Loads configs/NAME.py the way `--config=configs/NAME.py[:ARG]` does:
  through `research.config_lib.load`, so the config is locked (existing keys
  may be set, new ones may not be added)."""
  from research import config_lib
  return config_lib.load(os.path.join(REPO_ROOT, 'configs', f'{name}.py'), arg)


def subprocess_env(**extra):
  env = dict(os.environ)
  env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
  env.update(extra)
  return env


def config_names() -> list[str]:
  return sorted(f[:-3] for f in os.listdir(os.path.join(REPO_ROOT, 'configs'))
                if f.endswith('.py') and not f.startswith('_'))


def quiet(config, **overrides):
  """Test-friendly outputs: no TensorBoard/plots unless asked for (in configs
  that have them: a closed-form baseline's has neither), then `overrides`
  ('model.order': 3) set like --config.KEY=VALUE (only keys the config declares)."""
  from research import config_lib
  for key in ('tensorboard', 'plot'):
    if key in config:
      config[key] = False
  return config_lib.override(config, overrides)


def restore_state_tree(workdir: str, step: int):
  """The raw saved train state (nested dicts of numpy arrays)."""
  import orbax.checkpoint as ocp
  path = os.path.join(os.path.abspath(workdir), 'checkpoints', str(step), 'state')
  return ocp.StandardCheckpointer().restore(path)


def write_idx(path: str, array, compress: bool = True) -> str:
  """Writes a uint8 array as an IDX file (LeCun's format), gzipped if asked."""
  import gzip
  import numpy as np

  array = np.asarray(array, np.uint8)
  header = bytes([0, 0, 0x08, array.ndim]) + b''.join(
      int(d).to_bytes(4, 'big') for d in array.shape)
  opener = gzip.open if compress else open
  path = path + '.gz' if compress else path
  with opener(path, 'wb') as f:
    f.write(header + array.tobytes())
  return path


def write_idx_dir(directory: str, num_train: int = 64, num_test: int = 32, size: int = 28,
                  num_classes: int = 10, seed: int = 0) -> dict:
  """A tiny MNIST-format directory; returns the arrays written."""
  import numpy as np

  os.makedirs(directory, exist_ok=True)
  rng = np.random.default_rng(seed)
  arrays = {}
  for split, n, prefix in (('train', num_train, 'train'), ('test', num_test, 't10k')):
    images = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
    labels = np.arange(n, dtype=np.uint8) % num_classes
    write_idx(os.path.join(directory, f'{prefix}-images-idx3-ubyte'), images)
    write_idx(os.path.join(directory, f'{prefix}-labels-idx1-ubyte'), labels, compress=False)
    arrays[split] = (images, labels)
  return arrays


def write_text_corpus(directory: str, layout: str = 'single', num_chars: int = 4000,
                      seed: int = 0) -> str:
  """A small English-like UTF-8 corpus: one file ('single', split 90/5/5 by the
  builder) or PTB-style ptb.{train,valid,test}.txt ('ptb')."""
  import numpy as np

  os.makedirs(directory, exist_ok=True)
  rng = np.random.default_rng(seed)
  words = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'and', 'dog', 'ran', 'far', 'away',
           'to', 'see', 'sun', 'rise', 'over', 'hill', 'é']
  lines = []
  while sum(len(line) + 1 for line in lines) < num_chars:
    lines.append(' '.join(rng.choice(words, rng.integers(3, 9))))
  if layout == 'single':
    with open(os.path.join(directory, 'corpus.txt'), 'w', encoding='utf-8') as f:
      f.write('\n'.join(lines) + '\n')
  elif layout == 'ptb':
    n = len(lines)
    parts = {'train': lines[:int(0.8 * n)], 'valid': lines[int(0.8 * n):int(0.9 * n)],
             'test': lines[int(0.9 * n):]}
    for split, part in parts.items():
      with open(os.path.join(directory, f'ptb.{split}.txt'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(part) + '\n')
  else:
    raise ValueError(layout)
  return directory


def write_labelled_text(directory: str, per_class: int = 10) -> str:
  """Three classes of short quotations in the fortune-file layout (one file
  per class, examples between '%' lines), read by the labelled_text builder."""
  words = {'food': 'bread cheese soup apple', 'law': 'judge court lawyer appeal',
           'love': 'heart kiss darling romance'}
  os.makedirs(directory, exist_ok=True)
  for label, vocab in words.items():
    vocab = vocab.split()
    quotes = [' '.join(vocab[(i + j) % 4] for j in range(3 + i % 4)) + f' number {i}.'
              for i in range(per_class)]
    with open(os.path.join(directory, label), 'w', encoding='utf-8') as f:
      f.write('\n%\n'.join(quotes) + '\n%\n')
  return directory


def write_caption_folder(directory: str, per_colour: int = 6) -> str:
  """Coloured shapes with one or two captions each and a captions.json, read
  by the caption_folder builder (about 20% land in its test split)."""
  import json

  import numpy as np
  from PIL import Image
  colours = {'red': (220, 30, 30), 'green': (30, 200, 40), 'blue': (30, 40, 220)}
  captions = {}
  for colour, rgb in colours.items():
    for i in range(per_colour):
      image = np.full((40, 30 + i, 4), 0, np.uint8)  # transparent, not square
      image[8:32, 5:25] = (*rgb, 255)
      name = f'{colour}/{colour}_{i}.png'
      os.makedirs(os.path.join(directory, colour), exist_ok=True)
      Image.fromarray(image).save(os.path.join(directory, name))
      captions[name] = [f'A {colour} square.'] + ([f'A {colour} box.'] if i % 2 else [])
  with open(os.path.join(directory, 'captions.json'), 'w', encoding='utf-8') as f:
    json.dump(captions, f)
  return directory


def build_local_splits(name: str, directory, tmp_path) -> dict[str, list]:
  """Every split of the local dataset `name` (caption_folder, audio_folder,
  ...) in `directory`, prepared as a run prepares it, as lists of examples."""
  from research import config_lib
  from research.data import datasets
  (tmp_path / 'tfds').mkdir(exist_ok=True)
  config = config_lib.dataset(name, manual_dir=str(directory), data_dir=str(tmp_path / 'tfds'))
  builder = datasets.prepare(config)
  return {split: list(builder.as_data_source(split=split)) for split in builder.info.splits}


def write_spoken_words(directory: str, words, *, per_word: int = 3, split: str | None = None,
                       sample_rate: int = 8000, note_seconds: float = 0.15) -> str:
  """Each word as `per_word` utterances of two short notes (pitches of its
  own, a little noise), 16-bit WAVs, and transcripts.csv read by the audio_folder builder:
  with `split` every file is in it, else every third is 'validation'."""
  import numpy as np
  import soundfile
  rng = np.random.default_rng(0)
  rows = ['audio,text,split']
  for w, word in enumerate(words):
    for i in range(per_word):
      # Two notes in a row, both a word's own: the pattern in time survives the
      # per-utterance normalisation a constant tone would not.
      t = np.arange(int(note_seconds * sample_rate)) / sample_rate
      tone = np.concatenate([np.sin(2 * np.pi * (200 + 60 * w) * t),
                             np.sin(2 * np.pi * (1500 - 45 * w) * t)])
      wave = (6000 * tone + rng.normal(0, 200, len(tone))).astype(np.int16)
      name = f'{w:02d}/{i}.wav'
      os.makedirs(os.path.join(directory, f'{w:02d}'), exist_ok=True)
      soundfile.write(os.path.join(directory, name), wave, sample_rate, subtype='PCM_16')
      rows.append(f'{name},{word},{split or ("validation" if i % 3 == 2 else "train")}')
  with open(os.path.join(directory, 'transcripts.csv'), 'w', encoding='utf-8') as f:
    f.write('\n'.join(rows) + '\n')
  return directory


def write_word_vectors(path: str, dim: int, words=('the', 'bread', 'judge', 'kiss')) -> str:
  """A tiny word2vec binary file of `dim`-dimensional vectors."""
  import numpy as np

  from research.data import word_vectors
  vectors = np.random.default_rng(0).uniform(-1, 1, (len(words), dim)).astype(np.float32)
  word_vectors.write_word2vec(path, list(words), vectors, binary=True)
  return path


def file_hashes(directory) -> dict[str, str]:
  """path (relative) -> sha256 of every file under a directory."""
  import hashlib
  digests = {}
  for root, _, names in os.walk(directory):
    for name in names:
      path = os.path.join(root, name)
      with open(path, 'rb') as f:
        digests[os.path.relpath(path, directory)] = hashlib.sha256(f.read()).hexdigest()
  return digests


def make_tgz(path, files: dict[str, bytes]) -> str:
  """A .tar.gz at `path` holding `files` (member name -> bytes): a package
  archive as npm and pip fetch them."""
  import io
  import tarfile
  with tarfile.open(path, 'w:gz') as tar:
    for name, data in files.items():
      info = tarfile.TarInfo(name)
      info.size = len(data)
      tar.addfile(info, io.BytesIO(data))
  return str(path)


def sha256_of(path) -> str:
  import hashlib
  with open(path, 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()
