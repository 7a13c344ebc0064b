"""Pictures written into a workdir (PNG, headless)."""

from __future__ import annotations

import os

from research import writers


def plot_training_curves(workdir: str, filename: str = 'curves.png') -> str:
  """Training loss/accuracy per logged step and every eval point."""
  plt = figures()
  records = writers.read_metrics(workdir)
  train = [r for r in records if 'loss' in r]
  evals = [r for r in records if 'test_accuracy' in r]
  fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
  ax_loss.plot([r['step'] for r in train], [float(r['loss']) for r in train], label='train')
  ax_loss.plot([r['step'] for r in evals], [float(r['test_loss']) for r in evals], 'o-', label='test')
  ax_loss.set(xlabel='step', ylabel='loss', yscale='log', title='loss')
  ax_acc.plot([r['step'] for r in train], [float(r['accuracy']) for r in train], label='train')
  ax_acc.plot([r['step'] for r in evals], [float(r['test_accuracy']) for r in evals], 'o-', label='test')
  ax_acc.set(xlabel='step', ylabel='accuracy', title='accuracy')
  for ax in (ax_loss, ax_acc):
    ax.grid(alpha=0.3)
    ax.legend()
  fig.suptitle(os.path.basename(os.path.normpath(workdir)))
  fig.tight_layout()
  path = os.path.join(workdir, filename)
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


class _Figures:
  """The slice of pyplot these plots use (`subplots`, `close`, `cm`), on
  matplotlib `Figure`s that never touch pyplot's global state: no backend is
  switched and no figure is registered, so plotting into files is safe inside
  notebooks (whose inline backend stays as it is) and in worker threads."""

  _FIGURE_KEYS = ('figsize', 'dpi', 'layout', 'constrained_layout')

  def __init__(self):
    import matplotlib.cm
    self.cm = matplotlib.cm

  def subplots(self, nrows: int = 1, ncols: int = 1, **kwargs):
    from matplotlib.figure import Figure
    fig = Figure(**{k: kwargs.pop(k) for k in self._FIGURE_KEYS if k in kwargs})
    return fig, fig.subplots(nrows, ncols, **kwargs)

  def close(self, fig) -> None:
    del fig  # Nothing to release: pyplot never knew the figure.


def figures() -> _Figures:
  return _Figures()


def predict(model, state, images, batch_size: int = 1000):
  """Eval-mode class predictions for host images (batched, jitted once)."""
  import jax
  import numpy as np

  variables = {'params': state.params, **state.model_state}
  apply = jax.jit(lambda x: model.apply(variables, x, train=False).argmax(-1))
  n = len(images)
  preds = []
  for start in range(0, n, batch_size):
    chunk = images[start:start + batch_size]
    pad = batch_size - len(chunk)  # one compiled shape for every chunk
    chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
    preds.append(np.asarray(apply(chunk))[:batch_size - pad])
  return np.concatenate(preds)


