"""Tables as data: the committed result files behind the README's tables.

`publish` writes `docs/results/TABLE.json` from a table's finished workdirs:
per row the command that trains one seed, and per seed the whole results.json
(every metric, train time, provenance: commit, library versions, device). The
README's tables are rendered from these files (`render_file`), never typed in:
each sits between `<!-- table: NAME -->` and `<!-- /table -->` markers,
`update_readme` rewrites them and `readme_differences` (run by the tests)
reports any block that differs from what its file renders.
"""

from __future__ import annotations

import json
import re
from typing import Any

from research import config_lib, errors, fileio
from research.reproduce.report import render, summarize
from research.reproduce.runner import launch_command, run_dir
from research.reproduce.tables import TABLES, Table

RESULTS_DIR = 'docs/results'
FORMAT_VERSION = 1
_BLOCK = re.compile(r'<!-- table: (?P<name>[\w-]+) -->\n(?P<body>.*?)<!-- /table -->', re.S)


def results_path(name: str, repo_root: str = '.') -> str:
  return fileio.join(repo_root, RESULTS_DIR, f'{name}.json')


def _command(row) -> str:
  """The `launch.train` line of one seed, with SEED and WORKDIR to fill in."""
  argv = launch_command(row, 'SEED', 'WORKDIR', repo_root='.')
  return ' '.join(['python', *argv[1:]]).replace('--config=./', '--config=')


def publish(table: Table, *, seeds: int, root: str, repo_root: str = '.',
            command: str = '') -> str:
  """Writes RESULTS_DIR/TABLE.json from the finished runs under ROOT; returns its path.

  `command` is how the table was produced (e.g. the launch.reproduce line).
  Rows with no finished run are kept, with no runs: the README shows them as
  not run yet.
  """
  rows = []
  for row in table.rows:
    num_seeds = row.seeds or seeds
    runs = []
    for seed in range(num_seeds):
      path = fileio.join(run_dir(root, table, row, seed), 'results.json')
      if fileio.exists(path):
        runs.append({'seed': seed, 'results': fileio.read_json(path)})
    rows.append({
        'row': row.name, 'config': row.config, 'arg': row.arg,
        'overrides': [list(kv) for kv in row.overrides],
        'command': _command(row),
        'runs': runs,
    })
  record = {'format': FORMAT_VERSION, 'table': table.name, 'command': command, 'rows': rows}
  path = results_path(table.name, repo_root)
  fileio.write_atomically(path, json.dumps(record, indent=1, sort_keys=True) + '\n')
  return path


def load(name: str, repo_root: str = '.') -> dict[str, Any]:
  config_lib.check_choice('table', name, TABLES)
  path = results_path(name, repo_root)
  if not fileio.exists(path):
    raise errors.UserError(
        f'No result file {path} for table {name!r}; produce it with `python -m '
        f'launch.reproduce {name} --publish` after its runs finish.')
  record = fileio.read_json(path)
  if record.get('format') != FORMAT_VERSION or record.get('table') != name:
    raise errors.UserError(f'{path} is not a format-{FORMAT_VERSION} result file of {name!r}.')
  return record


def render_file(name: str, repo_root: str = '.', fmt: str = 'markdown') -> str:
  """The table, rendered from its committed result file (no workdirs needed).

  Rows are matched by name, so a row added to TABLES shows as not run yet and
  a file row that TABLES no longer has is an error.
  """
  record = load(name, repo_root)
  table = TABLES[name]
  by_name = {row['row']: row for row in record['rows']}
  unknown = sorted(set(by_name) - {row.name for row in table.rows})
  if unknown:
    raise errors.UserError(f'{results_path(name, repo_root)} has rows the table {name!r} no '
                           f'longer has: {unknown}; publish it again.')
  per_row = {row.name: [run['results'] for run in by_name.get(row.name, {}).get('runs', [])]
             for row in table.rows}
  text = render(table, summarize(table, per_row), fmt)
  if record.get('command'):
    line = f'Produced by `{record["command"]}`; per-seed results: `{RESULTS_DIR}/{name}.json`.'
    text += f'\n\n{line}' if fmt == 'markdown' else f'\n% {line}'
  return text


def _readme_blocks(readme: str) -> list[tuple[str, str]]:
  return [(m['name'], m['body']) for m in _BLOCK.finditer(readme)]


def readme_differences(readme_path: str = 'README.md', repo_root: str = '.') -> list[str]:
  """One line per README table block that differs from its rendered file, and
  per result file that no block shows."""
  readme = fileio.read_text(readme_path)
  problems = []
  shown = set()
  for name, body in _readme_blocks(readme):
    shown.add(name)
    if name not in TABLES:
      problems.append(f'README block {name!r} names no table of TABLES.')
      continue
    try:
      rendered = render_file(name, repo_root)
    except errors.UserError as e:
      problems.append(f'README block {name!r}: {e}')
      continue
    if body != rendered + '\n':
      problems.append(f'README block {name!r} differs from {results_path(name, repo_root)} '
                      '(run `python -m launch.reproduce --update_readme`).')
  results_dir = fileio.join(repo_root, RESULTS_DIR)
  files = fileio.listdir(results_dir) if fileio.isdir(results_dir) else []
  for file in sorted(f for f in files if f.endswith('.json')):
    if file[:-len('.json')] not in shown:
      problems.append(f'{RESULTS_DIR}/{file} has no `<!-- table: {file[:-5]} -->` block in '
                      'the README.')
  return problems


def update_readme(readme_path: str = 'README.md',
                  repo_root: str = '.') -> tuple[list[str], list[str]]:
  """Re-renders every table block of the README that has a result file;
  returns (the names re-rendered, the names left as they were: no file yet)."""
  readme = fileio.read_text(readme_path)
  names, missing = [], []

  def block(match):
    if not fileio.exists(results_path(match['name'], repo_root)):
      missing.append(match['name'])
      return match.group(0)
    names.append(match['name'])
    return (f'<!-- table: {match["name"]} -->\n{render_file(match["name"], repo_root)}\n'
            '<!-- /table -->')

  fileio.write_atomically(readme_path, _BLOCK.sub(block, readme))
  return names, missing
