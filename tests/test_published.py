"""Tables as data: docs/results/TABLE.json files and the README blocks rendered
from them (research/reproduce/published.py)."""

import json
import os
import subprocess
import sys

import pytest

from research import errors, reproduce
from research.reproduce import published
from testlib import REPO_ROOT


def fake_table():
  return reproduce.Table(
      name='fake', title='Fake perplexities', metric='perplexity',
      splits=('validation', 'test'), papers_data='made-up files',
      rows=(reproduce.Row('KN', 'configs/ptb_lstm.py', 'ngram', paper=141.2, source='paper A',
                          seeds=1),
            reproduce.Row('LSTM', 'configs/ptb_lstm.py', 'small', paper=114.5,
                          source='paper B')))


def write_run(root, table, row, seed, validation, test):
  workdir = reproduce.run_dir(str(root), table, row, seed)
  os.makedirs(workdir)
  with open(os.path.join(workdir, 'results.json'), 'w') as f:
    json.dump({'validation_perplexity': validation, 'test_perplexity': test,
               'train_seconds': 10.0 + seed}, f)


@pytest.fixture
def fake(tmp_path, monkeypatch):
  table = fake_table()
  monkeypatch.setitem(reproduce.TABLES, 'fake', table)
  runs = tmp_path / 'runs'
  write_run(runs, table, table.rows[0], 0, 150.0, 141.0)
  write_run(runs, table, table.rows[1], 0, 120.0, 115.0)
  write_run(runs, table, table.rows[1], 1, 122.0, 117.0)
  repo = tmp_path / 'repo'
  repo.mkdir()
  return table, str(runs), str(repo)


def test_published_file_renders_what_the_runs_render(fake):
  table, runs, repo = fake
  path = published.publish(table, seeds=3, root=runs, repo_root=repo,
                           command='python -m launch.reproduce fake --seeds=3')
  record = json.load(open(path))
  assert path == os.path.join(repo, 'docs', 'results', 'fake.json')
  lstm = record['rows'][1]
  # Seed 2 never finished: the file holds the two that did, each with its results.
  assert [run['seed'] for run in lstm['runs']] == [0, 1]
  assert lstm['runs'][1]['results']['test_perplexity'] == 117.0
  assert lstm['command'] == ('python -m launch.train --config=configs/ptb_lstm.py:small '
                             '--workdir=WORKDIR --config.seed=SEED --num_seeds=1')
  text = published.render_file('fake', repo)
  from_runs = reproduce.tabulate(table, seeds=3, root=runs, train_missing=False)
  assert text.startswith(from_runs)
  assert '116.00 ± 1.00 (n=2)' in text and '141.00 (n=1)' in text
  assert "Data: the paper's own — made-up files." in text
  assert text.endswith('per-seed results: `docs/results/fake.json`.')


def test_readme_blocks_are_rewritten_and_any_drift_is_found(fake):
  table, runs, repo = fake
  published.publish(table, seeds=2, root=runs, repo_root=repo, command='cmd')
  readme = os.path.join(repo, 'README.md')
  with open(readme, 'w') as f:
    f.write('# Title\n\n<!-- table: fake -->\nold text\n<!-- /table -->\n\nAfter.\n')
  assert published.readme_differences(readme, repo) == [
      "README block 'fake' differs from " + os.path.join(repo, 'docs/results/fake.json')
      + ' (run `python -m launch.reproduce --update_readme`).']
  assert published.update_readme(readme, repo) == (['fake'], [])
  assert published.readme_differences(readme, repo) == []
  content = open(readme).read()
  assert content.startswith('# Title\n\n<!-- table: fake -->\n**Fake perplexities**')
  assert content.endswith('<!-- /table -->\n\nAfter.\n')
  # One number edited by hand is drift.
  with open(readme, 'w') as f:
    f.write(content.replace('116.00 ± 1.00', '115.00 ± 1.00'))
  assert len(published.readme_differences(readme, repo)) == 1
  # A block whose table has no result file yet is left alone, and reported.
  with open(readme, 'w') as f:
    f.write(content + '<!-- table: digits -->\nby hand\n<!-- /table -->\n')
  assert published.update_readme(readme, repo) == (['fake'], ['digits'])
  assert 'by hand' in open(readme).read()
  assert published.readme_differences(readme, repo) == [
      "README block 'digits': No result file " + os.path.join(repo, 'docs/results/digits.json')
      + " for table 'digits'; produce it with `python -m launch.reproduce digits --publish` "
      'after its runs finish.']
  # A result file that no block shows is reported too.
  with open(readme, 'w') as f:
    f.write('# Title\n')
  assert published.readme_differences(readme, repo) == [
      'docs/results/fake.json has no `<!-- table: fake -->` block in the README.']


def test_result_file_problems_are_clear_errors(fake, monkeypatch):
  table, runs, repo = fake
  with pytest.raises(errors.UserError, match='No result file .* --publish'):
    published.render_file('fake', repo)
  published.publish(table, seeds=2, root=runs, repo_root=repo)
  # A row renamed in TABLES after the file was written.
  renamed = reproduce.Table(name='fake', title='t', metric='perplexity',
                            rows=(table.rows[1],))
  monkeypatch.setitem(reproduce.TABLES, 'fake', renamed)
  with pytest.raises(errors.UserError, match=r"rows the table 'fake' no longer has: \['KN'\]"):
    published.render_file('fake', repo)
  with pytest.raises(errors.UserError, match='Unknown table'):
    published.render_file('nope', repo)


def test_every_readme_table_matches_its_committed_result_file():
  """The README's tables are what the committed runs produced, to the digit."""
  assert published.readme_differences(os.path.join(REPO_ROOT, 'README.md'), REPO_ROOT) == []
  blocks = published._readme_blocks(open(os.path.join(REPO_ROOT, 'README.md')).read())
  assert {'zaremba2014'} <= {name for name, _ in blocks}


def test_every_committed_result_file_records_commands_and_provenance():
  results_dir = os.path.join(REPO_ROOT, published.RESULTS_DIR)
  for file in sorted(os.listdir(results_dir)):
    record = json.load(open(os.path.join(results_dir, file)))
    assert record['command'].startswith('python -m launch.reproduce ' + file[:-5]), file
    for row in record['rows']:
      assert row['command'].startswith('python -m launch.train --config=configs/'), file
      for run in row['runs']:
        provenance = run['results']['provenance']
        assert provenance['git_commit'] and provenance['device_kind'], (file, row['row'])
        assert provenance['libraries']['jax'], (file, row['row'])


def test_from_results_cli_prints_the_rendered_file():
  out = subprocess.run(
      [sys.executable, '-m', 'launch.reproduce', 'zaremba2014', '--from_results'],
      cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
  assert out == published.render_file('zaremba2014', REPO_ROOT) + '\n'