def plot_signals(signals_NxLxC, labels, class_names, preds, path: str, per_class: int = 3) -> str:
  """`per_class` test signals of every class (channel 0), titled with the
  model's prediction: what a 1-D classifier has to tell apart."""
  import numpy as np

  plt = figures()
  num_classes = len(class_names)
  fig, axes = plt.subplots(per_class, num_classes, figsize=(1.6 * num_classes, 1.3 * per_class),
                           sharex=True, sharey=True, squeeze=False)
  for k in range(num_classes):
    idx = np.flatnonzero(labels == k)[:per_class]
    for row in range(per_class):
      ax = axes[row, k]
      ax.set_xticks([])
      ax.set_yticks([])
      if row >= len(idx):
        continue
      i = idx[row]
      ax.plot(signals_NxLxC[i, :, 0], color='C0' if preds[i] == k else 'C3', lw=1)
      if row == 0:
        ax.set_title(class_names[k], fontsize=9)
  fig.suptitle('test signals by class (red: misclassified)', fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def plot_confusion_matrix(labels, preds, class_names, path: str) -> str:
  import numpy as np

  plt = figures()
  k = len(class_names)
  matrix = np.zeros((k, k), np.int64)
  np.add.at(matrix, (labels, preds), 1)
  fig, ax = plt.subplots(figsize=(0.55 * k + 3, 0.55 * k + 2.5))
  ax.imshow(matrix, cmap='Blues')
  for i in range(k):
    for j in range(k):
      ax.text(j, i, matrix[i, j], ha='center', va='center', fontsize=7,
              color='white' if matrix[i, j] > matrix.max() / 2 else 'black')
  ax.set_xticks(range(k), class_names, rotation=60, ha='right', fontsize=8)
  ax.set_yticks(range(k), class_names, fontsize=8)
  ax.set(xlabel='predicted', ylabel='true',
         title=f'test accuracy {np.trace(matrix) / matrix.sum():.2%} (n={matrix.sum()})')
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def first_conv_kernel(params):
  """The kernel (kh, kw, cin, cout) of the first convolution in `params`."""
  for name, layer in params.items():
    if isinstance(layer, dict):
      if 'kernel' in layer and getattr(layer['kernel'], 'ndim', 0) == 4:
        return name, layer['kernel']
      found = first_conv_kernel(layer)
      if found is not None:
        return found
  return None


def plot_filters(params, path: str, max_filters: int = 64) -> str | None:
  """First-layer filters (input channel 0, or RGB when there are 3)."""
  import numpy as np

  found = first_conv_kernel(params)
  if found is None:
    return None
  name, kernel = found
  kernel = np.asarray(kernel, np.float32)
  n = min(kernel.shape[-1], max_filters)
  cols = min(n, 16)
  rows = -(-n // cols)
  plt = figures()
  fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.8, rows * 0.8 + 0.5), squeeze=False)
  for i, ax in enumerate(axes.flat):
    ax.axis('off')
    if i < n:
      f = kernel[..., i]
      f = f if f.shape[-1] == 3 else f[..., 0]
      f = (f - f.min()) / (f.max() - f.min() + 1e-8)
      ax.imshow(f, cmap=None if f.ndim == 3 else 'gray')
  fig.suptitle(f'first-layer filters ({name})', fontsize=9)
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def plot_feature_maps(model, state, image, path: str, max_maps: int = 8) -> str | None:
  """One test image and, layer by layer, the outputs of each convolution
  (the "edges, then contours" picture)."""
  import flax.linen as nn
  import numpy as np

  from research.models.common import PatchConv

  variables = {'params': state.params, **state.model_state}
  _, captured = model.apply(
      variables, image[None], train=False,
      capture_intermediates=lambda mdl, _: isinstance(mdl, (nn.Conv, PatchConv)),
      mutable=['intermediates'])
  maps = [(name, np.asarray(out[0])) for name, out in _flatten_intermediates(captured.get('intermediates', {}))]
  maps = [(n, m) for n, m in maps if m.ndim == 3 and m.shape[0] > 1]  # skip 1x1 maps
  if not maps:
    return None
  plt = figures()
  cols = max_maps + 1
  fig, axes = plt.subplots(len(maps), cols, figsize=(cols * 1.1, len(maps) * 1.2 + 0.3), squeeze=False)
  for row, (name, fmap) in enumerate(maps):
    axes[row, 0].imshow(np.asarray(image)[..., 0], cmap='gray')
    axes[row, 0].set_ylabel(name, fontsize=7)
    for j in range(1, cols):
      ax = axes[row, j]
      if j - 1 < fmap.shape[-1]:
        ax.imshow(fmap[..., j - 1], cmap='viridis')
    for ax in axes[row]:
      ax.set_xticks([])
      ax.set_yticks([])
  fig.suptitle('input | conv feature maps, layer by layer', fontsize=9)
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def _flatten_intermediates(tree, prefix=''):
  for name, value in tree.items():
    if name == '__call__':
      for out in value:
        yield prefix.rstrip('/'), out
    elif isinstance(value, dict):
      yield from _flatten_intermediates(value, f'{prefix}{name}/')


