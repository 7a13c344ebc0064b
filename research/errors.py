"""Errors a user can fix: the launchers print them as one line and exit non-zero."""


class UserError(Exception):
  """Bad input (config, data, workdir). Printed without a traceback."""


class ConfigError(UserError):
  """The config names something that does not exist or does not fit."""


class DataNotFoundError(UserError):
  """A dataset is not on disk and cannot be built or downloaded here."""


class DataError(UserError):
  """A data or weight file exists but cannot be used as it is (not an image,
  the wrong format or shape, damaged)."""


class NonFiniteLossError(UserError):
  """Training produced NaN/Inf; the last good checkpoint is kept."""


class WorkdirError(UserError):
  """The workdir cannot be written (disk full, read-only, no permission) or is
  in use by another run; what was saved before is kept."""


class CheckpointsDamagedError(UserError):
  """No checkpoint in the workdir can be read back intact."""


# Causes a user fixes outside the code, by errno; what each needs.
_SYSTEM_CAUSES = {
    'ENOSPC': 'the disk is full: free space or use a --workdir on a larger disk',
    'EDQUOT': 'the disk quota is exceeded: free space or use a --workdir elsewhere',
    'EFBIG': 'a file grew past the size this system allows (ulimit -f): raise the limit',
    'EROFS': 'the file system is read-only: use a --workdir on a writable disk',
    'EACCES': 'permission denied: use a --workdir you can write to, or fix its permissions',
    'EPERM': 'operation not permitted: use a --workdir you can write to',
}
# The same causes as text, for errors from C++ libraries (tensorstore, TF)
# that arrive as ValueError/RuntimeError with the OS's message inside.
_SYSTEM_TEXT = {
    'No space left on device': 'ENOSPC', 'RESOURCE_EXHAUSTED': 'ENOSPC',
    'Disk quota exceeded': 'EDQUOT', 'File too large': 'EFBIG',
    'Read-only file system': 'EROFS', 'Permission denied': 'EACCES',
    'PERMISSION_DENIED': 'EACCES',
}


def system_cause(error: BaseException) -> tuple[str, str | None] | None:
  """(what to do, the file named) when `error`, or one of its causes, is a
  full disk, a read-only file system or a refused permission; None for
  anything else (a real bug keeps its traceback)."""
  import errno as errno_lib

  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    if isinstance(error, OSError) and error.errno is not None:
      name = errno_lib.errorcode.get(error.errno)
      if name in _SYSTEM_CAUSES:
        return _SYSTEM_CAUSES[name], error.filename
    text = str(error)
    for needle, name in _SYSTEM_TEXT.items():
      if needle in text:
        return _SYSTEM_CAUSES[name], None
    error = error.__cause__ or error.__context__
  return None
