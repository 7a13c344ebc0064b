"""Pictures of a trained classifier: predictions, confusion matrix, signals,
first-layer filters, convolution feature maps, a TextCNN's n-grams, and
`plot_run`, every picture of a finished classification run."""

from __future__ import annotations


from research import fileio
from research.plots.common import figures
from research.plots.curves import plot_training_curves


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
  fileio.save_figure(fig, path)
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
  fileio.save_figure(fig, path)
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
  fileio.save_figure(fig, path)
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
  fileio.save_figure(fig, path)
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

  from research.data import datasets, feeding, textcls_feeding
  paths = [plot_training_curves(workdir)]
  if not isinstance(feeder, feeding.InMemoryFeeder):
    return paths  # Streaming datasets: curves only.
  images, labels = feeder.eval_inputs_host, feeder.eval_labels_host
  is_text = isinstance(feeder, textcls_feeding.TextClassificationFeeder)
  if is_text:  # Text feeders know their class names.
    names = feeder.class_names
  else:
    try:
      names = datasets.class_names(config.dataset)
    except Exception:  # Mocked or unnamed labels: fall back to indices.
      names = [str(i) for i in range(feeder.num_classes)]
  preds = predict(model, state, images)
  paths.append(plot_confusion_matrix(labels, preds, names, fileio.join(workdir, 'confusion_matrix.png')))
  if is_text:  # What the filters fire on, then done.
    if hasattr(model, 'feature_maps'):
      # The first test text of the predicted class that is classified right.
      right = np.flatnonzero(preds == labels)
      index = int(right[0]) if right.size else 0
      paths.append(plot_textcnn_ngrams(
          model, state.params, feeder.tokenizer, feeder.eval_texts[index], names,
          fileio.join(workdir, 'ngrams.png')))
    return paths
  if images.ndim == 3:  # 1-D signals (MNIST-1D): examples of each class.
    paths.append(plot_signals(images, labels, names, preds, fileio.join(workdir, 'signals.png')))
  for p in (plot_filters(state.params, fileio.join(workdir, 'filters.png')),
            plot_feature_maps(model, state, images[0], fileio.join(workdir, 'feature_maps.png'))):
    if p:
      paths.append(p)
  return paths


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
  fileio.save_figure(fig, path)
  plt.close(fig)
  return path
