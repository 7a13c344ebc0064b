"""A table's statistics over seeds (`summarize`) and its rendering as
markdown or LaTeX (`render`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from research import config_lib, errors, provenance
from research.reproduce.tables import METRICS, Table


def metric_value(table: Table, result: dict[str, Any], split: str | None = None) -> float:
  return METRICS[table.metric][1](result, split or table.splits[-1])


def _stats(values: list[float], filled: bool = True) -> dict[str, Any]:
  """`filled` False: a column the row does not fill (Row.result_splits)."""
  return dict(n=len(values), mean=float(np.mean(values)) if values else None,
              std=float(np.std(values)) if len(values) > 1 else None, values=values,
              **({} if filled else {'filled': False}))


def summarize(table: Table, per_row: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
  """Per row: mean/std/values of the last split (the paper's), `by_split` for all."""
  summary = []

  def stats(row, results, metric, column):
    split = row.result_split(column)
    if split is None:
      return _stats([], filled=False)
    return _stats([METRICS[metric][1](r, split) for r in results])

  for row in table.rows:
    results = per_row[row.name]
    by_split = {split: stats(row, results, table.metric, split) for split in table.splits}
    main = by_split[table.splits[-1]]
    extra = {metric: stats(row, results, metric, table.splits[-1])
             for metric in table.extra_metrics}
    summary.append(dict(
        row=row.name, config=row.config + (f':{row.arg}' if row.arg else ''),
        paper=row.paper, source=row.source, **main, by_split=by_split, extra=extra,
        diff=None if row.paper is None or main['mean'] is None else main['mean'] - row.paper,
        train_seconds=(float(np.mean([r['train_seconds'] for r in results]))
                       if results else None),
        # What produced the runs (results.json of runs older than provenance have none).
        provenance=sorted({provenance.summary(r['provenance']) for r in results
                           if 'provenance' in r})))
  return summary


def provenance_lines(summary: list[dict[str, Any]]) -> list[str]:
  """'Runs: <one line per distinct code / library / device combination>'."""
  seen = sorted({p for s in summary for p in s.get('provenance', ())})
  return [f'Runs: {p}' for p in seen]


def data_lines(table: Table) -> list[str]:
  """Which data every row ran on: the paper's own, or a stand-in."""
  if table.papers_data:
    return [f"Data: the paper's own — {table.papers_data}.", '']
  if table.stand_in:
    return [f'Data: a stand-in, not the paper\'s — {table.stand_in}.', '']
  return []


def render(table: Table, summary: list[dict[str, Any]], fmt: str = 'markdown') -> str:
  def ours(s):
    if not s.get('filled', True):
      return ''
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

  def per_seed(s):  # The last split's value of every seed, in seed order.
    return ' / '.join(f'{v:.{digits}f}' for v in s['values']) if s['n'] > 1 else ''

  def diff(s):
    return '' if s['diff'] is None else f'{s["diff"]:+.2f}'

  if fmt == 'markdown':
    # Tables without published figures (e.g. lm_vs_ngram) drop the paper columns.
    with_paper = any(row.paper is not None for row in table.rows)
    head = ['row', 'config'] + (['paper', 'source'] if with_paper else []) + ours_headers
    head += (['ours − paper'] if with_paper else []) + ['per seed', 'train s / run']
    align = ['---', '---'] + (['---:', '---'] if with_paper else []) + ['---:'] * (
        len(ours_headers) + with_paper) + ['---', '---:']
    lines = [f'**{table.title}** — {table.unit}', '', *data_lines(table),
             '| ' + ' | '.join(head) + ' |', '|' + '|'.join(align) + '|']
    for s in summary:
      cells = [s['row'], f'`{s["config"]}`']
      if with_paper:
        cells += ['' if s['paper'] is None else f'{s["paper"]:.2f}', s['source']]
      cells += ours_cells(s, ours)
      cells += ([diff(s)] if with_paper else []) + [per_seed(s), seconds(s)]
      lines.append('| ' + ' | '.join(cells) + ' |')
    if table.note:
      lines += ['', table.note]
    if runs := provenance_lines(summary):
      lines += [''] + runs
    return '\n'.join(lines)
  if fmt == 'latex':
    esc = lambda t: t.replace('%', r'\%').replace('_', r'\_').replace('&', r'\&')
    def ours_tex(s):
      if not s.get('filled', True):
        return ''
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
    lines += [f'% {line}' for line in provenance_lines(summary)]
    return '\n'.join(lines)
  raise errors.ConfigError(f'Unknown format {fmt!r}; use markdown or latex.')


def check_metric(metric: str) -> None:
  config_lib.check_choice('metric', metric, METRICS)
