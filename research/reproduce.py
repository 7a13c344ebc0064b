"""Paper-style result tables: every row run for N seeds, beside the paper's figure.

A table is data (`TABLES`): rows name a config, its variant and overrides, the
paper's figure and where it comes from. `run_table` trains what is missing
(reusing finished workdirs, resuming interrupted ones), then renders
`row | paper (source) | ours mean ± std (n) | difference | wall time`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from typing import Any

import numpy as np

from research import config_lib, errors, writers


@dataclasses.dataclass(frozen=True)
class Row:
  name: str
  config: str                     # path relative to the repository root
  arg: str | None = None
  overrides: tuple = ()           # ((dotted key, value), ...)
  paper: float | None = None      # in the table's unit
  source: str = ''
  seeds: int | None = None        # fixed number of seeds (e.g. 1 for slow rows)
  # Train all seeds as one compiled program (research/multiseed.py): for small
  # in-memory classification models, where one seed leaves the machine idle.
  vmap_seeds: bool = False


# metric -> (unit shown in the table, value of one split in a results.json)
METRICS = {
    'accuracy': ('accuracy %', lambda r, split: 100.0 * float(r[f'{split}_accuracy'])),
    'error': ('error %', lambda r, split: 100.0 * (1.0 - float(r[f'{split}_accuracy']))),
    'bits_per_token': ('bits per token', lambda r, split: float(r[f'{split}_bits_per_token'])),
    'perplexity': ('perplexity', lambda r, split: float(r[f'{split}_perplexity'])),
    'errors': ('errors (of 10,000)', lambda r, split: (
        (1.0 - float(r[f'{split}_accuracy'])) * float(r[f'{split}_examples']))),
    'squared_error': ('squared error per image',
                      lambda r, split: float(r[f'{split}_squared_error'])),
    # The best of the periodic evaluations (train.best_during_training).
    'best_accuracy': ('best-during-training accuracy %',
                      lambda r, split: 100.0 * float(r[f'best_{split}_accuracy'])),
}


@dataclasses.dataclass(frozen=True)
class Table:
  name: str
  title: str
  metric: str                     # a key of METRICS
  rows: tuple
  note: str = ''
  splits: tuple = ('test',)       # one "ours" column each; the paper figure is the last's
  unit_label: str = ''            # overrides METRICS' unit (e.g. 'bits per character')
  # More "ours" columns, of the last split, shown but not compared with the paper.
  extra_metrics: tuple = ()

  @property
  def unit(self) -> str:
    return f'{self.splits[-1]} {self.unit_label or METRICS[self.metric][0]}'


def _fmnist(name, config, paper, source, **kw):
  return Row(name=name, config=f'configs/{config}.py', paper=paper, source=source, **kw)


XIAO = 'Xiao et al. 2017, Table 3'
# The fashion_mnist table's small-CNN run (seed 0): the hinton2015 table's teacher.
FMNIST_CNN_TEACHER = 'runs/tables/fashion_mnist/small_cnn__bn__dropout/seed_0'
BENCH = 'Fashion-MNIST benchmark list (zalandoresearch README)'

TABLES: dict[str, Table] = {
    'fashion_mnist': Table(
        name='fashion_mnist', title='Fashion-MNIST (60k train / 10k test)', metric='accuracy',
        rows=(
            _fmnist('Logistic regression', 'fashion_mnist_logreg', 84.2,
                    f'{XIAO}: LogisticRegression C=1 l1'),
            _fmnist('MLP 256-256', 'fashion_mnist_mlp', 87.1,
                    f'{XIAO}: MLPClassifier relu [100]'),
            _fmnist('LeNet-5', 'fashion_mnist_lenet5', 91.6,
                    f'{BENCH}: 2 Conv + pooling (TF docs)'),
            _fmnist('Small CNN (BN, dropout)', 'fashion_mnist_cnn', 92.6,
                    f'{BENCH}: 3 Conv + pooling + 2 FC + dropout'),
            _fmnist('ResNet-20', 'fashion_mnist_resnet', 94.9,
                    f'{BENCH}: ResNet18 + flips/translation', seeds=1),
        ),
        note='Paper figures are the closest published rows, not identical models.'),
    'mnist_lecun98': Table(
        name='mnist_lecun98', title='MNIST, LeCun et al. 1998 (test error)', metric='error',
        rows=(
            Row('Linear classifier', 'configs/mnist_mlp.py', 'hidden=0', paper=12.0,
                source="LeCun's MNIST table: linear classifier (1-layer NN)"),
            Row('2-layer NN, 300 hidden', 'configs/mnist_mlp.py', 'hidden=300', paper=4.7,
                source="LeCun's MNIST table: 2-layer NN, 300 HU, MSE"),
            Row('3-layer NN, 500+150 hidden', 'configs/mnist_mlp.py', 'hidden=500-150', paper=2.95,
                source="LeCun's MNIST table: 3-layer NN, 500+150 HU"),
            Row('LeNet-5', 'configs/mnist_lenet5.py', paper=0.95,
                source="LeCun's MNIST table: LeNet-5, no distortions"),
        ),
        note='Needs the TFDS mnist files (download where a network exists).'),
    'cifar10_resnet': Table(
        name='cifar10_resnet', title='CIFAR-10 ResNets, He et al. 2016 Table 6 (test error)',
        metric='error',
        rows=tuple(
            Row(f'ResNet-{d}', 'configs/cifar10_resnet.py', str(d), paper=p,
                source='He et al. 2016, Table 6')
            for d, p in ((20, 8.75), (32, 7.51), (44, 7.17), (56, 6.97), (110, 6.43))),
        note='Needs the TFDS cifar10 files; 164 epochs per run (accelerator recommended).'),
    'lm_vs_ngram': Table(
        name='lm_vs_ngram',
        title='Character-level language models on Debian `fortunes` (2.32M / 129k / 129k chars)',
        metric='bits_per_token', unit_label='bits per character (lower is better)',
        splits=('validation', 'test'),
        rows=(
            Row('KN 3-gram', 'configs/fortunes_char.py', 'ngram,order=3', seeds=1),
            Row('KN 5-gram', 'configs/fortunes_char.py', 'ngram,order=5', seeds=1),
            Row('KN 7-gram', 'configs/fortunes_char.py', 'ngram,order=7', seeds=1),
            Row('Elman RNN 256', 'configs/fortunes_char.py', 'rnn'),
            Row('LSTM 256', 'configs/fortunes_char.py', 'lstm'),
            Row('GRU 256', 'configs/fortunes_char.py', 'gru'),
        ),
        note=('Interpolated modified Kneser-Ney n-grams (Chen & Goodman 1998) are fitted '
              'by counting: deterministic, one run each. Every model scores the same '
              'characters (each split after its first) with the same train-split '
              'vocabulary. No published figures exist for this corpus.')),
    'mnist1d': Table(
        name='mnist1d',
        title='MNIST-1D (4,000 train / 1,000 test signals of length 40), final test accuracy',
        metric='accuracy', extra_metrics=('best_accuracy',),
        rows=tuple(
            Row(f'{name}{", shuffled" if shuffle else ""}', 'configs/mnist1d.py',
                f'{variant},shuffle' if shuffle else variant, paper=paper,
                source=('Greydanus & Kobak 2024, MNIST-1D table (repository README)'
                        + (', shuffled' if shuffle else '')),
                vmap_seeds=True)
            for shuffle, papers in ((False, (32, 68, 94, 91)), (True, (32, 68, 56, 57)))
            for (variant, name), paper in zip(
                (('logreg', 'Logistic regression'), ('mlp', 'MLP'), ('cnn', 'CNN'),
                 ('gru', 'GRU')), papers)),
        note=('All seeds of a row train as one program (jax.vmap over seeds). The table '
              'compares the final accuracy (step 6,000) with the paper; the best of the '
              'evaluations every 250 steps is shown beside it. The reference notebook '
              '(notebooks/mnist1d-classification.ipynb, one seed, its logged output) ends '
              'at 31.5 / 65.1 / 92.3 / 89.1 %, shuffled 31.5 / 66.0 / 58.7 / 53.3 %.')),
    'kim2014': Table(
        name='kim2014',
        title='Kim 2014, CNNs for sentence classification: SST-2 (GLUE validation)',
        metric='accuracy',
        rows=tuple(
            Row(name, 'configs/sst2_textcnn.py', variant, paper=paper,
                source='Kim 2014, Table 2 (SST-2 test)')
            for name, variant, paper in (('CNN-rand', 'rand', 82.7), ('CNN-static', 'static', 86.8),
                                         ('CNN-non-static', 'nonstatic', 87.2))),
        note=('Needs the TFDS glue/sst2 files and the word2vec GoogleNews vectors (see '
              'configs/sst2_textcnn.py). GLUE hides the SST-2 test labels: ours are on its '
              '872 validation sentences, Kim\'s on the 1,821 test sentences.')),
    'fortunes_text': Table(
        name='fortunes_text',
        title='Which of 43 Debian `fortunes` files a quotation comes from (12,157 train / 1,552 test)',
        metric='accuracy',
        rows=(
            Row('Bag-of-words logistic regression', 'configs/fortunes_textcnn.py', 'bow',
                vmap_seeds=True),
            # Not vmapped: on XLA:CPU a convolution or LSTM vmapped over seeds runs
            # several times slower than the seeds one after another (grouped
            # convolutions, batched matmuls), unlike MNIST-1D's tiny models.
            Row('LSTM 150', 'configs/fortunes_textcnn.py', 'lstm'),
            Row('TextCNN (CNN-rand)', 'configs/fortunes_textcnn.py', 'cnn'),
        ),
        note=('Same splits, vocabulary (train words seen twice or more), 300-d word vectors '
              'learned from scratch and 64-word inputs for every row; hyper-parameters chosen '
              'on the validation split (configs/fortunes_textcnn.py). No published figures '
              'exist for this corpus; the majority class (people) is 8.1 % of the test split.')),
    'hinton2006': Table(
        name='hinton2006',
        title=('Hinton & Salakhutdinov 2006 on Fashion-MNIST: 30-d codes, test squared '
               'reconstruction error per image (lower is better)'),
        metric='squared_error',
        rows=(
            Row('PCA, 30 components', 'configs/fashion_mnist_autoencoder.py', 'pca', paper=13.87,
                source='Hinton & Salakhutdinov 2006, MNIST (text, Fig. 2)', seeds=1),
            Row('Autoencoder 784-1000-500-250-30, end to end', 'configs/fashion_mnist_autoencoder.py',
                'e2e'),
            Row('Autoencoder, layer-wise pre-trained + fine-tuned',
                'configs/fashion_mnist_autoencoder.py', 'layerwise', paper=3.00,
                source='Hinton & Salakhutdinov 2006, MNIST (RBM pre-training)'),
        ),
        note=('Paper figures are on MNIST, shown for reference only: the datasets differ (PCA '
              'does better on Fashion-MNIST than on MNIST, the autoencoder worse). PCA is fitted '
              'in closed form: one run. Our '
              'pre-training trains each layer as a shallow autoencoder (not an RBM), 1 epoch '
              'per layer, then 6 epochs end to end; the end-to-end row trains 10 epochs.')),
    'hinton2015': Table(
        name='hinton2015',
        title=('Hinton, Vinyals & Dean 2015 on Fashion-MNIST: a 784-800-800-10 MLP trained '
               'from scratch vs distilled from a CNN teacher'),
        metric='errors',
        rows=(
            Row('Student 2x800, from scratch', 'configs/fashion_mnist_distill.py', 'student',
                overrides=(('preprocess.standardize', True),), paper=146,
                source='Hinton et al. 2015, sec. 3 (MNIST)'),
            Row('Student 2x800, distilled (T = 4, soft weight 0.5)',
                'configs/fashion_mnist_distill.py', 'distilled', overrides=(
                    ('preprocess.standardize', True),
                    ('distill.teacher_workdir', FMNIST_CNN_TEACHER),
                    ('distill.temperature', 4.0), ('distill.soft_weight', 0.5)), paper=74,
                source='Hinton et al. 2015, sec. 3 (MNIST)'),
        ),
        note=('Teacher: the small CNN of the fashion_mnist table, seed 0 (93.08 % test '
              f'accuracy, i.e. 692 errors; run that table first: {FMNIST_CNN_TEACHER}). The '
              "paper's MNIST teacher (2x1200, dropout, jitter) makes 67 errors. T and the soft "
              'weight were chosen on a held-out part of the train split (train[50000:], seed 0: '
              'student 90.16 %; T = 20, weight 0.9 on the test split 89.56 % vs 90.35 %; T = 4, '
              'weight 0.5: 90.77 %). Paper figures are MNIST test errors, shown for reference.')),
}


def run_dir(root: str, table: Table, row: Row, seed: int) -> str:
  slug = ''.join(ch if ch.isalnum() else '_' for ch in row.name.lower()).strip('_')
  return os.path.join(root, table.name, slug, f'seed_{seed}')


def load_row_config(row: Row, seed: int, repo_root: str = '.'):
  config = config_lib.load(os.path.join(repo_root, row.config), row.arg)
  config_lib.override(config, dict(row.overrides))
  config.seed = seed
  return config


def run_row(table: Table, row: Row, seeds: int, root: str, repo_root: str = '.',
            train_missing: bool = True) -> list[dict[str, Any]]:
  """Results of each seed: read from finished workdirs, trained otherwise
  (or, with train_missing=False, left out)."""
  from research import train  # Heavy imports only when something runs.

  num_seeds = row.seeds or seeds
  if row.vmap_seeds and train_missing and not all(
      os.path.exists(os.path.join(run_dir(root, table, row, s), 'results.json'))
      for s in range(num_seeds)):
    from research import multiseed
    writers.log(f'[{table.name}] {row.name}: training seeds 0-{num_seeds - 1} as one program.')
    t0 = time.perf_counter()
    multiseed.train_and_evaluate_seeds(
        load_row_config(row, 0, repo_root), list(range(num_seeds)),
        [run_dir(root, table, row, s) for s in range(num_seeds)])
    _add_wall_seconds([run_dir(root, table, row, s) for s in range(num_seeds)],
                      time.perf_counter() - t0)
  results = []
  for seed in range(num_seeds):
    workdir = run_dir(root, table, row, seed)
    path = os.path.join(workdir, 'results.json')
    if os.path.exists(path):
      with open(path, encoding='utf-8') as f:
        results.append(json.load(f))
      writers.log(f'[{table.name}] {row.name} seed {seed}: done earlier ({workdir}).')
      continue
    if not train_missing:
      continue
    writers.log(f'[{table.name}] {row.name} seed {seed}: training in {workdir}.')
    t0 = time.perf_counter()
    train.train_and_evaluate(load_row_config(row, seed, repo_root), workdir)
    _add_wall_seconds([workdir], time.perf_counter() - t0)
    with open(path, encoding='utf-8') as f:
      results.append(json.load(f))
  return results


def _add_wall_seconds(workdirs: list[str], seconds: float) -> None:
  """Records a finished run's wall time (shared by seeds trained together)."""
  for workdir in workdirs:
    path = os.path.join(workdir, 'results.json')
    with open(path, encoding='utf-8') as f:
      result = json.load(f)
    result['wall_seconds'] = seconds
    with open(path, 'w', encoding='utf-8') as f:
      json.dump(result, f, indent=2, sort_keys=True)


