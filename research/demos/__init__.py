"""Small, self-checking demonstrations of the classic results (issue 8):
`decision_boundaries` (a linear classifier cannot separate XOR, one hidden layer
can; moons and spirals), `universal_approximation` (one hidden layer of growing
width fits a 1-D function ever more closely), `backprop` (the delta rule of
Rumelhart, Hinton & Williams 1986 written by hand, checked against `jax.grad`),
`param_count` (a 1000x1000 image into 10^6 hidden units: fully connected,
locally connected, convolutional) and `translation` (conv + max-pool changes
less than a fully connected layer when the image shifts). Each module has
`run(*, small=False, seed=0)`, returning a result with `summary()` (JSON-able)
and `describe()` (text), and `plot(result, path)`, writing a PNG;
`python -m launch.demo NAME --outdir=DIR` runs one and saves both.
"""

from __future__ import annotations

import time

from research import errors, fileio
from research.demos import (backprop, decision_boundaries, param_count, translation,
                            universal_approximation)

DEMOS = {
    'decision_boundaries': decision_boundaries,
    'universal_approximation': universal_approximation,
    'backprop': backprop,
    'param_count': param_count,
    'translation': translation,
}


def resolve(name: str) -> list[str]:
  """The demo names `name` stands for ('all': every demo)."""
  if name == 'all':
    return list(DEMOS)
  if name not in DEMOS:
    raise errors.UserError(f"Unknown demo {name!r}; choose from: {', '.join([*DEMOS, 'all'])}.")
  return [name]


def run_and_save(name: str, outdir: str, *, small: bool = False, seed: int = 0):
  """Runs demo `name` (a key of DEMOS); writes OUTDIR/NAME.png and
  OUTDIR/NAME.json (the summary, the mode and the wall time). Returns the result."""
  demo = DEMOS[name]
  start = time.perf_counter()
  result = demo.run(small=small, seed=seed)
  seconds = time.perf_counter() - start
  demo.plot(result, fileio.join(outdir, f'{name}.png'))
  fileio.write_json(fileio.join(outdir, f'{name}.json'), {
      'demo': name, 'small': small, 'seed': seed, 'run_seconds': round(seconds, 2),
      **result.summary()})
  return result
