"""Pictures of a recurrent language model: the LSTM's gate activations over
a text."""

from __future__ import annotations

from research import fileio
from research.plots.common import figures


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
  fileio.save_figure(fig, path)
  plt.close(fig)
  return path
