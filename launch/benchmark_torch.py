r"""PyTorch CPU baseline for `launch.benchmark`: the same LeNet-5 / MLP / LSTM
language-model training step at the same batch size, data resident in memory,
Adam.

  pip install torch   # not a project dependency
  MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=4294967296 \
      python -m launch.benchmark_torch --model=lenet5 --batch_size=128

The malloc settings are PyTorch at its best on glibc (+55-70% measured here);
JAX is insensitive to them. The last line is `examples_per_second=<float>`.
Architectures match research/models/lenet.py (32x32 input, tanh, average
pooling, 61,706 parameters) and configs/fashion_mnist_mlp.py (784-256-256-10,
ReLU, dropout 0.2, 269,322 parameters). `--model=lstm_lm` is
configs/tiny_shakespeare_lstm.py: embedding 128 -> nn.LSTM (2 layers, hidden
512) -> linear to 65 characters, dropout 0.2 on the non-recurrent connections,
batch 64 x 128 characters, the state carried (detached) across batches, Adam
with global-norm clipping at 1.0; an example is one sequence:
  python -m launch.benchmark_torch --model=lstm_lm --batch_size=64 --steps=20 --warmup=3
"""

import argparse
import resource
import time


def build(model_name):
  from torch import nn

  if model_name == 'lenet5':
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(16, 120, 5), nn.Tanh(), nn.Flatten(),
        nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10)), (1, 32, 32)
  if model_name == 'mlp':
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(256, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10)), (1, 28, 28)
  raise SystemExit(f'unknown model {model_name!r}; use lenet5, mlp or lstm_lm')


class LSTMLanguageModel:
  """Built lazily so that importing this file needs no torch."""

  def __new__(cls, vocab, embed, hidden, layers, dropout):
    import torch
    from torch import nn

    class Model(nn.Module):

      def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, dropout=dropout,
                            batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, vocab)

      def forward(self, tokens, state):
        h, state = self.lstm(self.drop(self.embed(tokens)), state)
        return self.out(self.drop(h)), state

    del torch
    return Model()


def lstm_lm_benchmark(args):
  import torch

  vocab, seq_len = 65, args.seq_len
  model = LSTMLanguageModel(vocab, 128, 512, 2, 0.2)
  opt = torch.optim.Adam(model.parameters(), lr=2e-3)
  loss_fn = torch.nn.CrossEntropyLoss()
  rows = torch.randint(0, vocab, (args.batch_size, 1 << 14))
  state = None

  def step(i):
    nonlocal state
    offset = (i * seq_len) % (rows.shape[1] - seq_len - 1)
    x = rows[:, offset:offset + seq_len]
    y = rows[:, offset + 1:offset + seq_len + 1]
    if state is not None:
      state = tuple(s.detach() for s in state)
    opt.zero_grad(set_to_none=True)
    logits, state = model(x, state)
    loss = loss_fn(logits.reshape(-1, vocab), y.reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss

  return model, step


def image_benchmark(args):
  import torch

  model, shape = build(args.model)
  opt = torch.optim.Adam(model.parameters(), lr=1e-3)
  loss_fn = torch.nn.CrossEntropyLoss()
  n = 4096
  images = torch.randn(n, *shape)
  labels = torch.randint(0, 10, (n,))

  def step(i):
    idx = torch.randint(0, n, (args.batch_size,), generator=torch.Generator().manual_seed(i))
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model(images[idx]), labels[idx])
    loss.backward()
    opt.step()
    return loss

  return model, step


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--model', default='lenet5')
  parser.add_argument('--batch_size', type=int, default=128)
  parser.add_argument('--steps', type=int, default=200)
  parser.add_argument('--warmup', type=int, default=20)
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--threads', type=int, default=0, help='0: torch default')
  parser.add_argument('--seq_len', type=int, default=128, help='lstm_lm only')
  args = parser.parse_args()

  import torch
  if args.threads:
    torch.set_num_threads(args.threads)
  torch.manual_seed(0)
  if args.model == 'lstm_lm':
    model, step = lstm_lm_benchmark(args)
  else:
    model, step = image_benchmark(args)

  t0 = time.perf_counter()
  step(0)
  first = time.perf_counter() - t0
  for i in range(args.warmup):
    step(i)
  rates = []
  for r in range(args.repeats):
    t0 = time.perf_counter()
    for i in range(args.steps):
      step(i)
    rates.append(args.steps * args.batch_size / (time.perf_counter() - t0))
  print(f'model: {args.model}  params: {sum(p.numel() for p in model.parameters()):,}  '
        f'threads: {torch.get_num_threads()}  torch {torch.__version__}')
  print(f'first_step_seconds: {first:.3f}')
  print(f'examples_per_second_each_repeat: {[round(r, 1) for r in rates]}')
  print(f'peak_host_rss_mb: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}')
  print(f'examples_per_second={max(rates):.1f}')


if __name__ == '__main__':
  main()
