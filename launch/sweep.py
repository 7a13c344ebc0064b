r"""Run a config's hyper-parameter sweep and tabulate it (mean ± std over seeds).

  python -m launch.sweep --config=configs/NAME.py[:ARG] --root=DIR \
      [--config.KEY=VALUE ...] [--workers=2] [--print_commands] [--notrain]

The config file declares the sweep in `get_sweep(arg)` (research/sweep.py):
points (a product or zip of config values) x seeds. Each run is a complete
workdir DIR/sweep_NAME/POINT/seed_K; finished runs are reused and interrupted
ones resume. `--config.KEY=VALUE` fixes a key for every point (e.g. fewer
steps). `--print_commands` prints one `python -m launch.train` line per run
for a cluster's scheduler instead of training here; `--notrain` (or
`python -m launch.reproduce --sweep=...`) prints the table of finished runs.
"""

import sys

from absl import app, flags, logging
from ml_collections import config_flags

from launch import cli

_CONFIG = config_flags.DEFINE_config_file(
    'config', None, 'Config with a get_sweep(arg): configs/NAME.py[:ARG].', lock_config=True)
_ROOT = flags.DEFINE_string('root', 'runs/sweeps', 'Where the workdirs and the table go.')
_FORMAT = flags.DEFINE_enum('format', 'markdown', ['markdown', 'latex'], 'Table format.')
_TRAIN = flags.DEFINE_bool('train', True, 'Train missing runs (--notrain: table only).')
_WORKERS = flags.DEFINE_integer(
    'workers', 1, 'Runs trained at once as subprocesses, each pinned to its share of the '
    'CPU cores (1: one after another in this process).', lower_bound=1)
_PRINT = flags.DEFINE_bool(
    'print_commands', False, 'Print the launch.train command of every run and exit.')
flags.mark_flags_as_required(['config'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not flags.FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)
  from research import errors, preemption, reproduce, sweep
  path, _, arg = flags.FLAGS['config'].config_filename.partition(':')
  try:
    table = sweep.to_table(path, arg or None, cli.config_overrides(_CONFIG.value, path, arg or None))
    if _PRINT.value:
      print('\n'.join(sweep.launch_commands(table, _ROOT.value)))
      return
    print(reproduce.tabulate(table, seeds=1, root=_ROOT.value, fmt=_FORMAT.value,
                             train_missing=_TRAIN.value, workers=_WORKERS.value))
  except errors.UserError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  except preemption.Preempted as e:  # Finished runs are kept; rerunning continues.
    print(str(e), flush=True)


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
