r"""Train and evaluate one experiment.

  python -m launch.train --config=configs/NAME.py[:ARG] --workdir=DIR \
      [--config.KEY=VALUE ...]

Running again on the same workdir resumes from its latest checkpoint.

  python -m launch.train --config=configs/mnist1d.py:cnn --workdir=DIR --num_seeds=5

trains seeds config.seed ... config.seed + 4 as one compiled program (`jax.vmap`
over seeds; small in-memory classification models) into DIR/seed_K, each a
complete single-seed workdir.

  python -m launch.train --config=... --workdir=DIR \
      --target_metric=test_accuracy --target_value=0.94 --config.eval_every_steps=468

stops at the first evaluation that reaches the target (time-to-accuracy;
launch/time_to_accuracy.py runs it for several seeds).
"""

import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from launch import cli

_CONFIG = config_flags.DEFINE_config_file(
    'config', None, 'Experiment config: configs/NAME.py[:ARG].', lock_config=True)
_WORKDIR = flags.DEFINE_string(
    'workdir', None, 'Directory for config, checkpoints, metrics and results.')
_DISTRIBUTED = flags.DEFINE_bool(
    'jax_distributed', False,
    'Call jax.distributed.initialize() first (multi-host). On TPU VMs, Slurm and '
    'Open MPI it finds the coordinator, process count and id itself; elsewhere '
    'give the three flags below (or JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, '
    'JAX_PROCESS_ID). Any of them implies --jax_distributed.')
_COORDINATOR = flags.DEFINE_string(
    'coordinator_address', None, 'host:port of process 0 (multi-host).')
_NUM_PROCESSES = flags.DEFINE_integer(
    'num_processes', None, 'Number of processes (multi-host).', lower_bound=1)
_PROCESS_ID = flags.DEFINE_integer(
    'process_id', None, 'This process, 0 ... num_processes - 1 (multi-host).', lower_bound=0)
_NUM_SEEDS = flags.DEFINE_integer(
    'num_seeds', 1,
    'Train this many consecutive seeds, starting at config.seed, as one vmapped '
    'program into WORKDIR/seed_K (research/multiseed.py).', lower_bound=1)
_TARGET_METRIC = flags.DEFINE_string(
    'target_metric', None,
    'Stop at the first periodic evaluation where this metric (e.g. test_accuracy) '
    'reaches --target_value; results.json records the step and the seconds since '
    'the process started (launch/time_to_accuracy.py).')
_TARGET_VALUE = flags.DEFINE_float('target_value', None, 'See --target_metric.')
_STEPS_PER_DISPATCH = flags.DEFINE_integer(
    'steps_per_dispatch', 1,
    'Training steps per dispatch to the device (one compiled lax.scan over them): for '
    'small models on GPUs and TPUs, where dispatching a step costs more than computing '
    'it. Must divide the config\'s log, eval and checkpoint intervals; same results.',
    lower_bound=1)
flags.mark_flags_as_required(['config', 'workdir'])
flags.register_multi_flags_validator(
    ['target_metric', 'target_value'],
    lambda f: (f['target_metric'] is None) == (f['target_value'] is None),
    message='--target_metric and --target_value go together.')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not flags.FLAGS['verbosity'].present:
    # Orbax and TFDS log every file they touch at INFO; keep the console to
    # our progress lines unless --verbosity is given.
    logging.set_verbosity(logging.WARNING)
  cli.maybe_initialize_distributed(
      _DISTRIBUTED.value, _COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
  from research import errors, fileio, preemption, train
  config_file = flags.FLAGS['config'].config_filename.split(':', 1)[0]
  if not os.path.isfile(config_file):
    print(f'error: config file {config_file!r} not found (run from the '
          'repository root; configs live in configs/).', file=sys.stderr)
    sys.exit(2)
  config = _CONFIG.value
  try:
    target = None
    if _TARGET_METRIC.value is not None:
      target = train.Target(_TARGET_METRIC.value, _TARGET_VALUE.value)
    if _NUM_SEEDS.value == 1:
      train.train_and_evaluate(config, _WORKDIR.value, target=target,
                               steps_per_dispatch=_STEPS_PER_DISPATCH.value)
    elif target is not None:
      raise errors.ConfigError('--target_metric times one seed per process: drop --num_seeds.')
    else:
      from research import multiseed
      seeds = [config.seed + i for i in range(_NUM_SEEDS.value)]
      multiseed.train_and_evaluate_seeds(
          config, seeds, [fileio.join(_WORKDIR.value, f'seed_{s}') for s in seeds],
          steps_per_dispatch=_STEPS_PER_DISPATCH.value)
  except errors.UserError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  except preemption.Preempted as e:
    print(str(e), flush=True)  # Every process: each one's log says where it stopped.


def run():
  app.run(main, flags_parser=cli.parse_flags)


if __name__ == '__main__':
  run()
