"""What the notebooks in colabs/ share after their install cell.

`setup()` makes the repository root the working directory (so `configs/...`
paths resolve as on the command line) and reads the two switches the tests
set: CLASSICNETS_SMOKE=1 (small data, few steps) and CLASSICNETS_RUNS (where
workdirs go). `show` displays the PNGs runs write.
"""

from __future__ import annotations

import os

COLAB_CHECKOUT = '/content/classicnets'  # where the notebooks' first cell clones to


def repository_root(start: str | None = None) -> str:
  """The nearest directory holding configs/ and research/: the start directory
  (default: the working directory) or one above it, else the Colab checkout."""
  here = os.path.abspath(start or os.getcwd())
  for candidate in (here, os.path.dirname(here), COLAB_CHECKOUT):
    if all(os.path.isdir(os.path.join(candidate, d)) for d in ('configs', 'research')):
      return candidate
  raise FileNotFoundError(
      f'No classicnets checkout at or above {here}: open the notebook from the '
      "repository's colabs/ folder, or in Colab run the first cell.")


def setup() -> tuple[bool, str]:
  """chdir to the repository root; returns (SMOKE, RUNS), RUNS created."""
  os.chdir(repository_root())
  smoke = os.environ.get('CLASSICNETS_SMOKE') == '1'
  runs = os.path.abspath(os.environ.get('CLASSICNETS_RUNS', 'runs/colab'))
  os.makedirs(runs, exist_ok=True)
  return smoke, runs


def show(*paths: str) -> None:
  """Displays PNG files in the notebook."""
  from IPython.display import Image, display
  for path in paths:
    display(Image(path))
