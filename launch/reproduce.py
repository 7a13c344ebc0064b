r"""Reproduce a paper-style table: every row for N seeds, beside the paper's figure.

  python -m launch.reproduce TABLE [--seeds=3] [--root=runs/tables] [--format=markdown|latex]
  python -m launch.reproduce TABLE --notrain     # the table of the runs finished so far
  python -m launch.reproduce TABLE --workers=2   # CPU host: 2 runs at a time, a core each
  python -m launch.reproduce --sweep=configs/NAME.py[:ARG]   # a config's sweep (launch.sweep)
  python -m launch.reproduce TABLE --publish     # also write docs/results/TABLE.json
  python -m launch.reproduce TABLE --from_results  # render docs/results/TABLE.json only
  python -m launch.reproduce --update_readme     # re-render the README's table blocks

Finished runs (a workdir with results.json) are reused and interrupted ones
resume, so killing this and running it again only does the missing work. The
table is printed and saved to ROOT/TABLE/table.{md,tex} with table.json.
Tables: see research/reproduce/tables.py (TABLES).
"""

import sys

from absl import app, flags, logging


_SEEDS = flags.DEFINE_integer('seeds', 3, 'Seeds per row (rows may fix their own).')
_ROOT = flags.DEFINE_string('root', 'runs/tables', 'Where the workdirs and tables go.')
_FORMAT = flags.DEFINE_enum('format', 'markdown', ['markdown', 'latex'], 'Table format.')
_TRAIN = flags.DEFINE_bool(
    'train', True, 'Train missing runs; --notrain prints the table of finished runs so far.')
_SWEEP = flags.DEFINE_string(
    'sweep', None, 'Instead of a TABLE: the sweep a config declares, '
    'configs/NAME.py[:ARG] (research/sweep.py; launch.sweep runs it with overrides).')
_ACCELERATOR_ROWS = flags.DEFINE_bool(
    'accelerator_rows', None, 'Also train rows marked too slow for a CPU (default: only '
    'where JAX has an accelerator); --noaccelerator_rows never.')
_PUBLISH = flags.DEFINE_bool(
    'publish', False, 'Write the finished runs to docs/results/TABLE.json, the committed '
    'file the README table is rendered from (research/reproduce/published.py).')
_FROM_RESULTS = flags.DEFINE_bool(
    'from_results', False, 'Render the table from docs/results/TABLE.json; trains nothing.')
_UPDATE_README = flags.DEFINE_bool(
    'update_readme', False, 'Re-render every `<!-- table: NAME -->` block of README.md from '
    'docs/results/NAME.json.')
_WORKERS = flags.DEFINE_integer(
    'workers', 1, 'Runs trained at once as subprocesses, each pinned to its share of the '
    'CPU cores (CPU hosts; 1: in this process).')
_STEPS_PER_DISPATCH = flags.DEFINE_integer(
    'steps_per_dispatch', 1, "launch.train's --steps_per_dispatch for every run (small "
    'models on accelerators; it must divide the rows\' log, eval and checkpoint intervals).',
    lower_bound=1)


def main(argv):
  if len(argv) != (1 if _SWEEP.value or _UPDATE_README.value else 2):
    raise app.UsageError('Give exactly one table name, e.g. `fashion_mnist`, --sweep or '
                         '--update_readme.')
  if not flags.FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)
  from research import errors, preemption, reproduce, sweep
  from research.reproduce import published
  try:
    if _UPDATE_README.value:
      names, missing = published.update_readme()
      print(f'README.md: re-rendered {len(names)} tables ({", ".join(names)}).')
      if missing:
        print(f'Left as they are (no docs/results file yet): {", ".join(missing)}.')
      return
    if _FROM_RESULTS.value:
      print(published.render_file(argv[1], fmt=_FORMAT.value))
      return
    options = dict(seeds=_SEEDS.value, root=_ROOT.value, fmt=_FORMAT.value,
                   train_missing=_TRAIN.value, workers=_WORKERS.value,
                   accelerator_rows=_ACCELERATOR_ROWS.value,
                   steps_per_dispatch=_STEPS_PER_DISPATCH.value)
    if _SWEEP.value:
      path, _, arg = _SWEEP.value.partition(':')
      print(reproduce.tabulate(sweep.to_table(path, arg or None), **options))
      return
    print(reproduce.run_table(argv[1], **options))
    if _PUBLISH.value:
      command = ' '.join(['python -m launch.reproduce', argv[1], f'--seeds={_SEEDS.value}']
                         + ([f'--workers={_WORKERS.value}'] if _WORKERS.value > 1 else []))
      path = published.publish(reproduce.TABLES[argv[1]], seeds=_SEEDS.value,
                               root=_ROOT.value, command=command)
      print(f'Wrote {path}; put `<!-- table: {argv[1]} -->` `<!-- /table -->` in README.md '
            'and run `python -m launch.reproduce --update_readme`.')
  except errors.UserError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  except preemption.Preempted as e:  # Finished runs are kept; rerunning continues.
    print(str(e), flush=True)


if __name__ == '__main__':
  app.run(main)
