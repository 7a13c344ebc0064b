"""Faults a real run meets, each ending in one `error:` line (exit 2) without a
traceback and without changing what was saved before, or, for a damaged
checkpoint, in a resume from the previous intact one with the uninterrupted
run's numbers. Full and read-only disks are real file systems: a tmpfs of a
few hundred KB and a read-only bind mount, in a private mount namespace
(`unshare --user --map-root-user --mount`, no root needed)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from testlib import REPO_ROOT, file_hashes, subprocess_env

QUICKSTART = os.path.join(REPO_ROOT, 'configs', 'digits_lenet5.py')
RUNLOCAL = (f'--config={QUICKSTART}:runlocal', '--config.plot=False')


def train(workdir, *extra, timeout=300, env=None):
  return subprocess.run(
      [sys.executable, '-m', 'launch.train', *RUNLOCAL, f'--workdir={workdir}', *extra],
      cwd=REPO_ROOT, env=env or subprocess_env(), capture_output=True, text=True,
      timeout=timeout)


def one_error_line(proc) -> str:
  assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
  lines = [l for l in proc.stderr.splitlines() if l.startswith('error: ')]
  assert len(lines) == 1, proc.stderr[-3000:]
  assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
  return lines[0]


tree_hashes = file_hashes


@pytest.fixture(scope='module')
def finished_run(tmp_path_factory):
  """A finished quickstart runlocal workdir (checkpoints 10, 20) to copy."""
  workdir = tmp_path_factory.mktemp('finished') / 'run'
  proc = train(workdir)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return workdir


def copy_of(finished_run, tmp_path):
  target = tmp_path / 'run'
  shutil.copytree(finished_run, target)
  return target


def damage(step_dir, how: str) -> None:
  """Files cut to half their size (a dying disk, a half-synced copy), or one
  byte flipped in each."""
  for root, _, files in os.walk(step_dir):
    for f in files:
      path = os.path.join(root, f)
      with open(path, 'r+b') as fh:
        data = bytearray(fh.read())
        if how == 'truncate':
          fh.truncate(len(data) // 2)
        elif data:
          data[len(data) // 2] ^= 0xFF
          fh.seek(0)
          fh.write(data)


@pytest.mark.slow
@pytest.mark.parametrize('how', ['truncate', 'flip'])
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(finished_run, tmp_path,
                                                                    how):
  run = copy_of(finished_run, tmp_path)
  os.remove(run / 'results.json')
  damage(run / 'checkpoints' / '20', how)
  damaged = tree_hashes(run / 'checkpoints' / '20')
  proc = train(run)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert 'WARNING: checkpoint 20' in proc.stdout and 'damaged' in proc.stdout
  assert 'Resumed from step 10' in proc.stdout
  assert 'Traceback' not in proc.stderr
  (aside,) = os.listdir(run / 'damaged_checkpoints')
  assert aside.startswith('20-')
  assert tree_hashes(run / 'damaged_checkpoints' / aside) == damaged  # Kept, untouched.
  result = json.loads((run / 'results.json').read_text())
  reference = json.loads((finished_run / 'results.json').read_text())
  for key in ('test_loss', 'test_accuracy', 'test_examples', 'steps'):
    assert result[key] == reference[key], key


@pytest.mark.slow
def test_every_checkpoint_damaged_is_one_error_and_nothing_is_deleted(finished_run, tmp_path):
  run = copy_of(finished_run, tmp_path)
  for step in os.listdir(run / 'checkpoints'):
    damage(run / 'checkpoints' / step, 'truncate')
  before = tree_hashes(run)
  line = one_error_line(train(run))
  assert 'Every checkpoint' in line and 'damaged' in line and 'nothing was deleted' in line
  after = tree_hashes(run)
  assert {k: v for k, v in after.items() if k != 'provenance.json'} == \
         {k: v for k, v in before.items() if k != 'provenance.json'}


@pytest.mark.slow
def test_a_metrics_line_cut_by_a_kill_is_dropped_on_resume(finished_run, tmp_path):
  from research import writers
  run = copy_of(finished_run, tmp_path)
  os.remove(run / 'results.json')
  with open(run / 'metrics.jsonl', 'ab') as f:
    f.write(b'{"step": 25, "loss": 0.12')  # A kill in the middle of a line.
  assert [r['step'] for r in writers.read_metrics(str(run))][-1] == 20  # Readable meanwhile.
  proc = train(run)
  assert proc.returncode == 0, proc.stderr[-3000:]
  text = (run / 'metrics.jsonl').read_text()
  assert '0.12{' not in text and all(json.loads(l) for l in text.splitlines() if l)


def test_a_workdir_that_is_a_file_is_one_error(tmp_path):
  (tmp_path / 'afile').write_text('x')
  assert 'is a file' in one_error_line(train(tmp_path / 'afile'))
  assert (tmp_path / 'afile').read_text() == 'x'


def test_a_config_with_a_syntax_error_is_one_error(tmp_path):
  config = tmp_path / 'broken.py'
  config.write_text('def get_config(arg=None:\n  pass\n')
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.train', f'--config={config}',
       f'--workdir={tmp_path / "w"}'], cwd=REPO_ROOT, env=subprocess_env(),
      capture_output=True, text=True, timeout=120)
  line = one_error_line(proc)
  assert 'broken.py, line 1' in line and 'valid Python' in line
  assert not (tmp_path / 'w').exists()


@pytest.mark.slow
def test_a_second_run_is_refused_while_the_first_lives_and_takes_over_after_sigkill(tmp_path):
  from research import workdir as workdir_lib
  run = tmp_path / 'run'
  first = subprocess.Popen(
      [sys.executable, '-m', 'launch.train', f'--config={QUICKSTART}', f'--workdir={run}',
       '--config.plot=False', '--config.num_train_steps=100000',
       '--config.checkpoint_every_steps=100'],
      cwd=REPO_ROOT, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
      text=True)
  try:
    for line in first.stdout:  # Training (the lock is taken before config.json).
      if line.startswith('step '):
        break
    lock = json.loads((run / workdir_lib.LOCK_FILE).read_text())
    assert lock['pid'] == first.pid
    second = train(run)
    line = one_error_line(second)
    assert 'in use' in line and f'pid {first.pid}' in line
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=60)
  finally:
    if first.poll() is None:
      first.kill()
  third = train(run, '--config.num_train_steps=300')
  assert third.returncode == 0, third.stderr[-3000:]
  assert f'Taking over {run / workdir_lib.LOCK_FILE} from pid {first.pid}' in third.stdout
  assert 'Resumed from step' in third.stdout
  assert not (run / workdir_lib.LOCK_FILE).exists()  # Released at the end.


def test_a_stale_lock_from_a_dead_process_and_a_live_one_on_another_host():
  from research import workdir as workdir_lib
  assert not workdir_lib._holder_alive(  # A pid that cannot exist.
      {'host': os.uname().nodename, 'pid': 2 ** 22 + 12345, 'heartbeat': time.time()})
  me = workdir_lib._me()
  assert workdir_lib._holder_alive(me)
  assert not workdir_lib._holder_alive({**me, 'pid_started': 'another start'})  # pid reused
  elsewhere = {'host': 'another-host', 'pid': 1}
  assert workdir_lib._holder_alive({**elsewhere, 'heartbeat': time.time() - 60})
  assert not workdir_lib._holder_alive(
      {**elsewhere, 'heartbeat': time.time() - workdir_lib.STALE_AFTER_SECONDS - 1})


# --- Full and read-only disks -------------------------------------------------------

def _unshare_available() -> bool:
  if not shutil.which('unshare'):
    return False
  return subprocess.run(['unshare', '--user', '--map-root-user', '--mount', 'true'],
                        capture_output=True).returncode == 0


needs_unshare = pytest.mark.skipif(
    not _unshare_available(),
    reason='needs `unshare --user --map-root-user --mount` (util-linux, user namespaces) '
           'to mount a small tmpfs or a read-only bind mount without root')


def in_namespace(script: str, tmp_path, *, timeout=300):
  """Runs a bash script in a private mount namespace; returns (proc, report)."""
  report = tmp_path / 'report.json'
  full = f'set -e\n{script}\n'
  proc = subprocess.run(
      ['unshare', '--user', '--map-root-user', '--mount', 'bash', '-c', full],
      cwd=REPO_ROOT, env=subprocess_env(REPORT=str(report)), capture_output=True, text=True,
      timeout=timeout)
  return proc, (json.loads(report.read_text()) if report.exists() else None)


def namespace_error_line(script: str, tmp_path) -> tuple[dict, str]:
  """The run's report and its one error line (see `one_error_line`)."""
  proc, report = in_namespace(script, tmp_path)
  assert report is not None, proc.stderr[-3000:]
  return report, one_error_line(
      subprocess.CompletedProcess([], report['rc'], report['stdout'], report['stderr']))


