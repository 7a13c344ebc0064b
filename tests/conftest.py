"""Test-wide setup: no network, a private TFDS data dir, shared fixtures.

Process-wide switches live here (and in launch/), never in `research/`.
"""

import atexit
import os
import shutil
import sys
import tempfile

# A private TFDS data dir for the whole session, set before TFDS is imported,
# so tests never read or write the user's ~/tensorflow_datasets.
_TFDS_DIR = tempfile.mkdtemp(prefix='classicnets_tfds_')
os.environ['TFDS_DATA_DIR'] = _TFDS_DIR
# Removed when the session's process ends (each xdist worker has its own).
atexit.register(shutil.rmtree, _TFDS_DIR, ignore_errors=True)

import pytest  # noqa: E402

from testlib import REPO_ROOT, refuse_download  # noqa: E402

if REPO_ROOT not in sys.path:
  sys.path.insert(0, REPO_ROOT)


def pytest_configure(config):
  # `pytest -n W` runs W worker processes on the same cores. oneDNN's
  # convolutions (research/kernels) split a batch over as many threads as the
  # process may use; W workers doing that at once oversubscribe the cores. With
  # OpenMP teams, two LeNet-5 trainings side by side on 2 cores ran at 7,000
  # examples/s each with 2 threads apiece, 11,300 with 1, and 1,600 with 8
  # (docs/speed.md). Where the cores a worker really gets are unknowable (a
  # container's quota that cgroups do not show), each worker runs whole batches
  # on one thread; subprocesses inherit it. tests/test_onednn.py splits them in
  # a process of its own.
  if int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1')) > 1:
    os.environ.setdefault('OMP_NUM_THREADS', '1')


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch):
  from tensorflow_datasets.core.download import download_manager
  for name in ('download', 'download_and_extract', 'download_kaggle_data'):
    if hasattr(download_manager.DownloadManager, name):
      monkeypatch.setattr(download_manager.DownloadManager, name, refuse_download)
  yield


@pytest.fixture(scope='session')
def tfds_data_dir():
  return _TFDS_DIR