def plot_run(workdir: str, config, model, state, feeder) -> list[str]:
  """Every picture worth looking at for a finished classification run."""
  import numpy as np
  paths = [plot_training_curves(workdir)]
  if not hasattr(feeder, 'eval_images_host'):
    return paths  # Streaming datasets: curves only.
  from research.data import datasets
  images, labels = feeder.eval_images_host, feeder.eval_labels_host
  if hasattr(feeder, 'class_names'):  # Text feeders know theirs.
    names = feeder.class_names
  else:
    try:
      names = datasets.class_names(config.dataset)
    except Exception:  # Mocked or unnamed labels: fall back to indices.
      names = [str(i) for i in range(feeder.num_classes)]
  preds = predict(model, state, images)
  paths.append(plot_confusion_matrix(labels, preds, names, os.path.join(workdir, 'confusion_matrix.png')))
  if hasattr(feeder, 'tokenizer'):  # Text: what the filters fire on, then done.
    if hasattr(model, 'feature_maps'):
      # The first test text of the predicted class that is classified right.
      right = np.flatnonzero(preds == labels)
      index = int(right[0]) if right.size else 0
      paths.append(plot_textcnn_ngrams(
          model, state.params, feeder.tokenizer, feeder.eval_texts[index], names,
          os.path.join(workdir, 'ngrams.png')))
    return paths
  if images.ndim == 3:  # 1-D signals (MNIST-1D): examples of each class.
    paths.append(plot_signals(images, labels, names, preds, os.path.join(workdir, 'signals.png')))
  for p in (plot_filters(state.params, os.path.join(workdir, 'filters.png')),
            plot_feature_maps(model, state, images[0], os.path.join(workdir, 'feature_maps.png'))):
    if p:
      paths.append(p)
  return paths


def plot_lm_curves(workdir: str, filename: str = 'curves.png') -> str:
  """Bits per token: training (per logged step), validation and test (per eval)."""
  plt = figures()
  records = writers.read_metrics(workdir)
  train = [r for r in records if 'bits_per_token' in r]
  evals = [r for r in records if 'validation_bits_per_token' in r]
  fig, ax = plt.subplots(figsize=(6, 3.8))
  ax.plot([r['step'] for r in train], [float(r['bits_per_token']) for r in train], label='train')
  for split in ('validation', 'test'):
    ax.plot([r['step'] for r in evals], [float(r[f'{split}_bits_per_token']) for r in evals],
            'o-', label=split)
  ax.set(xlabel='step', ylabel='bits per token', title=os.path.basename(os.path.normpath(workdir)))
  ax.grid(alpha=0.3)
  ax.legend()
  fig.tight_layout()
  path = os.path.join(workdir, filename)
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def lstm_gates(model, params, tokens_T, layer: int = 0):
  """{'input', 'forget', 'output'} -> T x H activations of `layer` on a text."""
  import jax.numpy as jnp
  import numpy as np

  recording = model.clone(record_gates=True, dropout_rate=0.0)
  tokens_1xT = jnp.asarray(tokens_T, jnp.int32)[None]
  _, state = recording.apply({'params': params}, tokens_1xT, recording.initial_carry(1),
                             mutable=['intermediates'])
  gates = state['intermediates'][f'layer_{layer}']['gates'][0]
  return {k: np.asarray(v[0]) for k, v in gates.items()}