_HASH_AND_TRAIN = '''
{python} - "$MNT" before <<'EOF'
import hashlib, json, os, sys
root = sys.argv[1]
hashes = {{os.path.relpath(os.path.join(d, f), root):
           hashlib.sha256(open(os.path.join(d, f), 'rb').read()).hexdigest()
           for d, _, fs in os.walk(root) for f in fs}}
json.dump(hashes, open(os.environ['REPORT'] + '.before', 'w'))
EOF
set +e
{python} -m launch.train {args} --workdir="$MNT" > "$REPORT.out" 2> "$REPORT.err"
rc=$?
set -e
{python} - "$MNT" $rc <<'EOF'
import hashlib, json, os, sys
root = sys.argv[1]
hashes = {{os.path.relpath(os.path.join(d, f), root):
           hashlib.sha256(open(os.path.join(d, f), 'rb').read()).hexdigest()
           for d, _, fs in os.walk(root) for f in fs}}
report = os.environ['REPORT']
json.dump({{'rc': int(sys.argv[2]), 'before': json.load(open(report + '.before')),
            'after': hashes, 'stdout': open(report + '.out').read(),
            'stderr': open(report + '.err').read()}}, open(report, 'w'))
EOF
'''


def _checkpoints(hashes: dict[str, str], step: int) -> dict[str, str]:
  return {k: v for k, v in hashes.items() if k.startswith(f'checkpoints/{step}/')}


