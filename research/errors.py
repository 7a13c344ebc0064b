"""Errors a user can fix: the launchers print them as one line and exit non-zero."""


class UserError(Exception):
  """Bad input (config, data, workdir). Printed without a traceback."""


class ConfigError(UserError):
  """The config names something that does not exist or does not fit."""


class DataNotFoundError(UserError):
  """A dataset is not on disk and cannot be built or downloaded here."""


class NonFiniteLossError(UserError):
  """Training produced NaN/Inf; the last good checkpoint is kept."""
