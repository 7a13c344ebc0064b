"""launch/tpu_vm.sh: the gcloud commands it prints (dry run, no gcloud) and runs
(a fake gcloud that records its arguments). No cloud access."""

import os
import shlex
import shutil
import stat
import subprocess

import pytest

from testlib import REPO_ROOT

SCRIPT = os.path.join('launch', 'tpu_vm.sh')
V4_ALL = ['all', '--dry-run', '--name=cn-test', '--type=v4-32', '--zone=us-central2-b',
          '--spot', '--bucket=gs://b', '--config=configs/digits_lenet5.py',
          '--', '--config.seed=1']


@pytest.fixture(scope='module')
def no_gcloud_path(tmp_path_factory) -> str:
  """A PATH with just the tools the script and the fake gcloud use (the real
  gcloud, where installed, shares /usr/bin with them)."""
  bindir = tmp_path_factory.mktemp('bin')
  for tool in ('bash', 'env'):
    found = shutil.which(tool)
    assert found, tool
    os.symlink(found, bindir / tool)
  return str(bindir)


@pytest.fixture(autouse=True)
def _isolated_path(no_gcloud_path):
  global _PATH
  _PATH = no_gcloud_path


_PATH = None


def tpu_vm(*args, path=None):
  env = {**os.environ, 'PATH': path or _PATH}
  return subprocess.run(['bash', SCRIPT, *args], cwd=REPO_ROOT, env=env,
                        capture_output=True, text=True, timeout=60)


def commands(stdout: str) -> list[list[str]]:
  """The printed commands, each split as a shell would."""
  return [shlex.split(line[2:]) for line in stdout.splitlines() if line.startswith('+ ')]


def gcloud_commands(stdout: str) -> list[list[str]]:
  return [c for c in commands(stdout) if c[0] == 'gcloud']


def option(cmd: list[str], name: str) -> str:
  values = [a.split('=', 1)[1] for a in cmd if a.startswith(name + '=')]
  assert len(values) == 1, (name, cmd)
  return values[0]