@needs_unshare
@pytest.mark.slow
def test_a_disk_that_fills_up_during_training_keeps_the_last_good_checkpoint(
    finished_run, tmp_path):
  used_kb = sum(os.path.getsize(os.path.join(d, f))
                for d, _, fs in os.walk(finished_run) for f in fs) // 1024
  args = ' '.join(RUNLOCAL + ('--config.num_train_steps=60',))
  script = (f'MNT={tmp_path}/mnt; mkdir -p $MNT\n'
            f'mount -t tmpfs -o size={used_kb + 400}k tmpfs $MNT\n'
            f'cp -a {finished_run}/. $MNT/\n'
            + _HASH_AND_TRAIN.format(python=sys.executable, args=args))
  report, line = namespace_error_line(script, tmp_path)
  assert 'disk is full' in line and 'last good checkpoint' in line, line
  for step in (10, 20):  # Saved before: unchanged.
    before = _checkpoints(report['before'], step)
    assert before and _checkpoints(report['after'], step) == before, step
  assert report['after']['results.json'] == report['before']['results.json']


@needs_unshare
def test_a_disk_full_at_the_first_write_is_one_error(tmp_path):
  script = (f'MNT={tmp_path}/mnt; mkdir -p $MNT\n'
            'mount -t tmpfs -o size=8k tmpfs $MNT\n'
            'head -c 8192 /dev/zero > $MNT/filler || true\n'
            + _HASH_AND_TRAIN.format(python=sys.executable, args=' '.join(RUNLOCAL)))
  report, line = namespace_error_line(script, tmp_path)
  assert 'disk is full' in line, line
  assert report['after'] == report['before']


@pytest.mark.slow
@needs_unshare
def test_a_read_only_workdir_is_one_error_and_nothing_changes(finished_run, tmp_path):
  run = copy_of(finished_run, tmp_path)
  script = (f'MNT={run}\n'
            'mount --bind $MNT $MNT && mount -o remount,bind,ro $MNT\n'
            + _HASH_AND_TRAIN.format(python=sys.executable, args=' '.join(RUNLOCAL)))
  report, line = namespace_error_line(script, tmp_path)
  assert 'read-only' in line, line
  assert report['after'] == report['before']
  assert tree_hashes(run) == tree_hashes(finished_run)


@pytest.mark.slow
def test_fault_injection_one_kill_of_each_kind_resumes_bit_identical(tmp_path, capsys):
  """tests/fault_injection.py, three trials of 400 steps (its documented run is 20
  trials of the whole quickstart)."""
  import fault_injection
  assert fault_injection.main(['--trials=3', '--seed=1', f'--root={tmp_path}',
                               '--num_train_steps=400']) == 0
  out = capsys.readouterr().out
  assert '3/3 identical to the uninterrupted run (3 of them killed mid-run)' in out, out


def test_system_causes_are_recognised_through_wrappers_and_bugs_are_not():
  import errno

  from research import errors
  assert errors.system_cause(OSError(errno.ENOSPC, 'full', '/w/x'))[1] == '/w/x'
  assert 'permission denied' in errors.system_cause(OSError(errno.EACCES, 'no', '/w'))[0]
  try:  # A cause raised inside a library's own exception.
    try:
      raise OSError(errno.EROFS, 'read-only', '/w/config.json')
    except OSError as e:
      raise RuntimeError('writer failed') from e
  except RuntimeError as e:
    assert 'read-only' in errors.system_cause(e)[0]
  tensorstore_text = ValueError('RESOURCE_EXHAUSTED: Error writing "x" in OCDBT database')
  assert 'disk is full' in errors.system_cause(tensorstore_text)[0]
  assert errors.system_cause(KeyError('params')) is None
  assert errors.system_cause(OSError(errno.ENOENT, 'missing', '/w')) is None


def test_damage_is_told_apart_from_a_checkpoint_of_another_shape():
  import json as json_lib

  from research import checkpoint
  assert checkpoint.is_damage(json_lib.JSONDecodeError('Expecting value', '{"a', 3))
  assert checkpoint.is_damage(ValueError('DATA_LOSS: Error reading "manifest.ocdbt"'))
  assert not checkpoint.is_damage(ValueError('Requested shape (5, 5) is incompatible with (3, 3)'))
