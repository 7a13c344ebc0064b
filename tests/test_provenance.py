"""Provenance: every workdir records what produced it (library versions,
devices, processes, the code's git commit and whether it had uncommitted
changes), and tables show it."""

import json
import os
import subprocess

import jax

from research import provenance, reproduce, train
from research.kernels import onednn
from testlib import REPO_ROOT, load_config, quiet


def _git(root, *args):
  return subprocess.run(['git', '-C', str(root), *args], capture_output=True, text=True,
                        check=True).stdout.strip()


def test_git_state_of_a_clean_and_a_dirty_checkout_and_of_no_checkout(tmp_path):
  repo = tmp_path / 'repo'
  repo.mkdir()
  _git(repo, 'init', '-q')
  (repo / 'a.txt').write_text('one\n')
  (repo / 'docs' / 'results').mkdir(parents=True)
  (repo / 'docs' / 'results' / 'table.json').write_text('{}\n')
  (repo / 'README.md').write_text('# one\n')
  _git(repo, 'add', 'a.txt', 'docs', 'README.md')
  _git(repo, '-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-qm', 'one')
  head = _git(repo, 'rev-parse', 'HEAD')
  assert provenance.git_state(str(repo)) == {'git_commit': head, 'git_dirty': False}
  (repo / 'untracked.txt').write_text('not part of the code\n')
  assert provenance.git_state(str(repo))['git_dirty'] is False
  # A table published (its results file, the README) is not a change of code.
  (repo / 'docs' / 'results' / 'table.json').write_text('{"rows": []}\n')
  (repo / 'README.md').write_text('# two\n')
  assert provenance.git_state(str(repo))['git_dirty'] is False
  (repo / 'a.txt').write_text('two\n')
  assert provenance.git_state(str(repo)) == {'git_commit': head, 'git_dirty': True}
  assert provenance.git_state(str(tmp_path / 'elsewhere')) == {
      'git_commit': None, 'git_dirty': None}


def test_host_cpu_names_the_model_and_the_instruction_sets_xla_compiles_for(tmp_path):
  x86 = tmp_path / 'x86'
  x86.write_text('processor\t: 0\nmodel name\t: AMD EPYC 9B14\n'
                 'flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512_bf16 sha_ni\n\n'
                 'processor\t: 1\nmodel name\t: AMD EPYC 9B14\nflags\t\t: fpu\n')
  cpu = provenance.host_cpu(str(x86))
  assert cpu['model'] == 'AMD EPYC 9B14'
  assert cpu['features'] == ['sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512_bf16']
  arm = tmp_path / 'arm'
  arm.write_text('processor\t: 0\nFeatures\t: fp asimd sve sve2 crc32\n')
  assert provenance.host_cpu(str(arm))['features'] == ['asimd', 'sve', 'sve2']
  assert provenance.host_cpu(str(tmp_path / 'missing'))['features'] == []
  assert 'host_cpu' in provenance.collect()


def test_threads_are_the_affinity_and_the_onednn_team(monkeypatch):
  monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: {0, 1, 2})
  monkeypatch.setattr(onednn, '_cgroup_cpu_limit', lambda: None)
  monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
  assert provenance.threads() == {'cpus': 3, 'onednn_team': 3, 'omp_num_threads': None}
  monkeypatch.setenv('OMP_NUM_THREADS', '1')
  assert provenance.threads() == {'cpus': 3, 'onednn_team': 1, 'omp_num_threads': '1'}
  monkeypatch.setenv('OMP_NUM_THREADS', 'many')  # recorded as given; no team
  assert provenance.threads()['onednn_team'] is None
  assert set(provenance.collect()['threads']) == {'cpus', 'onednn_team', 'omp_num_threads'}


def test_workdir_records_each_start_and_results_name_the_finishing_code(tmp_path):
  config = quiet(load_config('digits_perceptron'), num_train_steps=4)
  train.train_and_evaluate(config, str(tmp_path))
  config = quiet(load_config('digits_perceptron'), num_train_steps=8)
  train.train_and_evaluate(config, str(tmp_path))  # extended: a resume
  records = json.loads((tmp_path / 'provenance.json').read_text())
  assert len(records) == 2
  for record in records:
    assert record['libraries']['jax'] == jax.__version__
    assert record['libraries']['flax'] and record['libraries']['optax']
    assert record['libraries']['orbax-checkpoint'] and record['libraries']['tensorflow-datasets']
    assert record['device_kind'] == jax.devices()[0].device_kind
    assert record['num_devices'] == jax.device_count() and record['num_processes'] == 1
    assert record['git_commit'] == provenance.git_state(REPO_ROOT)['git_commit']
  results = json.loads((tmp_path / 'results.json').read_text())
  assert results['provenance']['git_dirty'] == provenance.git_state(REPO_ROOT)['git_dirty']
  assert results['steps'] == 8


def test_tables_show_what_produced_their_runs(tmp_path):
  record = {'libraries': {'jax': '0.10.2'}, 'num_devices': 8, 'device_kind': 'TPU v4',
            'num_processes': 2, 'git_commit': 'abcdef0123456789', 'git_dirty': True}
  line = provenance.summary(record)
  assert line == 'code abcdef0 (uncommitted changes), jax 0.10.2, 8 x TPU v4, 2 process(es)'
  table = reproduce.Table(name='t', title='T', metric='accuracy',
                          rows=(reproduce.Row('a', 'configs/digits_perceptron.py'),))
  results = [{'test_accuracy': 0.5, 'train_seconds': 1.0, 'provenance': record}]
  text = reproduce.render(table, reproduce.summarize(table, {'a': results}))
  assert text.splitlines()[-1] == f'Runs: {line}'
