"""Prints the project's requirements that this Python environment lacks, one
per line, for `pip install` (`python -m launch.colab_requirements`; colabs/install.sh
runs it in Colab runtimes).

A runtime's own JAX and TensorFlow are kept whatever their versions: Colab
builds them for its accelerator, and a second TensorFlow distribution
(tensorflow-cpu beside tensorflow) in one site-packages breaks both. Every
other requirement is listed if it is missing or outside the project's pins.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys

from packaging.requirements import Requirement

# Requirement name -> installed distributions that satisfy it, whatever their version.
KEPT_AS_INSTALLED = {
    'jax': ('jax',),
    'tensorflow-cpu': ('tensorflow', 'tensorflow-cpu'),
    'tensorflow': ('tensorflow', 'tensorflow-cpu'),
}


def project_requirements(pyproject: str, extras: tuple[str, ...] = ('tf',)) -> list[Requirement]:
  """The base requirements and those of `extras`: a Colab runtime comes with
  TensorFlow (the `tf` extra), which the notebooks' TFDS datasets may read."""
  import tomllib
  with open(pyproject, 'rb') as f:
    project = tomllib.load(f)['project']
  lines = project['dependencies'] + [
      r for extra in extras for r in project['optional-dependencies'][extra]]
  return [Requirement(r) for r in lines]


def installed_version(name: str) -> str | None:
  try:
    return importlib.metadata.version(name)
  except importlib.metadata.PackageNotFoundError:
    return None


def missing(requirements: list[Requirement], version_of=installed_version) -> list[str]:
  """The requirements (as pip arguments) that the environment does not meet."""
  out = []
  for req in requirements:
    if req.marker is not None and not req.marker.evaluate():
      continue
    kept = KEPT_AS_INSTALLED.get(req.name)
    if kept and any(version_of(name) for name in kept):
      continue
    version = version_of(req.name)
    if version is None or not req.specifier.contains(version, prereleases=True):
      out.append(str(req))
  return out


if __name__ == '__main__':
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  print('\n'.join(missing(project_requirements(os.path.join(root, 'pyproject.toml')))))
  sys.exit(0)
