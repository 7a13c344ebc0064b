"""The command line: one readable line and a non-zero exit for bad input."""

import os
import socket
import re
import subprocess
import sys

import numpy as np
import pytest

from testlib import REPO_ROOT, subprocess_env


def launch(*args, workdir):
  cmd = [sys.executable, '-m', 'launch.train', f'--workdir={workdir}', *args]
  return subprocess.run(cmd, cwd=REPO_ROOT, env=subprocess_env(),
                        capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize('args,message', [
    (['--config=configs/digits_lenet5.py', '--config.typo=1'],
     '--config.typo names a key the config does not declare'),
    (['--config=configs/digits_lenet5.py', '--config.model.widht=3'],
     '--config.model.widht names a key'),
    # A misspelled nested key: the override is named whole, the message is not
    # escaped, and the likely key is suggested.
    (['--config=configs/digits_lenet5.py', '--config.optimizer.learnig_rate=3'],
     "--config.optimizer.learnig_rate names a key the config does not declare (configs are "
     "locked; check the spelling against the file); did you mean 'learning_rate'?"),
    (['--config=configs/digits_lenet5.py', '--config.batch_size=abc'], 'invalid literal'),
    (['--config=configs/digits_lenet5.py', '--config.dataset.name=mnistt'], "Unknown dataset 'mnistt'"),
    (['--config=configs/digits_lenet5.py', '--config.model.name=lenet6'], "Unknown model 'lenet6'"),
    (['--config=configs/digits_lenet5.py:runlocl'], "Unknown config argument 'runlocl'"),
    (['--config=configs/no_such.py'], 'not found'),
])
def test_bad_input_is_one_error_line(tmp_path, args, message):
  workdir = tmp_path / 'w'
  proc = launch(*args, workdir=workdir)
  assert proc.returncode == 2, proc.stderr[-1000:]
  error_lines = [l for l in proc.stderr.splitlines() if l.startswith('error: ')]
  assert len(error_lines) == 1 and message in error_lines[0], proc.stderr[-1000:]
  assert 'Traceback' not in proc.stderr and '\\' not in error_lines[0]
  assert not workdir.exists()  # nothing was written


def test_missing_data_dir_names_the_fix(tmp_path):
  proc = launch('--config=configs/mnist_lenet5.py:source=tfds',
                f'--config.dataset.data_dir={tmp_path / "nope"}', workdir=tmp_path / 'w')
  assert proc.returncode == 2
  assert 'does not exist' in proc.stderr and 'tfds build mnist' in proc.stderr
  # LeCun's files (the default source) not fetched yet: the getter is named.
  proc = launch('--config=configs/mnist_lenet5.py',
                f'--config.dataset.manual_dir={tmp_path / "nope"}', workdir=tmp_path / 'w')
  assert proc.returncode == 2
  assert 'does not exist' in proc.stderr and 'python -m launch.get_data mnist' in proc.stderr


def test_nan_loss_exits_with_one_line_and_keeps_the_workdir(tmp_path):
  workdir = tmp_path / 'w'
  proc = launch('--config=configs/digits_mlp.py', '--config.optimizer.name=sgd',
                '--config.optimizer.learning_rate=1e30', '--config.num_train_steps=50',
                '--config.checkpoint_every_steps=1', '--config.plot=False',
                workdir=workdir)
  assert proc.returncode == 2
  assert 'error: Non-finite training loss at step' in proc.stderr
  assert (workdir / 'config.json').exists() and (workdir / 'metrics.jsonl').exists()
  assert any(p.name.isdigit() for p in (workdir / 'checkpoints').iterdir())


def test_benchmark_last_line_is_machine_readable():
  cmd = [sys.executable, '-m', 'launch.benchmark', '--config=configs/digits_mlp.py',
         '--steps=20', '--warmup=2', '--repeats=1', '--synthetic=8,8,1']
  proc = subprocess.run(cmd, cwd=REPO_ROOT, env=subprocess_env(), capture_output=True,
                        text=True, timeout=180)
  assert proc.returncode == 0, proc.stderr[-2000:]
  lines = proc.stdout.strip().splitlines()
  key, value = lines[-1].split('=')
  assert key == 'examples_per_second' and float(value) > 0
  assert any(l.startswith('compile_seconds: ') for l in lines)
  assert any(l.startswith('peak_host_rss_mb: ') for l in lines)


def test_benchmark_profile_names_the_operations_of_the_step():
  cmd = [sys.executable, '-m', 'launch.benchmark', '--config=configs/digits_mlp.py',
         '--steps=5', '--warmup=2', '--repeats=1', '--synthetic=8,8,1', '--profile_steps=3']
  proc = subprocess.run(cmd, cwd=REPO_ROOT, env=subprocess_env(), capture_output=True,
                        text=True, timeout=180)
  assert proc.returncode == 0, proc.stderr[-2000:]
  out = proc.stdout
  assert 'where 3 traced steps spent their time' in out
  # The MLP's matmuls appear, traced back to its Dense layers.
  assert any('dot_general' in line and '<-' in line for line in out.splitlines()), out[-3000:]
  assert out.strip().splitlines()[-1].startswith('examples_per_second=')


def test_reproduce_rejects_unknown_table(tmp_path):
  proc = subprocess.run([sys.executable, '-m', 'launch.reproduce', 'nope', f'--root={tmp_path}'],
                        cwd=REPO_ROOT, env=subprocess_env(), capture_output=True, text=True,
                        timeout=120)
  assert proc.returncode == 2 and "error: Unknown table 'nope'" in proc.stderr


@pytest.mark.slow
def test_quickstart_console_is_clean(tmp_path):
  # The README's first command, as a newcomer runs it (stdout and stderr to
  # a pipe, as in CI or a nohup log), with a data dir TFDS has not seen; run
  # through runpy so that the modules it imported can be listed at exit.
  modules_file = tmp_path / 'modules.txt'
  list_modules_at_exit = (
      'import atexit, runpy, sys; '
      f'atexit.register(lambda: open({str(modules_file)!r}, "w").write("\\n".join(sys.modules))); '
      'runpy.run_module("launch.train", run_name="__main__", alter_sys=True)')
  cmd = [sys.executable, '-c', list_modules_at_exit, '--config=configs/digits_lenet5.py',
         f'--workdir={tmp_path / "run"}']
  proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                        env=subprocess_env(TFDS_DATA_DIR=str(tmp_path / 'tfds')))
  assert proc.returncode == 0, proc.stderr[-2000:]
  # The project's own datasets need no TensorFlow: its 4 s import is skipped.
  modules = modules_file.read_text().split('\n')
  assert 'research.train' in modules and 'tensorflow' not in modules
  out = proc.stdout + proc.stderr
  assert '\x1b' not in out and '\r' not in out  # no escape codes, no progress bars
  for noise in ('oneDNN', 'absl::InitializeLog', 'dataset_info.json', 'Downloading and preparing',
                'Unknown size', 'tfrecord', 'Traceback'):
    assert noise not in out, noise
  lines = out.splitlines()
  assert not [l for l in lines if re.match(r'[IWE]\d{4} ', l)]  # no absl/C++ log lines
  assert len([l for l in lines if 'Preparing dataset' in l]) == 1
  compiled = next(i for i, l in enumerate(lines) if l.startswith('Compiled the train step in'))
  progress = [i for i, l in enumerate(lines) if l.startswith('step ') and '/880 |' in l]
  assert len(progress) == 9 and compiled < progress[0]
  # Compilation is outside the rates: the first interval runs at the pace of the others.
  rates = [float(re.search(r'([\d.]+) steps/s', lines[i]).group(1)) for i in progress]
  assert rates[0] > 0.3 * float(np.median(rates[1:])), rates
  assert 'test_examples 360,' in out and '360.0000' not in out  # counts print as integers
  assert lines[-1].startswith('Final (results.json in ')