def plot_lstm_gates(model, params, vocab, ids, path: str, length: int = 80,
                    num_units: int = 32, layer: int = 0) -> str:
  """Heat maps of the input, forget and output gates (Zaremba et al. 2014, §3)
  of `num_units` cells of `layer` over `length` tokens of text: which units open
  or close at which characters."""
  import numpy as np

  plt = figures()
  tokens = np.asarray(ids[:length])
  gates = lstm_gates(model, params, tokens, layer)
  visible = {'\n': '⏎', ' ': '␣'}  # whitespace characters as visible symbols
  labels = [visible.get(t, t) for t in vocab.decode(tokens)]
  fig, axes = plt.subplots(3, 1, figsize=(max(8, 0.14 * len(tokens)), 7.5), sharex=True)
  for ax, name in zip(axes, ('input', 'forget', 'output')):
    im = ax.imshow(gates[name][:, :num_units].T, aspect='auto', cmap='viridis', vmin=0, vmax=1,
                   interpolation='nearest')
    ax.set_ylabel(f'{name} gate\nunit')
    fig.colorbar(im, ax=ax, fraction=0.02, pad=0.01)
  axes[-1].set_xticks(range(len(tokens)))
  axes[-1].set_xticklabels(labels, fontsize=6, rotation=0 if vocab.level == 'char' else 90)
  fig.suptitle(f'LSTM layer {layer}: gate activations (first {num_units} units) over validation text')
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def plot_table(title: str, unit: str, summary: list[dict], extra_labels: dict[str, str],
               path: str) -> str:
  """One group of horizontal bars per table row: the paper's figure (where
  there is one), ours (mean, error bar = std over seeds, dots = each seed),
  and any extra metric columns (e.g. best during training)."""
  import numpy as np
  plt = figures()
  series = [('paper', lambda s: (s['paper'], None, [])), ('ours', lambda s: (s['mean'], s['std'], s['values']))]
  series += [(f'ours: {label}', lambda s, m=m: (s['extra'][m]['mean'], s['extra'][m]['std'],
                                      s['extra'][m]['values']))
             for m, label in extra_labels.items()]
  if all(s['paper'] is None for s in summary):
    series = series[1:]
  n_rows, n_series = len(summary), len(series)
  height = 0.8 / n_series
  fig, ax = plt.subplots(figsize=(8, 0.55 * n_rows * max(n_series, 2) / 2 + 1.2))
  y = np.arange(n_rows)[::-1].astype(float)
  for j, (label, get) in enumerate(series):
    offset = (j - (n_series - 1) / 2) * height
    for i, s in enumerate(summary):
      mean, std, values = get(s)
      if mean is None:
        continue
      ax.barh(y[i] - offset, mean, height=height * 0.9, color=f'C{j}',
              xerr=std, capsize=2, label=label if i == 0 else None)
      if values:
        ax.plot(values, [y[i] - offset] * len(values), 'k.', markersize=3)
  ax.set_yticks(y, [s['row'] for s in summary])
  import textwrap
  ax.set_xlabel(unit)
  ax.set_title(textwrap.fill(title, 60), fontsize=10)
  ax.grid(axis='x', alpha=0.3)
  handles, labels = ax.get_legend_handles_labels()
  ax.legend(handles, labels, loc='lower right', fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def textcnn_ngrams(model, params, tokenizer, text: str, top: int = 12) -> dict:
  """For one text: the `top` filters of a TextCNN (research/models/text.py)
  with the largest max-over-time activation, each with the n-gram it fired
  on (its window at the argmax position), plus per-word evidence (the sum of
  those maxima over the windows covering each word) and the class scores."""
  import jax
  import numpy as np

  from research.data import textcls_feeding

  ids = textcls_feeding.encode(tokenizer, [text])
  maps = model.apply({'params': params}, ids, method=type(model).feature_maps)
  logits = np.asarray(model.apply({'params': params}, ids, train=False))[0]
  words = textcls_feeding.tokens_of(tokenizer, text)
  pad = max(model.window_sizes) - 1  # zero columns the model adds on each side
  found = []
  for h, m in zip(model.window_sizes, maps):
    m = np.asarray(m[0])  # positions x filters
    pos = m.argmax(0)
    for f in range(m.shape[1]):
      first = int(pos[f]) - pad  # index of the window's first word
      span = [i for i in range(first, first + h) if 0 <= i < len(words)]
      found.append((float(m[pos[f], f]), h, f, span))
  found.sort(key=lambda x: -x[0])
  best = found[:top]
  evidence = np.zeros(len(words))
  for value, _, _, span in best:
    evidence[span] += value
  return dict(words=words, filters=[
      dict(activation=v, window=h, filter=f, ngram=' '.join(words[i] for i in span) or '(padding)')
      for v, h, f, span in best], evidence=evidence, probabilities=np.asarray(jax.nn.softmax(logits)))


def plot_textcnn_ngrams(model, params, tokenizer, text: str, class_names, path: str,
                        top: int = 12) -> str:
  """Which n-grams of one text the strongest filters fire on (bars), and how
  much of that evidence each word carries (the shaded words)."""
  import textwrap

  import numpy as np
  plt = figures()
  info = textcnn_ngrams(model, params, tokenizer, text, top)
  words, filters, evidence = info['words'], info['filters'], info['evidence']
  pred = int(np.argmax(info['probabilities']))
  fig, (ax_words, ax_bars) = plt.subplots(
      2, 1, figsize=(9, 2.2 + 0.32 * len(filters)), gridspec_kw={'height_ratios': [1, 5]})
  ax_words.axis('off')
  shade = evidence / max(evidence.max(), 1e-9)
  x, y = 0.0, 0.8
  for word, s in zip(words, shade):
    width = 0.012 * (len(word) + 1)
    if x + width > 1.0:
      x, y = 0.0, y - 0.3
    ax_words.text(x, y, word, fontsize=9, family='monospace', va='center',
                  bbox=dict(facecolor=plt.cm.Oranges(s), edgecolor='none', pad=1.5))
    x += width
  ax_words.set_title(textwrap.fill(
      f'predicted: {class_names[pred]} ({info["probabilities"][pred]:.0%}); shade = '
      f'evidence of the {len(filters)} strongest filters', 90), fontsize=9)
  labels = [f'h={f["window"]} #{f["filter"]}: "{f["ngram"]}"' for f in filters]
  ax_bars.barh(range(len(filters))[::-1], [f['activation'] for f in filters], color='C1')
  ax_bars.set_yticks(range(len(filters))[::-1], labels, fontsize=8)
  ax_bars.set_xlabel('max-over-time activation (Kim 2014, eq. 3)')
  ax_bars.grid(axis='x', alpha=0.3)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def plot_autoencoder_curves(workdir: str, filename: str = 'curves.png') -> str:
  """Training loss (the phase's: layer-wise, then end to end) and squared
  reconstruction error per image, train batches and test evaluations."""
  plt = figures()
  records = writers.read_metrics(workdir)
  train = [r for r in records if 'loss' in r]
  evals = [r for r in records if 'test_squared_error' in r]
  fig, (ax_loss, ax_err) = plt.subplots(1, 2, figsize=(10, 3.8))
  ax_loss.plot([r['step'] for r in train], [float(r['loss']) for r in train])
  ax_loss.set(xlabel='step', ylabel='cross-entropy per example', yscale='log',
              title='training loss (pre-training phases, then fine-tuning)')
  ax_err.plot([r['step'] for r in train], [float(r['squared_error']) for r in train], label='train')
  ax_err.plot([r['step'] for r in evals], [float(r['test_squared_error']) for r in evals], 'o-',
              label='test')
  ax_err.set(xlabel='step', ylabel='squared error per image', yscale='log',
             title='reconstruction error (full autoencoder)')
  for ax in (ax_loss, ax_err):
    ax.grid(alpha=0.3)
  ax_err.legend()
  fig.tight_layout()
  path = os.path.join(workdir, filename)
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def plot_reconstructions(originals, autoencoded, pca, image_shape, code_size: int,
                         path: str) -> str:
  """Rows: test images, the autoencoder's reconstructions, PCA's with as many
  components as the code has units (Hinton & Salakhutdinov 2006, Fig. 2)."""
  import numpy as np
  plt = figures()
  rows = [('original', originals), (f'autoencoder\n{code_size}-d code', autoencoded),
          (f'PCA\n{code_size} comp.', pca)]
  n = len(originals)
  fig, axes = plt.subplots(3, n, figsize=(1.1 * n, 3.6))
  for i, (name, images) in enumerate(rows):
    for j in range(n):
      ax = axes[i, j]
      ax.imshow(np.clip(images[j], 0, 1).reshape(image_shape[:2]), cmap='gray_r', vmin=0, vmax=1)
      ax.set_xticks([])
      ax.set_yticks([])
      if j == 0:
        ax.set_ylabel(name, fontsize=7)
    err = float(np.mean(np.sum((np.clip(images, 0, 1) - originals) ** 2, axis=-1)))
    if i:
      axes[i, n - 1].set_title(f'sq. err {err:.1f}', fontsize=7, loc='right')
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def plot_codes_2d(codes_NxC, pca_Nx2, labels, path: str) -> str:
  """The test set in two dimensions coloured by class: the first two principal
  components of the pixels beside the autoencoder's code (its first two
  principal directions when the code has more than two units), as in Hinton &
  Salakhutdinov 2006, Fig. 3."""
  import numpy as np
  plt = figures()
  if codes_NxC.shape[1] == 2:
    auto, auto_title = codes_NxC, 'autoencoder: 2-d code'
  else:
    centered = codes_NxC - codes_NxC.mean(0)
    _, _, vt = np.linalg.svd(centered, full_matrices=False)
    auto = centered @ vt[:2].T
    auto_title = f'autoencoder: {codes_NxC.shape[1]}-d code, first 2 principal directions'
  fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
  for ax, points, title in ((axes[0], pca_Nx2, 'PCA: first 2 components of the pixels'),
                            (axes[1], auto, auto_title)):
    scatter = ax.scatter(points[:, 0], points[:, 1], c=labels, cmap='tab10', s=3, alpha=0.7)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
  fig.colorbar(scatter, ax=axes, ticks=range(10), label='class')
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path
