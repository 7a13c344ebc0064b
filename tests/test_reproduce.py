"""Result tables: rows x seeds, reuse of finished runs, rendering."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from research import errors, reproduce
from research.reproduce import runner
from testlib import REPO_ROOT, subprocess_env


def tiny_table():
  overrides = (('num_train_steps', 30), ('tensorboard', False), ('plot', False))
  return reproduce.Table(
      name='tiny', title='Digits (tiny)', metric='accuracy',
      rows=(reproduce.Row('Perceptron', 'configs/digits_perceptron.py', overrides=overrides,
                          paper=90.0, source='made up for the test'),
            reproduce.Row('MLP', 'configs/digits_mlp.py', overrides=overrides, seeds=1)))


@pytest.mark.slow
def test_table_runs_each_row_and_reuses_finished_runs(tmp_path, monkeypatch, capsys):
  monkeypatch.setitem(reproduce.TABLES, 'tiny', tiny_table())
  text = reproduce.run_table('tiny', seeds=2, root=str(tmp_path), repo_root=REPO_ROOT)
  assert '| Perceptron |' in text and '(n=2)' in text and '(n=1)' in text
  assert 'made up for the test' in text
  summary = json.load(open(tmp_path / 'tiny' / 'table.json'))
  perceptron = summary[0]
  assert len(perceptron['values']) == 2 and perceptron['diff'] == pytest.approx(perceptron['mean'] - 90.0)
  assert os.path.exists(tmp_path / 'tiny' / 'table.md')

  # A second run trains nothing: every row's workdir is finished.
  mlp_result = tmp_path / 'tiny' / 'mlp' / 'seed_0' / 'results.json'
  before = os.path.getmtime(mlp_result)
  capsys.readouterr()
  again = reproduce.run_table('tiny', seeds=2, root=str(tmp_path), repo_root=REPO_ROOT)
  assert again == text
  assert 'training in' not in capsys.readouterr().out
  assert os.path.getmtime(mlp_result) == before


@pytest.mark.slow
def test_interrupted_row_resumes_and_only_missing_seeds_train(tmp_path, monkeypatch, capsys):
  table = tiny_table()
  monkeypatch.setitem(reproduce.TABLES, 'tiny', table)
  reproduce.run_table('tiny', seeds=1, root=str(tmp_path), repo_root=REPO_ROOT)
  # Simulate a kill after seed 0 of the perceptron row finished and seed 1 had
  # checkpoints but no results yet.
  os.remove(tmp_path / 'tiny' / 'mlp' / 'seed_0' / 'results.json')
  capsys.readouterr()
  text = reproduce.run_table('tiny', seeds=2, root=str(tmp_path), repo_root=REPO_ROOT)
  out = capsys.readouterr().out
  assert 'Perceptron seed 0: done earlier' in out
  assert 'Perceptron seed 1: training' in out
  assert 'MLP seed 0: training' in out and 'Resumed from step 30' in out
  assert '(n=2)' in text


def test_latex_format_and_unknown_table(tmp_path, monkeypatch):
  monkeypatch.setitem(reproduce.TABLES, 'tiny', tiny_table())
  tex = reproduce.run_table('tiny', seeds=1, root=str(tmp_path), fmt='latex', repo_root=REPO_ROOT)
  assert tex.startswith(r'\begin{tabular}') and r'\pm' not in tex.split('Perceptron')[1].split(r'\\')[0]
  with pytest.raises(errors.ConfigError, match='Unknown table'):
    reproduce.run_table('nope', seeds=1, root=str(tmp_path))


@pytest.mark.parametrize('name', sorted(reproduce.TABLES))
def test_every_table_row_names_a_loadable_config(name):
  from research.data import DATASETS
  from research.tasks import TASKS, Task
  for row in reproduce.TABLES[name].rows:
    config = reproduce.load_row_config(row, seed=0, repo_root=REPO_ROOT)
    assert config.seed == 0
    assert row.paper is None or row.source  # a paper figure names its source
    task = TASKS[config.task]
    assert config.model.name in task.models, (row.name, config.model.name)
    if row.vmap_seeds:  # Seeds as one program need a trained task on in-memory data.
      assert isinstance(task, Task) and DATASETS[config.dataset.name].in_memory, row.name


def test_notrain_prints_finished_runs_only(tmp_path, monkeypatch):
  monkeypatch.setitem(reproduce.TABLES, 'tiny', tiny_table())
  text = reproduce.run_table('tiny', seeds=2, root=str(tmp_path), repo_root=REPO_ROOT,
                             train_missing=False)
  assert text.count('not run yet') == 2
  assert not (tmp_path / 'tiny' / 'perceptron').exists()  # nothing trained


def test_accelerator_rows_train_only_when_asked_for_on_a_cpu(tmp_path, monkeypatch):
  overrides = (('num_train_steps', 10), ('tensorboard', False), ('plot', False))
  table = reproduce.Table(
      name='tiny', title='t', metric='accuracy', stand_in='made-up data',
      rows=(reproduce.Row('Fast', 'configs/digits_perceptron.py', overrides=overrides),
            reproduce.Row('Slow', 'configs/digits_perceptron.py', 'softmax',
                          overrides=overrides, accelerator=True)))
  monkeypatch.setitem(reproduce.TABLES, 'tiny', table)
  text = reproduce.run_table('tiny', seeds=1, root=str(tmp_path), repo_root=REPO_ROOT)
  assert "Data: a stand-in, not the paper's — made-up data." in text
  assert text.count('not run yet') == 1 and '| Slow |' in text
  assert not (tmp_path / 'tiny' / 'slow').exists()
  text = reproduce.run_table('tiny', seeds=1, root=str(tmp_path), repo_root=REPO_ROOT,
                             accelerator_rows=True)
  assert 'not run yet' not in text


@pytest.mark.slow
def test_parallel_workers_give_the_same_numbers_as_in_process(tmp_path, monkeypatch):
  # Two `launch.train` subprocesses, each pinned to its share of the cores; the
  # numbers equal an in-process run of the same rows and seeds.
  monkeypatch.setitem(reproduce.TABLES, 'tiny', tiny_table())
  parallel = reproduce.run_table('tiny', seeds=1, root=str(tmp_path / 'a'),
                                 repo_root=REPO_ROOT, workers=2)
  serial = reproduce.run_table('tiny', seeds=1, root=str(tmp_path / 'b'), repo_root=REPO_ROOT)
  strip = lambda t: [line.rsplit('|', 2)[0] for line in t.splitlines()]  # drop time columns
  assert strip(parallel) == strip(serial)
  result = json.load(open(tmp_path / 'a' / 'tiny' / 'perceptron' / 'seed_0' / 'results.json'))
  assert result['wall_seconds'] > 0
  assert os.path.exists(tmp_path / 'a' / 'tiny' / 'perceptron' / 'seed_0.log')


def test_the_pool_starts_the_longest_runs_first_and_keeps_the_order_of_unestimated_ones():
  row = lambda name, minutes=None: reproduce.Row(name, 'configs/digits_mlp.py',
                                                  cpu_minutes=minutes)
  small, cnn, resnet = row('small', 1.0), row('cnn', 19.0), row('resnet', 32.0)
  jobs = [(small, 0, 1), (small, 1, 1), (cnn, 0, 1), (cnn, 1, 1), (resnet, 0, 1)]
  assert [(r.name, s) for r, s, _ in runner.schedule(jobs)] == [
      ('resnet', 0), ('cnn', 0), ('cnn', 1), ('small', 0), ('small', 1)]
  # Table order: the slow row starts last and runs alone (1 + 19 + 32 = 52
  # minutes, the other worker idle after 20); longest first: 38 minutes.
  in_order = [runner.job_minutes(j) for j in jobs]
  assert runner.pool_minutes(in_order, 2) == 52.0
  assert runner.pool_minutes([runner.job_minutes(j) for j in runner.schedule(jobs)], 2) == 38.0
  # A vmapped row's job trains all its seeds: its cost is theirs together.
  assert runner.job_minutes((small, 0, 3)) == 3.0
  # Rows with no estimate (e.g. a teacher row before its student) keep their order.
  teacher, student = row('teacher'), row('student')
  unestimated = [(teacher, 0, 1), (student, 0, 1)]
  assert runner.schedule(unestimated) == unestimated


def test_a_row_that_fills_one_column_reads_its_own_split_and_leaves_the_others_blank():
  table = reproduce.Table(
      name='photos', title='Losses per photo', metric='perceptual_loss',
      splits=('cat', 'mug'), columns_are='photo',
      rows=(reproduce.Row('one photo', 'configs/gatys_style.py', result_splits=(('mug', 'image'),)),
            reproduce.Row('network', 'configs/johnson_style.py')))
  per_row = {'one photo': [{'image_loss': 2e9, 'train_seconds': 5.0}],
             'network': [{'cat_loss': 3e9, 'mug_loss': 4e9, 'train_seconds': 9.0}]}
  summary = reproduce.summarize(table, per_row)
  assert summary[0]['by_split']['mug']['mean'] == 2.0 and summary[0]['mean'] == 2.0
  assert summary[0]['by_split']['cat'] == {'n': 0, 'mean': None, 'std': None, 'values': [],
                                           'filled': False}
  assert [summary[1]['by_split'][s]['mean'] for s in ('cat', 'mug')] == [3.0, 4.0]
  text = reproduce.render(table, summary)
  assert 'perceptual loss / 1e9 of each photo' in text
  assert '| one photo | `configs/gatys_style.py` |  | 2.00 (n=1) |' in text
  assert '| network | `configs/johnson_style.py` | 3.00 (n=1) | 4.00 (n=1) |' in text
  assert 'not run yet' not in text


@pytest.mark.slow
def test_sigterm_to_the_pool_stops_its_runs_and_the_rerun_finishes_them(tmp_path):
  # launch.reproduce with 2 workers; SIGTERM once both runs train. No run may
  # be left training alone; rerunning the command completes the table.
  cmd = [sys.executable, '-m', 'launch.reproduce', 'digits', '--seeds=1', '--workers=2',
         f'--root={tmp_path}']
  proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=subprocess_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
  logs = []
  deadline = time.time() + 300
  while time.time() < deadline:
    logs = [p for p in tmp_path.rglob('seed_0.log') if 'step ' in p.read_text()]
    if len(logs) >= 2:
      break
    time.sleep(0.5)
  assert len(logs) >= 2, 'the two runs never started training'
  proc.send_signal(signal.SIGTERM)
  out, _ = proc.communicate(timeout=300)
  assert proc.returncode == 0, out[-3000:]
  assert 'Preempted (SIGTERM): stopped' in out and 'run the same command again' in out
  leftover = subprocess.run(['pgrep', '-f', f'--workdir={tmp_path}'], capture_output=True,
                            text=True)
  assert leftover.stdout.strip() == '', 'a run kept training after the pool stopped'
  assert any('Preempted (SIGTERM): checkpoint saved' in p.read_text() for p in logs)
  rerun = subprocess.run(cmd, cwd=REPO_ROOT, env=subprocess_env(), capture_output=True,
                         text=True, timeout=900)
  assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
  assert 'Resumed from step' in ''.join(p.read_text() for p in logs)