@pytest.mark.slow
@pytest.mark.parametrize('gate', [
    "from research.data import datasets; datasets.require_tensorflow('Reading mnist')",
    "from research import fileio; fileio.path('gs://a-bucket/run')",
])
def test_tensorflow_is_imported_quietly_where_a_run_first_needs_it(gate):
  # A public TFDS dataset or a bucket path: TensorFlow is imported there, and
  # its C++ start-up notices do not reach the console.
  code = ('import sys; from research import fileio; fileio.path("/tmp/local"); '
          'assert "tensorflow" not in sys.modules; '
          f'{gate}; print("tensorflow" in sys.modules)')
  proc = subprocess.run([sys.executable, '-c', code], cwd=REPO_ROOT, capture_output=True,
                        text=True, timeout=120, env=subprocess_env())
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert proc.stdout.strip() == 'True'
  assert 'oneDNN' not in proc.stderr and 'absl::InitializeLog' not in proc.stderr, proc.stderr


def _damage(directory, how):
  """An MNIST-format directory a user can get wrong, as `how` says."""
  import os
  from testlib import write_idx_dir
  os.makedirs(directory)
  if how == 'empty':
    return None
  write_idx_dir(str(directory))
  images = directory / 'train-images-idx3-ubyte.gz'
  if how == 'truncated':
    images.write_bytes(images.read_bytes()[:200])
  elif how == 'not gzip':
    images.write_bytes(b'this is not a gzip file')
  elif how == 'corrupt header':
    import gzip
    images.write_bytes(gzip.compress(b'\x01\x02\x03\x04' + b'\x00' * 100))
  elif how == 'missing file':
    (directory / 't10k-labels-idx1-ubyte').unlink()
  return 't10k-labels-idx1-ubyte' if how == 'missing file' else images.name


