"""What every plot shares: `figures()`, matplotlib figures drawn without
pyplot's global state."""

from __future__ import annotations


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