def launch_command(row: Row, seed: int, workdir: str, repo_root: str,
                    num_seeds: int = 1) -> list[str]:
  config = os.path.join(repo_root, row.config) + (f':{row.arg}' if row.arg else '')
  return [sys.executable, '-m', 'launch.train', f'--config={config}', f'--workdir={workdir}',
          f'--config.seed={seed}', f'--num_seeds={num_seeds}',
          *(f'--config.{k}={v}' for k, v in row.overrides)]


def train_in_parallel(table: Table, seeds: int, root: str, repo_root: str = '.',
                      workers: int = 2) -> None:
  """Trains every missing (row, seed) as a `launch.train` subprocess, `workers`
  at a time, each pinned to its own share of this machine's cores.

  For CPU hosts: small models use two cores better as two one-core processes
  than as one two-core process (XLA's threads gain little on small matmuls;
  the fortunes LSTM: 2 x 4.8 vs 7.0 steps/s on 2 cores). Each run logs to
  WORKDIR.log; a failed run is reported after the others finish.
  """
  from research.data import datasets

  def missing(row, seed):
    return not os.path.exists(os.path.join(run_dir(root, table, row, seed), 'results.json'))

  # A job is (row, first seed, number of seeds): one seed, or a vmapped row's all.
  jobs = []
  for row in table.rows:
    num_seeds = row.seeds or seeds
    if row.vmap_seeds:
      jobs += [(row, 0, num_seeds)] if any(missing(row, s) for s in range(num_seeds)) else []
    else:
      jobs += [(row, s, 1) for s in range(num_seeds) if missing(row, s)]
  # Prepare every dataset here first: two workers building the same one into
  # the same directory would race.
  prepared = set()
  for row, _, _ in jobs:
    dataset = load_row_config(row, 0, repo_root).dataset
    if dataset.to_json_best_effort() not in prepared:
      datasets.prepare(dataset)
      prepared.add(dataset.to_json_best_effort())
  cores = sorted(os.sched_getaffinity(0))
  slots = [cores[i::workers] for i in range(workers)] if len(cores) >= workers else [cores] * workers
  running: dict[int, tuple] = {}  # slot -> (process, row, seeds, workdir, start, log)
  failures = []
  while jobs or running:
    for slot in range(workers):
      if slot in running or not jobs:
        continue
      row, seed, num_seeds = jobs.pop(0)
      # A vmapped row trains into ROW/seed_K from its row directory.
      workdir = run_dir(root, table, row, seed)
      launch_dir = os.path.dirname(workdir) if num_seeds > 1 else workdir
      seeds_str = f'seeds {seed}-{seed + num_seeds - 1}' if num_seeds > 1 else f'seed {seed}'
      os.makedirs(os.path.dirname(workdir), exist_ok=True)
      log = open(launch_dir + '.log', 'a', encoding='utf-8')
      writers.log(f'[{table.name}] {row.name} {seeds_str}: training in {launch_dir} '
                  f'(cores {slots[slot]}, log {launch_dir}.log).')
      process = subprocess.Popen(
          launch_command(row, seed, launch_dir, repo_root, num_seeds), cwd=repo_root,
          stdout=log, stderr=subprocess.STDOUT)
      # Pinned right after the start (a preexec_fn would run in a forked copy of
      # this multithreaded process); the child's threads start after imports.
      os.sched_setaffinity(process.pid, slots[slot])
      running[slot] = (process, row, seeds_str, [
          run_dir(root, table, row, s) for s in range(seed, seed + num_seeds)],
          time.perf_counter(), log, launch_dir)
    time.sleep(0.5)
    for slot, (process, row, seeds_str, workdirs, start, log, launch_dir) in list(
        running.items()):
      if process.poll() is None:
        continue
      log.close()
      del running[slot]
      if process.returncode != 0 or not all(
          os.path.exists(os.path.join(w, 'results.json')) for w in workdirs):
        failures.append(f'{row.name} {seeds_str} (exit {process.returncode}; '
                        f'see {launch_dir}.log)')
        continue
      seconds = time.perf_counter() - start
      _add_wall_seconds(workdirs, seconds)
      writers.log(f'[{table.name}] {row.name} {seeds_str}: done in {seconds:.0f} s.')
  if failures:
    raise errors.UserError('Runs failed: ' + '; '.join(failures))


