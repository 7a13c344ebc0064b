"""Workdirs and data in a bucket (gs://), against a real local GCS server
(tests/gcs_emulator.py): everything a run writes lands in the bucket, TFDS
builds and reads its data there, a run killed mid-way resumes there to the
numbers of a local run, and an unknown bucket is one error line. Both of
etils.epath's GCS backends are covered: TensorFlow's (the default where TF is
installed, as on a TPU VM) and fsspec/gcsfs (EPATH_USE_TF=false)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import gcsfs  # noqa: F401  (test extras: the emulator and epath's other GCS client)
import gcp_storage_emulator  # noqa: F401
import pytest

import gcs_emulator
from testlib import REPO_ROOT, subprocess_env

QUICKSTART = os.path.join(REPO_ROOT, 'configs', 'digits_lenet5.py')
OVERRIDES = ('--config.num_train_steps=400', '--config.checkpoint_every_steps=100',
             '--config.log_every_steps=50', '--config.eval_every_steps=200')


@pytest.fixture
def bucket(tmp_path_factory, monkeypatch):
  """The emulator's environment, set here (to look into the bucket through
  TensorFlow's client) and inherited by subprocesses."""
  with gcs_emulator.running(str(tmp_path_factory.mktemp('gcs')), ['bucket']) as env:
    for k, v in env.items():
      monkeypatch.setenv(k, v)
    yield env


def _train(workdir, *extra, config=QUICKSTART, overrides=OVERRIDES):
  return [sys.executable, '-m', 'launch.train', f'--config={config}',
          f'--workdir={workdir}', *overrides, *extra]


def _bucket_files(prefix: str) -> list[str]:
  from etils import epath
  key = prefix.split('://', 1)[1] + '/'  # walk() may drop the scheme.
  return sorted(os.fspath(directory / name).split(key, 1)[1]
                for directory, _, names in epath.Path(prefix).walk() for name in names)


@pytest.mark.slow
def test_quickstart_in_a_bucket_writes_everything_there_and_resumes_after_sigkill(
    bucket, tmp_path):
  """TensorFlow's GCS client, as on a TPU VM: workdir and TFDS data in the bucket."""
  from etils import epath

  from research import writers

  cwd = tmp_path / 'cwd'
  cwd.mkdir()
  (tmp_path / 'tfds').mkdir()
  env = subprocess_env()  # Carries the bucket's variables (set by the fixture).
  local = subprocess.run(_train(tmp_path / 'local', f'--config.dataset.data_dir={tmp_path / "tfds"}'),
                         cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
  assert local.returncode == 0, local.stderr[-3000:]

  epath.Path('gs://bucket/tfds').mkdir(parents=True)
  remote = 'gs://bucket/runs/quickstart'
  cmd = _train(remote, '--config.dataset.data_dir=gs://bucket/tfds')
  proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  for line in proc.stdout:  # Killed once step 300 is logged (checkpoints every 100).
    if line.startswith('step 300/'):
      proc.send_signal(signal.SIGKILL)
      break
  assert proc.wait(timeout=120) == -signal.SIGKILL, proc.stderr.read()[-3000:]
  killed = _bucket_files(remote)
  assert 'results.json' not in killed
  assert any(f.startswith('checkpoints/200/') for f in killed), killed
  assert any(f.startswith('sklearn_digits/') for f in _bucket_files('gs://bucket/tfds'))
  # Checkpoints are written in the background: at the kill, step 200's (or even
  # 300's) may still be in flight. The run must resume from the newest one that
  # was finalised in the bucket, whichever that was.
  import orbax.checkpoint as ocp
  finalised = ocp.CheckpointManager(
      f'{remote}/checkpoints', options=ocp.CheckpointManagerOptions(read_only=True)).all_steps()
  assert finalised and max(finalised) >= 100, (finalised, killed)

  resumed = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert f'Resumed from step {max(finalised)} ' in resumed.stdout, (finalised, resumed.stdout)
  assert 'Preparing dataset' not in resumed.stdout  # Read from the bucket, not rebuilt.

  files = _bucket_files(remote)
  for name in ('config.json', 'provenance.json', 'metrics.jsonl', 'results.json',
               'confusion_matrix.png', 'curves.png', 'filters.png'):
    assert name in files, (name, files)
  assert any(f.startswith('tensorboard/events.out.tfevents.') for f in files)
  assert any(f.startswith('checkpoints/400/') for f in files)
  assert os.listdir(cwd) == []  # Nothing local: no 'gs:' directory.

  after_kill = json.loads(epath.Path(remote, 'results.json').read_text())
  reference = json.loads((tmp_path / 'local' / 'results.json').read_text())
  for key in ('test_loss', 'test_accuracy', 'test_examples', 'steps'):
    assert after_kill[key] == reference[key], key
  curve = lambda w: [(r['step'], r['loss']) for r in writers.read_metrics(w) if 'loss' in r]
  assert curve(remote) == curve(str(tmp_path / 'local'))
  assert len(json.loads(epath.Path(remote, 'provenance.json').read_text())) == 2


@pytest.mark.slow
def test_a_bucket_workdir_through_gcsfs_trains_and_resumes(bucket, tmp_path):
  """epath's other GCS backend (no TensorFlow, EPATH_USE_TF=false)."""
  env = subprocess_env(EPATH_USE_TF='false')
  remote = 'gs://bucket/runs/gcsfs'
  cmd = _train(remote, f'--config.dataset.data_dir={tmp_path}', config=QUICKSTART + ':runlocal',
               overrides=())
  first = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
  assert first.returncode == 0, first.stderr[-3000:]
  files = _bucket_files(remote)
  for name in ('config.json', 'metrics.jsonl', 'results.json', 'curves.png'):
    assert name in files, (name, files)
  assert any(f.startswith('tensorboard/events.out.tfevents.') for f in files)
  again = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
  assert again.returncode == 0, again.stderr[-3000:]
  assert 'Resumed from step 20' in again.stdout


def test_an_unknown_bucket_is_one_error_line_and_creates_nothing(bucket, tmp_path):
  proc = subprocess.run(_train('gs://no-such-bucket/run', config=QUICKSTART + ':runlocal',
                               overrides=()),
                        cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True,
                        timeout=120)
  assert proc.returncode == 2, proc.stderr[-3000:]
  errors = [l for l in proc.stderr.splitlines() if l.startswith('error: ')]
  assert len(errors) == 1 and 'no-such-bucket' in errors[0] and 'does not exist' in errors[0]
  assert 'Traceback' not in proc.stderr
  assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('use_tf', ['true', 'false'])
def test_append_file_in_a_bucket_uploads_on_flush_and_keeps_what_was_there(
    bucket, monkeypatch, use_tf):
  from research import fileio

  monkeypatch.setenv('EPATH_USE_TF', use_tf)
  path = f'gs://bucket/append-{use_tf}/metrics.jsonl'
  log = fileio.AppendFile(path, min_upload_seconds=3600)
  log.write(b'one\n')
  log.flush(force=True)
  log.write(b'two\n')
  log.flush()  # Within min_upload_seconds: not uploaded yet.
  assert fileio.read_bytes(path) == b'one\n'
  log.close()  # Uploads.
  assert fileio.read_bytes(path) == b'one\ntwo\n'
  resumed = fileio.AppendFile(path)
  resumed.write(b'three\n')
  resumed.close()
  assert fileio.read_bytes(path) == b'one\ntwo\nthree\n'
  fileio.write_atomically(f'gs://bucket/append-{use_tf}/x.json', '{}')
  assert fileio.read_json(f'gs://bucket/append-{use_tf}/x.json') == {}