def test_dry_run_prints_the_v4_32_sequence():
  proc = tpu_vm(*V4_ALL)
  assert proc.returncode == 0, proc.stderr
  assert proc.stderr == ''
  assert all(l.startswith(('+ ', '# ')) for l in proc.stdout.splitlines()), proc.stdout
  assert '# expected hosts (workers) for v4-32: 4;' in proc.stdout

  cmds = gcloud_commands(proc.stdout)
  assert [c[:5] for c in cmds] == [
      ['gcloud', 'compute', 'tpus', 'tpu-vm', 'describe'],
      ['gcloud', 'compute', 'tpus', 'tpu-vm', 'create'],
      ['gcloud', 'compute', 'tpus', 'tpu-vm', 'scp'],
      ['gcloud', 'compute', 'tpus', 'tpu-vm', 'ssh'],  # install
      ['gcloud', 'compute', 'tpus', 'tpu-vm', 'ssh'],  # mount the bucket
      ['gcloud', 'compute', 'tpus', 'tpu-vm', 'ssh'],  # train
  ]
  describe, create, scp, install, mount, run = cmds
  assert describe[5] == 'cn-test' and create[5] == 'cn-test'
  for c in cmds:
    assert option(c, '--zone') == 'us-central2-b'
    assert not any(a.startswith('--project') for a in c)
  assert option(create, '--accelerator-type') == 'v4-32'
  assert option(create, '--version') == 'tpu-ubuntu2204-base'
  assert '--spot' in create and '--preemptible' not in create

  # The tarball that git archive writes is what scp copies to every worker.
  git = [c for c in commands(proc.stdout) if c[0] == 'git']
  assert len(git) == 1 and git[0][:2] == ['git', 'archive']
  tarball = git[0][git[0].index('-o') + 1]
  assert scp[5:7] == [tarball, 'cn-test:'] and '--worker=all' in scp

  for c in (install, mount, run):
    assert c[5] == 'cn-test' and '--worker=all' in c
  install_cmd = option(install, '--command')
  assert f'tar xzf {os.path.basename(tarball)}' in install_cmd
  assert 'pip install -q -e ".[tf]"' in install_cmd and 'jax[tpu]' in install_cmd
  mount_cmd = option(mount, '--command')
  assert 'gcsfuse' in mount_cmd and ' b ~/gcs/b' in mount_cmd

  run_cmd = option(run, '--command')
  assert 'TFDS_DATA_DIR=gs://b/tensorflow_datasets nohup python -m launch.train' in run_cmd
  words = shlex.split(run_cmd)
  train = words[words.index('launch.train') + 1:]
  assert train[:4] == ['--config=configs/digits_lenet5.py',
                       '--workdir=gs://b/runs/cn-test/digits_lenet5',
                       '--jax_distributed', '--config.seed=1']
  # One log per worker, named by the worker number from the metadata server.
  assert 'agent-worker-number' in run_cmd
  assert '> logs/cn-test.w$W.log 2>&1 < /dev/null & }' in run_cmd
  # Valid shell for the worker.
  for c in (install, mount, run):
    check = subprocess.run(['bash', '-n', '-c', option(c, '--command')],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize('workdir, passed', [
    ('gs://other/runs/exp1', '--workdir=gs://other/runs/exp1'),
    ('~/gcs/b/runs/exp1', '--workdir=$HOME/gcs/b/runs/exp1'),  # the FUSE mount, still an option
])
def test_a_workdir_in_a_bucket_or_its_mount_is_passed_on(workdir, passed):
  proc = tpu_vm('run', '--dry-run', '--name=cn-test', '--bucket=gs://b', f'--workdir={workdir}')
  assert proc.returncode == 0, proc.stderr
  (run,) = gcloud_commands(proc.stdout)
  assert passed in shlex.split(option(run, '--command'))


def test_forwarded_arguments_survive_both_shells():
  odd = ["--config.dataset.train_split=train[:2%]", "--config.name=it's a test"]
  proc = tpu_vm(*V4_ALL, *odd)
  assert proc.returncode == 0, proc.stderr
  run_cmd = option(gcloud_commands(proc.stdout)[-1], '--command')
  words = shlex.split(run_cmd)
  assert words[words.index('--config.seed=1') + 1:][:2] == odd


@pytest.mark.parametrize('flags,present,absent', [
    ([], [], ['--spot', '--preemptible']),
    (['--preemptible'], ['--preemptible'], ['--spot']),
    (['--spot', '--project=my-proj', '--version=v2-alpha-tpuv5'],
     ['--spot', '--project=my-proj', '--version=v2-alpha-tpuv5'], ['--preemptible']),
])
def test_create_flags(flags, present, absent):
  proc = tpu_vm('create', '--dry-run', '--name=cn-test', *flags)
  assert proc.returncode == 0, proc.stderr
  describe, create = gcloud_commands(proc.stdout)
  assert describe[4] == 'describe' and create[4] == 'create'
  assert option(create, '--accelerator-type') == 'v4-32'
  assert option(create, '--zone') == 'us-central2-b'
  for flag in present:
    assert flag in create
  for flag in absent:
    assert flag not in create
  if '--project=my-proj' in flags:
    assert '--project=my-proj' in describe


def test_delete_tail_stop():
  proc = tpu_vm('delete', '--dry-run', '--name=cn-test', '--zone=europe-west4-a')
  assert proc.returncode == 0, proc.stderr
  assert gcloud_commands(proc.stdout) == [
      ['gcloud', 'compute', 'tpus', 'tpu-vm', 'delete', 'cn-test', '--quiet',
       '--zone=europe-west4-a']]
  assert '+ gcloud compute tpus tpu-vm delete cn-test --quiet --zone=europe-west4-a\n' in proc.stdout

  proc = tpu_vm('tail', '--dry-run', '--name=cn-test', '--worker=2')
  (tail,) = gcloud_commands(proc.stdout)
  assert tail[4] == 'ssh' and '--worker=2' in tail
  assert option(tail, '--command') == 'tail -n 100 -F ~/classicnets/logs/cn-test.w2.log'

  proc = tpu_vm('ssh', '--dry-run', '--name=cn-test', '--worker=all', '--command', 'ls logs')
  (ssh,) = gcloud_commands(proc.stdout)
  assert ssh[4:] == ['ssh', 'cn-test', '--worker=all', '--command=ls logs', '--zone=us-central2-b']

  proc = tpu_vm('stop', '--dry-run', '--name', 'cn-test')  # --flag VALUE works too
  (stop,) = gcloud_commands(proc.stdout)
  stop_cmd = option(stop, '--command')
  assert '--worker=all' in stop and stop_cmd.startswith('pkill -f "[p]ython -m launch.train";')
  check = subprocess.run(['bash', '-n', '-c', stop_cmd], capture_output=True, text=True)
  assert check.returncode == 0, check.stderr


@pytest.mark.parametrize('accelerator,hosts', [
    ('v4-8', 1), ('v4-32', 4), ('v4-128', 16), ('v3-8', 1), ('v3-32', 4), ('v2-8', 1),
    ('v5p-8', 1), ('v5p-32', 4), ('v5litepod-8', 1), ('v5litepod-16', 4), ('v6e-256', 64),
])
def test_expected_hosts(accelerator, hosts):
  proc = tpu_vm('create', '--dry-run', '--name=x', f'--type={accelerator}')
  assert f'# expected hosts (workers) for {accelerator}: {hosts};' in proc.stdout


@pytest.mark.parametrize('args,message', [
    (['all', '--name=x', '--bucket=gs://b', '--frobnicate'], "unknown argument '--frobnicate'"),
    (['all', '--name=x', '--bucket=gs://b', '--colour=red'], "unknown flag '--colour'"),
    (['launch', '--name=x'], "unknown subcommand 'launch'"),
    ([], 'missing subcommand'),
    (['create', '--dry-run'], '--name=NAME is required'),
    (['create', '--name=Bad_Name'], '--name='),
    (['run', '--name=x', '--config=configs/digits_lenet5.py'], 'needs --bucket=gs://BUCKET'),
    (['run', '--name=x', '--bucket=b'], 'expected gs://BUCKET_NAME'),
    (['run', '--name=x', '--bucket=gs://b', '--config=configs/nope.py'], 'configs/nope.py not found'),
    (['run', '--name=x', '--bucket=gs://b', '--workdir=gs://b/runs x'], 'use gs://BUCKET/PATH'),
    (['create', '--name=x', '--spot', '--preemptible'], 'exclude each other'),
    (['create', '--name=x', '--zone'], '--zone needs a value'),
    (['ssh', '--name=x', '--worker=all'], '--worker=all only with ssh --command'),
    (['tail', '--name=x', '--worker=one'], "--worker='one'"),
])
def test_bad_arguments_exit_nonzero_with_usage(args, message):
  proc = tpu_vm(*args)
  assert proc.returncode == 2, proc.stdout
  assert proc.stdout == ''
  (error,) = [l for l in proc.stderr.splitlines() if l.startswith('error: ')]
  assert message in error, proc.stderr
  assert 'usage: launch/tpu_vm.sh' in proc.stderr


def test_without_gcloud_prints_commands_and_fails():
  args = [a for a in V4_ALL if a != '--dry-run']
  proc = tpu_vm(*args)
  assert proc.returncode == 1
  assert 'gcloud not found; install the Google Cloud SDK' in proc.stdout
  assert 'Commands that would run:' in proc.stdout
  # The same commands as the dry run.
  assert commands(proc.stdout) == commands(tpu_vm(*V4_ALL).stdout)


def _fake_gcloud(tmp_path, describe_rc: int) -> str:
  """A directory whose `gcloud` appends its arguments, one per line, to calls.log."""
  bindir = tmp_path / 'bin'
  bindir.mkdir()
  fake = bindir / 'gcloud'
  fake.write_text(
      '#!/usr/bin/env bash\n'
      f'{{ for a in "$@"; do echo "$a"; done; echo ---; }} >> {tmp_path}/calls.log\n'
      f'if [[ "$4" == describe ]]; then echo READY; exit {describe_rc}; fi\n')
  fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
  return f'{bindir}{os.pathsep}{_PATH}'


def _calls(tmp_path) -> list[list[str]]:
  text = (tmp_path / 'calls.log').read_text()
  return [c.strip('\n').split('\n') for c in text.split('---\n') if c.strip()]


@pytest.mark.parametrize('exists', [True, False])
def test_with_gcloud_echoes_and_runs_each_command(tmp_path, exists):
  path = _fake_gcloud(tmp_path, describe_rc=0 if exists else 1)
  proc = tpu_vm('create', '--name=cn-test', '--spot', path=path)
  assert proc.returncode == 0, proc.stderr
  calls = _calls(tmp_path)
  assert calls[0][:5] == ['compute', 'tpus', 'tpu-vm', 'describe', 'cn-test']
  if exists:
    assert len(calls) == 1
    assert 'cn-test exists (state READY): reusing it' in proc.stdout
  else:
    assert len(calls) == 2 and calls[1][3] == 'create' and '--spot' in calls[1]
  # Every command that ran was printed first, exactly.
  assert [['gcloud', *c] for c in calls] == gcloud_commands(proc.stdout)


def test_with_gcloud_delete_runs_it(tmp_path):
  path = _fake_gcloud(tmp_path, describe_rc=0)
  proc = tpu_vm('delete', '--name=cn-test', '--project=p', path=path)
  assert proc.returncode == 0, proc.stderr
  assert _calls(tmp_path) == [['compute', 'tpus', 'tpu-vm', 'delete', 'cn-test', '--quiet',
                               '--zone=us-central2-b', '--project=p']]