def metric_value(table: Table, result: dict[str, Any], split: str | None = None) -> float:
  return METRICS[table.metric][1](result, split or table.splits[-1])


def _stats(values: list[float]) -> dict[str, Any]:
  return dict(n=len(values), mean=float(np.mean(values)) if values else None,
              std=float(np.std(values)) if len(values) > 1 else None, values=values)


def summarize(table: Table, per_row: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
  """Per row: mean/std/values of the last split (the paper's), `by_split` for all."""
  summary = []
  for row in table.rows:
    results = per_row[row.name]
    by_split = {split: _stats([metric_value(table, r, split) for r in results])
                for split in table.splits}
    main = by_split[table.splits[-1]]
    extra = {metric: _stats([METRICS[metric][1](r, table.splits[-1]) for r in results])
             for metric in table.extra_metrics}
    summary.append(dict(
        row=row.name, config=row.config + (f':{row.arg}' if row.arg else ''),
        paper=row.paper, source=row.source, **main, by_split=by_split, extra=extra,
        diff=None if row.paper is None or main['mean'] is None else main['mean'] - row.paper,
        train_seconds=(float(np.mean([r['train_seconds'] for r in results]))
                       if results else None)))
  return summary


def render(table: Table, summary: list[dict[str, Any]], fmt: str = 'markdown') -> str:
  def ours(s):
    if s['mean'] is None:
      return 'not run yet'
    std = '' if s['std'] is None else f' ± {s["std"]:.{digits}f}'
    return f'{s["mean"]:.{digits}f}{std} (n={s["n"]})'

  digits = {'bits_per_token': 3, 'squared_error': 3, 'errors': 1}.get(table.metric, 2)
  ours_headers = (['ours (mean ± std)'] if table.splits == ('test',)
                  else [f'ours: {split}' for split in table.splits])
  ours_headers += [f'ours: {METRICS[m][0]}' for m in table.extra_metrics]

  def ours_cells(s, cell):
    return ([cell(s['by_split'][split]) for split in table.splits]
            + [cell(s['extra'][m]) for m in table.extra_metrics])

  def seconds(s):
    return '' if s['train_seconds'] is None else f'{s["train_seconds"]:.0f}'

  def diff(s):
    return '' if s['diff'] is None else f'{s["diff"]:+.2f}'

  if fmt == 'markdown':
    # Tables without published figures (e.g. lm_vs_ngram) drop the paper columns.
    with_paper = any(row.paper is not None for row in table.rows)
    head = ['row', 'config'] + (['paper', 'source'] if with_paper else []) + ours_headers
    head += (['ours − paper'] if with_paper else []) + ['train s / run']
    align = ['---', '---'] + (['---:', '---'] if with_paper else []) + ['---:'] * (
        len(ours_headers) + with_paper + 1)
    lines = [f'**{table.title}** — {table.unit}', '',
             '| ' + ' | '.join(head) + ' |', '|' + '|'.join(align) + '|']
    for s in summary:
      cells = [s['row'], f'`{s["config"]}`']
      if with_paper:
        cells += ['' if s['paper'] is None else f'{s["paper"]:.2f}', s['source']]
      cells += ours_cells(s, ours)
      cells += ([diff(s)] if with_paper else []) + [seconds(s)]
      lines.append('| ' + ' | '.join(cells) + ' |')
    if table.note:
      lines += ['', table.note]
    return '\n'.join(lines)
  if fmt == 'latex':
    esc = lambda t: t.replace('%', r'\%').replace('_', r'\_').replace('&', r'\&')
    def ours_tex(s):
      if s['mean'] is None:
        return '--'
      std = '' if s['std'] is None else rf' $\pm$ {s["std"]:.{digits}f}'
      return rf'{s["mean"]:.{digits}f}{std} ($n={s["n"]}$)'

    lines = [r'\begin{tabular}{lrl' + 'r' * len(ours_headers) + 'r}', r'\toprule',
             rf'{esc(table.title)} & paper & source & '
             + ' & '.join(esc(h) for h in ours_headers) + r' & $\Delta$ \\', r'\midrule']
    for s in summary:
      paper = '' if s['paper'] is None else f'{s["paper"]:.2f}'
      cells = ' & '.join(ours_cells(s, ours_tex))
      lines.append(rf'{esc(s["row"])} & {paper} & {esc(s["source"])} & '
                   rf'{cells} & {diff(s)} \\')
    lines += [r'\bottomrule', r'\end{tabular}']
    return '\n'.join(lines)
  raise errors.ConfigError(f'Unknown format {fmt!r}; use markdown or latex.')


def check_metric(metric: str) -> None:
  config_lib.check_choice('metric', metric, METRICS)


def run_table(name: str, *, seeds: int, root: str, fmt: str = 'markdown',
              repo_root: str = '.', train_missing: bool = True, workers: int = 1) -> str:
  """The named table of TABLES: trains what is missing, prints and saves it."""
  config_lib.check_choice('table', name, TABLES)
  return tabulate(TABLES[name], seeds=seeds, root=root, fmt=fmt, repo_root=repo_root,
                  train_missing=train_missing, workers=workers)


def tabulate(table: Table, *, seeds: int, root: str, fmt: str = 'markdown',
             repo_root: str = '.', train_missing: bool = True, workers: int = 1) -> str:
  """Any table (TABLES' or a sweep's, research/sweep.py): trains the missing
  runs, then writes ROOT/TABLE/table.{md|tex,json,png} and returns the text."""
  for row in table.rows:  # Every config resolves before anything trains.
    load_row_config(row, 0, repo_root)
  if train_missing and workers > 1:
    train_in_parallel(table, seeds, root, repo_root, workers)
  per_row = {row.name: run_row(table, row, seeds, root, repo_root, train_missing)
             for row in table.rows}
  summary = summarize(table, per_row)
  text = render(table, summary, fmt)
  out_dir = os.path.join(root, table.name)
  os.makedirs(out_dir, exist_ok=True)
  ext = 'md' if fmt == 'markdown' else 'tex'
  with open(os.path.join(out_dir, f'table.{ext}'), 'w', encoding='utf-8') as f:
    f.write(text + '\n')
  with open(os.path.join(out_dir, 'table.json'), 'w', encoding='utf-8') as f:
    json.dump(summary, f, indent=2, default=lambda x: None if isinstance(x, float) and math.isnan(x) else x)
  if any(s['mean'] is not None for s in summary):
    from research import plots
    plots.plot_table(table.title, table.unit, summary,
                     {m: METRICS[m][0] for m in table.extra_metrics},
                     os.path.join(out_dir, 'table.png'))
  return text