@pytest.mark.slow
@pytest.mark.parametrize('how, says', [
    ('empty', 'is empty'),
    ('truncated', 'cannot be decompressed'),
    ('not gzip', 'cannot be decompressed'),
    ('corrupt header', 'not an IDX file'),
    ('missing file', 'not found'),
])
def test_a_damaged_data_directory_is_one_error_line(tmp_path, how, says):
  named = _damage(tmp_path / 'idx', how)
  (tmp_path / 'tfds').mkdir()
  proc = launch('--config=configs/fashion_mnist_lenet5.py:runlocal',
                f'--config.dataset.manual_dir={tmp_path / "idx"}',
                f'--config.dataset.data_dir={tmp_path / "tfds"}', workdir=tmp_path / 'w')
  assert proc.returncode == 2, proc.stderr[-2000:]
  error_lines = [l for l in proc.stderr.splitlines() if l.startswith('error: ')]
  assert len(error_lines) == 1 and says in error_lines[0], proc.stderr[-2000:]
  assert named is None or named in error_lines[0]  # the file is named
  assert 'Traceback' not in proc.stderr and 'Downloading and preparing' not in proc.stderr
  assert not (tmp_path / 'w').exists()


@pytest.mark.parametrize('flag, value', [('--workdir', 'gs://a-bucket/run'),
                                         ('--config.dataset.data_dir', 'gs://a-bucket/tfds')])
def test_an_unreachable_bucket_is_one_error_line_and_creates_nothing(tmp_path, flag, value):
  workdir = f'--workdir={tmp_path / "w"}' if flag != '--workdir' else f'--workdir={value}'
  extra = [f'{flag}={value}'] if flag != '--workdir' else []
  cmd = [sys.executable, '-m', 'launch.train', '--config=' + os.path.join(
      REPO_ROOT, 'configs', 'digits_lenet5.py'), workdir, *extra]
  with socket.socket() as s:  # A port nothing listens on: the network is down.
    s.bind(('127.0.0.1', 0))
    dead = f'http://127.0.0.1:{s.getsockname()[1]}'
  env = subprocess_env(HTTPS_PROXY=dead, https_proxy=dead, NO_GCE_CHECK='true',
                       GOOGLE_AUTH_TOKEN_FOR_TESTING='token', GCS_RETRY_CONFIG_MAX_RETRIES='1',
                       GCS_RETRY_CONFIG_INIT_DELAY_TIME_US='1000')
  proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
  assert proc.returncode == 2, proc.stderr[-2000:]
  error_lines = [l for l in proc.stderr.splitlines() if l.startswith('error: ')]
  assert len(error_lines) == 1 and 'cannot be reached' in error_lines[0] and value in error_lines[0]
  assert 'Traceback' not in proc.stderr
  assert os.listdir(tmp_path) == []  # no local 'gs:' directory, no workdir


WITHOUT_TENSORFLOW = os.path.join(REPO_ROOT, 'tests', 'without_tensorflow')


@pytest.mark.parametrize('config, manual', [
    ('digits_lenet5', None),
    pytest.param('mnist1d', None, marks=pytest.mark.slow),
    pytest.param('fortunes_char', 'text', marks=pytest.mark.slow),
    pytest.param('fortunes_textcnn', 'labelled', marks=pytest.mark.slow)])
def test_the_project_datasets_train_without_tensorflow(tmp_path, config, manual):
  """A plain `pip install -e .` has no TensorFlow: the project's own builders
  build and read ArrayRecord files without it."""
  from testlib import write_labelled_text, write_text_corpus
  extra = []
  if manual == 'text':
    extra.append(f'--config.dataset.manual_dir={write_text_corpus(str(tmp_path / "text"))}')
  elif manual == 'labelled':
    extra.append(f'--config.dataset.manual_dir={write_labelled_text(str(tmp_path / "lab"))}')
  (tmp_path / 'tfds').mkdir()
  env = subprocess_env()
  env['PYTHONPATH'] = WITHOUT_TENSORFLOW + os.pathsep + env['PYTHONPATH']
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.train', f'--config=configs/{config}.py:runlocal',
       f'--workdir={tmp_path / "w"}', f'--config.dataset.data_dir={tmp_path / "tfds"}',
       '--config.plot=False', *extra],
      cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert (tmp_path / 'w' / 'results.json').exists()
  assert list((tmp_path / 'tfds').rglob('*.array_record-00000-of-*'))


def test_a_tfds_dataset_without_tensorflow_is_one_error_line(tmp_path):
  env = subprocess_env()
  env['PYTHONPATH'] = WITHOUT_TENSORFLOW + os.pathsep + env['PYTHONPATH']
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.train', '--config=configs/mnist_lenet5.py:runlocal,source=tfds',
       f'--workdir={tmp_path / "w"}', f'--config.dataset.data_dir={tmp_path}'],
      cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 2, proc.stderr[-3000:]
  errors = [l for l in proc.stderr.splitlines() if l.startswith('error: ')]
  assert len(errors) == 1 and 'needs TensorFlow' in errors[0] and '.[tf]' in errors[0]
  assert 'Traceback' not in proc.stderr and not (tmp_path / 'w').exists()


def test_a_synthetic_shape_the_model_refuses_is_one_clear_error():
  from research import benchmark, errors
  from testlib import load_config
  with pytest.raises(errors.ConfigError, match=r"--synthetic=28,28,1 is the model's input as it is"):
    benchmark.benchmark(load_config('fashion_mnist_lenet5'), steps=1, warmup=0, repeats=1,
                        synthetic_shape=(28, 28, 1))
