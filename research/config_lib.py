"""Helpers for `configs/*.py` and the checks every config passes at load time."""

from __future__ import annotations

import ast
from typing import Any

import ml_collections

from research import errors


def parse_arg(arg: str | None, **defaults: Any) -> ml_collections.ConfigDict:
  """Parses `--config=file.py:key=value,flag` into a ConfigDict.

  Every accepted key must appear in `defaults` (its type is taken from the
  default); a bare `flag` means `flag=True`. Unknown keys are an error, so a
  typo in the variant string fails before anything runs.
  """
  parsed = ml_collections.ConfigDict(defaults)
  if not arg:
    return parsed
  for item in arg.split(','):
    key, sep, raw = item.partition('=')
    key = key.strip()
    if key not in defaults:
      raise errors.ConfigError(
          f'Unknown config argument {key!r} in {arg!r}; '
          f'this config accepts: {", ".join(sorted(defaults))}.')
    default = defaults[key]
    if not sep:
      value: Any = True
    elif isinstance(default, bool):
      if raw.lower() not in ('true', 'false', '1', '0'):
        raise errors.ConfigError(f'Config argument {key}={raw!r} is not a bool.')
      value = raw.lower() in ('true', '1')
    elif isinstance(default, (int, float)):
      try:
        value = type(default)(ast.literal_eval(raw))
      except (ValueError, SyntaxError) as e:
        raise errors.ConfigError(
            f'Config argument {key}={raw!r} is not a {type(default).__name__}.'
        ) from e
    else:
      value = raw
    parsed[key] = value
  return parsed


def check_choice(kind: str, name: str, choices: dict[str, Any]) -> None:
  if name not in choices:
    raise errors.ConfigError(
        f'Unknown {kind} {name!r}; known {kind}s: {", ".join(sorted(choices))}.')
