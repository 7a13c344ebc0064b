r"""Knowledge distillation on Fashion-MNIST: Hinton, Vinyals & Dean 2015, sec. 3.

Reproduce, in this order (the teacher first: the distilled student reads it):
  python -m launch.train --config=configs/fashion_mnist_distill.py:teacher --workdir=runs/fashion_mnist_distill_teacher
  python -m launch.train --config=configs/fashion_mnist_distill.py:student --workdir=runs/fashion_mnist_distill_student
  python -m launch.train --config=configs/fashion_mnist_distill.py:distilled --workdir=runs/fashion_mnist_distill_distilled

Another teacher: --config.distill.teacher_workdir=DIR on the last command.
Smoke test (20 steps each; the runlocal student reads the runlocal teacher):
  python -m launch.train --config=configs/fashion_mnist_distill.py:teacher,runlocal --workdir=runs/fashion_mnist_distill_teacher_runlocal
  python -m launch.train --config=configs/fashion_mnist_distill.py:distilled,runlocal --workdir=/tmp/distilled_runlocal

Paper (MNIST; configs/mnist_distill.py): a teacher MLP of 2x1200 ReLU units,
"strongly regularized using dropout and weight-constraints" (Hinton et al.
2012) with inputs jittered by up to two pixels, made 67 test errors; a student
of 2x800 ReLU units with no regularization made 146; the same student trained
to match the teacher's soft targets at temperature 20 made 74.

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
             net, loss (1 - a) * CE(labels) + a * T^2 * KL(teacher's soft
             targets || student's), with T = 20 (the paper's MNIST temperature)
             and a = soft_weight = 0.9. The paper found "the best results were
             generally obtained by using a considerably lower weight on the
             second objective function" (the hard labels), and with the T^2
             factor the two terms' gradients are of comparable size, so
             0.9 : 0.1 is that lower weight. No dropout, no jitter: the paper's
             student was "regularized solely by" the soft targets.
             distill.teacher_workdir defaults to runs/fashion_mnist_distill_teacher.
Plus `runlocal` (20-step smoke run, combinable: `:distilled,runlocal`) and
`source=idx|tfds`.

All three read the same inputs: pixels in [0, 1], not standardized. The
distilled student must see its inputs exactly as the teacher did (the task
checks that the preprocessing matches), and the jitter's zero padding is then
the images' black background.

Budget on the development machine (2-core CPU shared with other jobs, load
average 6 to 8 during the runs): teacher 20 epochs, 6.5 minutes wall (364 s of
training); student 10 epochs, 1.5 minutes; distilled 10 epochs, 2.2 minutes
(the teacher runs forward on every batch). launch.benchmark under the same
load: teacher 29.6, student 68, distilled 44 steps/s.

Data: `:source=idx` (default) reads the IDX files of Debian's
`dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist; override with
--config.dataset.manual_dir=DIR); `:source=tfds` uses TFDS's `fashion_mnist`
(the same examples: a teacher trained from either teaches a student reading
either).
Ours (seed 0, one run each, the commands above): teacher 87.07% test
accuracy, student 90.29%, distilled 87.52%. At this budget the heavily
regularized teacher underfits Fashion-MNIST and is worse than the plain
student; the distilled student agrees with its teacher on 97% of the training
images and inherits its errors. Without the jitter
(--config.augment.crop_padding=0) the teacher reaches 89.55% and its distilled
student 88.70%. Distillation pays when the teacher is better than the
student: a longer teacher run (--config.num_epochs) is the first thing to try.
"""

from ml_collections import config_dict

from research import config_lib, errors

VARIANTS = ('teacher', 'student', 'distilled')


def get_config(arg=None):
  arg = config_lib.parse_arg(arg, positional='variant', variant='teacher', runlocal=False,
                             source='idx')
  if arg.variant not in VARIANTS:
    raise errors.ConfigError(f'variant={arg.variant!r}; use one of {", ".join(VARIANTS)}.')
  teacher = arg.variant == 'teacher'
  c = config_dict.ConfigDict()
  c.task = 'distillation' if arg.variant == 'distilled' else 'classification'
  c.seed = 0

  c.dataset = config_lib.fashion_mnist(arg.source)
  c.preprocess = config_lib.preprocess(standardize=False)
  c.augment = config_lib.augment(crop_padding=2 if teacher else 0)

  c.model = config_dict.ConfigDict()
  c.model.name = 'mlp'
  c.model.hidden_sizes = (1200, 1200) if teacher else (800, 800)
  c.model.activation = 'relu'
  c.model.dropout_rate = 0.5 if teacher else 0.0

  c.loss = 'softmax_cross_entropy'
  c.optimizer = config_lib.optimizer(
      'adam', learning_rate=1e-3, max_norm=15.0 if teacher else None,
      max_norm_modules=('hidden_0', 'hidden_1'))
  c.schedule = config_lib.schedule('cosine')

  if arg.variant == 'distilled':
    c.distill = config_dict.ConfigDict()
    # A finished classification run: read (config.json + latest checkpoint), never written.
    c.distill.teacher_workdir = ('runs/fashion_mnist_distill_teacher_runlocal' if arg.runlocal
                                 else 'runs/fashion_mnist_distill_teacher')
    # The config that trains it (quoted in the error when it is missing).
    c.distill.teacher_config = (
        'configs/fashion_mnist_distill.py:teacher'
        + (',runlocal' if arg.runlocal else '') + (f',source={arg.source}'
                                                   if arg.source != 'idx' else ''))
    c.distill.temperature = 20.0  # T (Hinton et al. 2015, sec. 3)
    c.distill.soft_weight = 0.9   # weight of the soft-target term; labels get 1 - 0.9

  c.batch_size = 128
  c.eval_batch_size = 1000
  c.num_epochs = 20.0 if teacher else 10.0
  c.num_train_steps = config_dict.placeholder(int)  # overrides num_epochs when set

  c.log_every_steps = 200
  c.eval_every_steps = 2340  # 5 epochs of 468 steps
  c.checkpoint_every_steps = 2340
  c.keep_checkpoints = 2
  c.tensorboard = True
  c.plot = True

  if arg.runlocal:
    c.num_train_steps = 20
    c.batch_size = 16
    c.eval_batch_size = 64
    c.log_every_steps = 5
    c.eval_every_steps = 10
    c.checkpoint_every_steps = 10
  return c
