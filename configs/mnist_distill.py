r"""Knowledge distillation on MNIST: the experiment of Hinton, Vinyals & Dean
2015, sec. 3.

Reproduce, in this order (the teacher first: the distilled student reads it;
LeCun's IDX files in data/mnist, from `python -m launch.get_data mnist`, or
`source=tfds` for TFDS's `mnist`; the table: `python -m launch.reproduce
hinton2015_mnist --seeds=3 --publish`):
  python -m launch.train --config=configs/mnist_distill.py:teacher --workdir=runs/mnist_distill_teacher
  python -m launch.train --config=configs/mnist_distill.py:student --workdir=runs/mnist_distill_student
  python -m launch.train --config=configs/mnist_distill.py:distilled --workdir=runs/mnist_distill_distilled

Another teacher: --config.distill.teacher_workdir=DIR on the last command
(e.g. one trained from LeCun's IDX files with --config.dataset.name=mnist_idx
--config.dataset.manual_dir=DIR: the same examples, so it may teach this student).
Smoke test (20 steps each; the runlocal student reads the runlocal teacher):
  python -m launch.train --config=configs/mnist_distill.py:teacher,runlocal --workdir=runs/mnist_distill_teacher_runlocal
  python -m launch.train --config=configs/mnist_distill.py:distilled,runlocal --workdir=/tmp/distilled_runlocal

Paper (Hinton et al. 2015, sec. 3, the 10,000 MNIST test images): the teacher,
2x1200 ReLU units "strongly regularized using dropout and weight-constraints"
with inputs jittered by up to two pixels, 67 test errors; the student, 2x800
ReLU units, no regularization, 146 errors; the same student trained on the
teacher's soft targets at temperature 20, 74 errors.
Ours (README, table `hinton2015_mnist`, LeCun's files, this CPU recipe): teacher
110 errors (one run), student from scratch 146 / 149 / 146, distilled 129 /
124 / 126 (seeds 0-2).

Variants (`:teacher` is the default, the first command):
  teacher    task 'classification': MLP 784-1200-1200-10 ReLU, dropout 0.5 on
             both hidden layers, max-norm 15 on each hidden unit's incoming
             weights (Hinton et al. 2012, app. A), jitter = random translation
             by up to 2 pixels (augment.crop_padding=2). Hinton et al. also
             dropped 20% of the input pixels; the project's `mlp` has no input
             dropout, so this teacher does not.
  student    task 'classification': MLP 784-800-800-10 ReLU, no dropout, no
             jitter: the paper's small net trained from scratch.
  distilled  task 'distillation' (research/tasks/distillation.py): the student
             net, loss (1 - a) * CE(labels) + a * T^2 * KL(teacher soft targets
             || student's) with T = 20 and a = soft_weight = 0.9 (the paper:
             "a considerably lower weight on the second objective function",
             the hard labels). distill.teacher_workdir defaults to
             runs/mnist_distill_teacher.
Plus `runlocal` (20-step smoke run, combinable: `:distilled,runlocal`).

All three read pixels in [0, 1], not standardized: the distilled student must
see its inputs exactly as the teacher did, and the jitter's zero padding is
then the black background.
"""

import os

from research import config_lib

# The models, recipe and budget are Fashion-MNIST's (that file documents each
# choice); only the data and the teacher's workdir differ.
_FASHION_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               'fashion_mnist_distill.py')


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, positional='variant', variant='teacher', source='idx',
                             runlocal=False)
  c = config_lib.load(_FASHION_CONFIG, arg.variant + (',runlocal' if arg.runlocal else ''))
  c.dataset = config_lib.mnist(arg.source)
  if arg.variant == 'distilled':
    c.distill.teacher_workdir = ('runs/mnist_distill_teacher_runlocal' if arg.runlocal
                                 else 'runs/mnist_distill_teacher')
    c.distill.teacher_config = f'configs/mnist_distill.py:teacher,source={arg.source}' + (
        ',runlocal' if arg.runlocal else '')
  return c
