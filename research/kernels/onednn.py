"""2-D convolutions and batch norms through oneDNN on the CPU (XLA FFI custom
calls).

XLA:CPU runs the convolutions of these small networks well below what the
same core does in a matmul: the kernel gradient at 68-107 GFLOP/s against
about 200 for the forward pass, 16-channel layers at 80-100, LeNet's 1-channel
C1 at 3-9 (docs/speed.md). oneDNN, the library behind PyTorch's CPU
convolutions, runs all three passes at 150-260 on the same shapes. `conv2d`
computes a convolution with it on the CPU and with XLA's convolution on any
other platform (`lax.platform_dependent`: only the branch for the platform a
program is compiled for is lowered), with a custom VJP whose input and kernel
gradients are oneDNN's backward-data and backward-weights primitives.

`batch_norm` is a batch norm in training mode (then a ReLU where asked) by
oneDNN's batch-normalisation primitive, forward and backward, one call each:
ResNet-20's batch norms in bfloat16 took 31 % of its step in XLA's
conversions, reductions and elementwise fusions, and oneDNN does each layer's
in 0.1-1 ms on one thread (ResNet-20 on 2 cores: 820 -> 1,140 examples/s,
docs/speed.md). The models use both through `conv_impl='onednn'`
(research/models/common.py).

`lstm` is one LSTM layer over a whole sequence by oneDNN's LSTM primitive, the
one behind PyTorch's CPU `nn.LSTM`: the forward pass and the backward pass (every
gradient) are one call each, near the core's float32 peak, where XLA's scan
runs two small matmuls and two dozen small operations per step (the 2 x 512
character LSTM on 2 cores: 96 -> 150 sequences/s, docs/speed.md). The language
models use it through `lstm_impl='onednn'` (research/models/rnn.py). Its
temporary memory is one XLA buffer per call, sized by the library at trace
time, so nothing is allocated inside a step.

The handlers (`onednn_conv.cc`, `onednn_lstm.cc`, next to this file) are
compiled on first use into a cache folder, `$XDG_CACHE_HOME/classicnets/kernels`
(default `~/.cache/...`), under a name that hashes the sources, the jaxlib and the
oneDNN library, and are then loaded from there. That needs the wheels
`onednn-cpu-gomp` and `onednn-devel-cpu-gomp` (dependencies of this project on
Linux x86-64) and a C++17 compiler (`$CXX`, else `g++` or `c++`). Where one of
them is missing, `conv2d` logs why, once, and uses XLA's convolution (`lstm`:
`lstm_recurrence`), the same values to float rounding (tests/test_onednn.py),
only slower. With more than one
device (a mesh of forced host devices, several processes) it uses XLA's
convolution too, which XLA partitions over the mesh.

Each convolution splits its batch into `team_size()` parts, run at once on
XLA's own intra-op thread pool, oneDNN single-threaded on each part (the
kernel gradient sums the parts' float32 gradients). team_size() is
$OMP_NUM_THREADS where set, else the CPUs this process may use (its affinity
mask, capped by a container's CPU quota), and never more than XLA's pool has
threads. Why not oneDNN's OpenMP team: GNU OpenMP keeps separate workers for
every thread that starts a parallel region, and XLA calls a handler from
whichever of its threads is free, so OpenMP's workers and XLA's threads
competed for the same cores (LeNet-5 +22-27 %, ResNet-20 +12-20 % without
them, docs/speed.md). Processes that share the cores split them:
launch.reproduce --workers pins each run to its own cores (which the affinity
mask shows), pytest's workers set $OMP_NUM_THREADS=1 (tests/conftest.py).
"""

import ctypes
import functools
import hashlib
import importlib.metadata
import logging
import math
import os
import pathlib
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from research.kernels.lstm_recurrence import lstm_recurrence

_KERNELS = pathlib.Path(__file__).parent
_SOURCES = (_KERNELS / 'onednn_conv.cc', _KERNELS / 'onednn_lstm.cc')
_HEADERS = (_KERNELS / 'onednn_common.h',)
_TARGETS = {'fwd': 'classicnets_onednn_conv_forward',
            'input_grad': 'classicnets_onednn_conv_input_grad',
            'kernel_grad': 'classicnets_onednn_conv_kernel_grad'}
_SYMBOLS = {'fwd': 'OnednnConvForward', 'input_grad': 'OnednnConvInputGrad',
            'kernel_grad': 'OnednnConvKernelGrad'}
_BN_TARGETS = {'bn_fwd': 'classicnets_onednn_batch_norm_forward',
               'bn_bwd': 'classicnets_onednn_batch_norm_backward'}
_BN_SYMBOLS = {'bn_fwd': 'OnednnBatchNormForward', 'bn_bwd': 'OnednnBatchNormBackward'}
_LSTM_TARGETS = {'lstm_fwd': 'classicnets_onednn_lstm_forward',
                 'lstm_bwd': 'classicnets_onednn_lstm_backward'}
_LSTM_SYMBOLS = {'lstm_fwd': 'OnednnLstmForward', 'lstm_bwd': 'OnednnLstmBackward'}
_DIMENSION_NUMBERS = ('NHWC', 'HWIO', 'NHWC')

_lock = threading.Lock()
_status: tuple[bool, str] | None = None
_library: ctypes.CDLL | None = None


def _distribution_file(distribution: str, name: str) -> pathlib.Path:
  try:
    files = importlib.metadata.files(distribution) or []
  except importlib.metadata.PackageNotFoundError:
    raise FileNotFoundError(
        f'the {distribution!r} wheel is not installed (pip install {distribution})') from None
  for f in files:
    if f.name == name:
      return pathlib.Path(f.locate()).resolve()
  raise FileNotFoundError(f'{distribution!r} has no file named {name!r}')


def _cache_dir() -> pathlib.Path:
  root = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
  return pathlib.Path(root) / 'classicnets' / 'kernels'


def _compiler() -> str:
  for candidate in (os.environ.get('CXX'), 'g++', 'c++'):
    if candidate and shutil.which(candidate):
      return shutil.which(candidate)
  raise FileNotFoundError('no C++ compiler found (set $CXX, or install g++)')


def build() -> pathlib.Path:
  """Compiles the handlers if no cached build matches; returns the library's path."""
  library = _distribution_file('onednn-cpu-gomp', 'libdnnl.so.3')
  header = _distribution_file('onednn-devel-cpu-gomp', 'dnnl.hpp')
  include = header.parent.parent if header.parent.name == 'dnnl' else header.parent
  compiler = _compiler()
  key = hashlib.sha256()
  for part in (*(f.read_bytes() for f in _SOURCES + _HEADERS), jax.__version__.encode(),
               jax.lib.__version__.encode(), str(library).encode(),
               str(library.stat().st_size).encode(), compiler.encode()):
    key.update(part)
  target = _cache_dir() / f'onednn_kernels-{key.hexdigest()[:16]}.so'
  if target.exists():
    return target
  target.parent.mkdir(parents=True, exist_ok=True)
  # Build to a temporary name and rename: processes that build at the same
  # time (launch.reproduce --workers) each get a whole library.
  fd, tmp = tempfile.mkstemp(suffix='.so', dir=target.parent)
  os.close(fd)
  command = [compiler, '-O2', '-std=c++17', '-shared', '-fPIC', '-fopenmp', '-w',
             '-I', jax.ffi.include_dir(), '-I', str(include), *map(str, _SOURCES), '-o', tmp,
             str(library), f'-Wl,-rpath,{library.parent}']
  try:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode:
      raise RuntimeError(f'compiling {", ".join(f.name for f in _SOURCES)} failed:\n{" ".join(command)}\n'
                         f'{result.stderr[-3000:]}')
    os.replace(tmp, target)
  finally:
    if os.path.exists(tmp):
      os.unlink(tmp)
  return target


def _cgroup_cpu_limit(proc_cgroup: str = '/proc/self/cgroup',
                      root: str = '/sys/fs/cgroup') -> float | None:
  """The CPU time this process's cgroup may use, in CPUs (None: no limit).

  A container run with a CPU quota (docker --cpus, Kubernetes limits) still
  sees every CPU of the host in its affinity mask; threads that many would
  spend their time waiting for cores they may not use.
  """
  candidates = []  # (quota file, period file or None for cgroup v2's cpu.max)
  try:
    with open(proc_cgroup) as f:
      for line in f:
        hierarchy, controllers, path = line.rstrip('\n').split(':', 2)
        path = path.rstrip('/')
        if hierarchy == '0' and not controllers:  # cgroup v2
          candidates.append((f'{root}{path}/cpu.max', None))
        elif 'cpu' in controllers.split(','):  # cgroup v1
          candidates.append((f'{root}/{controllers}{path}/cpu.cfs_quota_us',
                             f'{root}/{controllers}{path}/cpu.cfs_period_us'))
  except (OSError, ValueError):
    pass
  # Inside a container the process's own cgroup is usually the mount's root.
  candidates += [(f'{root}/cpu.max', None),
                 (f'{root}/cpu/cpu.cfs_quota_us', f'{root}/cpu/cpu.cfs_period_us')]
  for quota_file, period_file in candidates:
    try:
      with open(quota_file) as f:
        fields = f.read().split()
      if period_file is not None:
        with open(period_file) as f:
          fields.append(f.read().strip())
      if fields[0] in ('max', '-1'):
        return None
      quota, period = float(fields[0]), float(fields[1])
    except (OSError, IndexError, ValueError):
      continue
    return quota / period if period > 0 else None
  return None


def cpu_budget() -> int:
  """CPUs this process may use: its affinity mask, capped by a cgroup quota."""
  cpus = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
  limit = _cgroup_cpu_limit()
  if limit is not None:
    cpus = min(cpus, max(1, math.ceil(limit)))
  return max(1, cpus or 1)


def team_size() -> int:
  """Parts of a batch each oneDNN convolution runs at once (on XLA's thread
  pool, at most as many as it has threads): $OMP_NUM_THREADS where set (its
  first value), else `cpu_budget()`."""
  requested = os.environ.get('OMP_NUM_THREADS', '').split(',')[0].strip()
  if requested:
    if not requested.isdigit() or int(requested) < 1:
      raise ValueError(f'OMP_NUM_THREADS={os.environ["OMP_NUM_THREADS"]!r}: '
                       'expected a positive integer.')
    return int(requested)
  return cpu_budget()


def status() -> tuple[bool, str]:
  """(True, library path) once the handlers are built, loaded and registered
  with XLA; (False, why not) where they cannot be. Computed once per process."""
  global _status, _library
  with _lock:
    if _status is None:
      try:
        library = ctypes.CDLL(str(build()))
        library.ClassicnetsOnednnSetThreads(ctypes.c_int(team_size()))
        for targets, symbols in ((_TARGETS, _SYMBOLS), (_BN_TARGETS, _BN_SYMBOLS),
                                 (_LSTM_TARGETS, _LSTM_SYMBOLS)):
          for pass_, name in targets.items():
            jax.ffi.register_ffi_target(
                name, jax.ffi.pycapsule(getattr(library, symbols[pass_])), platform='cpu')
        _library = library
        _status = (True, library._name)
      except (OSError, RuntimeError, AttributeError) as e:
        _status = (False, str(e))
        logging.warning(
            'oneDNN convolutions are unavailable, so XLA\'s are used (the same values, '
            'slower on a CPU): %s', e)
    return _status


def available() -> bool:
  return status()[0]


def _use_onednn() -> bool:
  # One device in all: XLA's SPMD partitioner cannot split a custom call over a
  # mesh (it would gather the batch onto every device), and several CPU devices
  # in one process would each split their batches over the same cores. Data
  # parallelism over several devices keeps XLA's convolution.
  return jax.device_count() == 1 and available()


def _explicit_padding(padding, input_hw, kernel_hw, strides):
  if isinstance(padding, str):
    if padding.upper() not in ('SAME', 'VALID'):
      raise ValueError(f"padding={padding!r}; use 'SAME', 'VALID' or "
                       '((top, bottom), (left, right)).')
    return tuple(tuple(int(p) for p in pair)
                 for pair in lax.padtype_to_pads(input_hw, kernel_hw, strides, padding.upper()))
  pads = tuple(tuple(int(p) for p in pair) for pair in padding)
  if len(pads) != 2 or any(len(pair) != 2 for pair in pads):
    raise ValueError(f'padding={padding!r}; explicit padding is ((top, bottom), (left, right)).')
  return pads


def _attrs(strides, pads):
  (top, bottom), (left, right) = pads
  return {'stride_h': np.int64(strides[0]), 'stride_w': np.int64(strides[1]),
          'pad_top': np.int64(top), 'pad_bottom': np.int64(bottom),
          'pad_left': np.int64(left), 'pad_right': np.int64(right)}


def _xla_conv(x, kernel, strides, pads):
  return lax.conv_general_dilated(x, kernel, strides, pads, dimension_numbers=_DIMENSION_NUMBERS)


def _call(pass_, result_shape, strides, pads, *operands):
  return jax.ffi.ffi_call(_TARGETS[pass_], jax.ShapeDtypeStruct(result_shape, operands[0].dtype),
                          vmap_method='sequential')(*operands, **_attrs(strides, pads))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv(x, kernel, strides, pads):
  y_shape = jax.eval_shape(functools.partial(_xla_conv, strides=strides, pads=pads),
                           x, kernel).shape
  return lax.platform_dependent(
      x, kernel,
      cpu=lambda x, k: _call('fwd', y_shape, strides, pads, x, k),
      default=lambda x, k: _xla_conv(x, k, strides, pads))


def _conv_fwd(x, kernel, strides, pads):
  return _conv(x, kernel, strides, pads), (x, kernel)


def _conv_bwd(strides, pads, residuals, dy):
  x, kernel = residuals

  def onednn_grads(x, kernel, dy):
    return (_call('input_grad', x.shape, strides, pads, dy, kernel),
            _call('kernel_grad', kernel.shape, strides, pads, x, dy))

  def xla_grads(x, kernel, dy):
    return jax.vjp(lambda a, b: _xla_conv(a, b, strides, pads), x, kernel)[1](dy)

  return lax.platform_dependent(x, kernel, dy, cpu=onednn_grads, default=xla_grads)


_conv.defvjp(_conv_fwd, _conv_bwd)


def conv2d(x_NxHxWxC: jax.Array, kernel_HxWxIxO: jax.Array, strides: Sequence[int] = (1, 1),
           padding='SAME') -> jax.Array:
  """`lax.conv_general_dilated` for NHWC inputs and HWIO kernels (no dilation,
  one group), by oneDNN on the CPU. bfloat16 operands stay bfloat16 (oneDNN
  accumulates in float32, as XLA does); other dtypes compute in float32 and
  return the operands' dtype."""
  if x_NxHxWxC.ndim != 4 or kernel_HxWxIxO.ndim != 4:
    raise ValueError(f'conv2d wants NHWC inputs and HWIO kernels; got shapes '
                     f'{x_NxHxWxC.shape} and {kernel_HxWxIxO.shape}.')
  if x_NxHxWxC.shape[-1] != kernel_HxWxIxO.shape[2]:
    raise ValueError(f'conv2d: the input has {x_NxHxWxC.shape[-1]} channels, the kernel '
                     f'expects {kernel_HxWxIxO.shape[2]} (shapes {x_NxHxWxC.shape}, '
                     f'{kernel_HxWxIxO.shape}).')
  strides = tuple(int(s) for s in strides)
  pads = _explicit_padding(padding, x_NxHxWxC.shape[1:3], kernel_HxWxIxO.shape[:2], strides)
  dtype = jnp.result_type(x_NxHxWxC, kernel_HxWxIxO)
  compute = jnp.bfloat16 if dtype == jnp.bfloat16 else jnp.float32
  x, kernel = x_NxHxWxC.astype(compute), kernel_HxWxIxO.astype(compute)
  if _use_onednn():
    y = _conv(x, kernel, strides, pads)
  else:
    y = _xla_conv(x, kernel, strides, pads)
  return y.astype(dtype)


# ---------------------------------------------------------------------------
# Batch normalisation in training mode, optionally followed by a ReLU.


def _xla_batch_norm(x, scale, bias, epsilon, relu):
  # Flax's BatchNorm: float32 statistics, the biased variance as E[x^2] - E[x]^2,
  # normalised in float32 and returned in x's dtype.
  x32 = x.astype(jnp.float32)
  mean = jnp.mean(x32, axis=(0, 1, 2))
  var = jnp.maximum(0.0, jnp.mean(x32 * x32, axis=(0, 1, 2)) - mean * mean)
  y = ((x32 - mean) * (scale * lax.rsqrt(var + epsilon)) + bias).astype(x.dtype)
  return (jnp.maximum(y, 0) if relu else y), mean, var


def _bn_attrs(epsilon, relu):
  return {'epsilon': np.float32(epsilon), 'relu': np.int64(bool(relu))}


def _workspace_bytes(shape, dtype) -> int:
  # The ReLU mask oneDNN keeps between a fused batch norm + ReLU's passes; its
  # size is oneDNN's to choose, so the library says it (at trace time).
  fn = _library.ClassicnetsOnednnBnWorkspaceBytes
  fn.restype = ctypes.c_int64
  n, h, w, c = (ctypes.c_int64(d) for d in shape)
  size = fn(n, h, w, c, ctypes.c_int(dtype == jnp.bfloat16))
  if size < 0:
    raise RuntimeError(f'oneDNN cannot build a batch norm + ReLU for {shape} {dtype}')
  return size


def _onednn_batch_norm_fwd(x, scale, bias, epsilon, relu, workspace_bytes):
  channels = jax.ShapeDtypeStruct(scale.shape, jnp.float32)
  workspace = jax.ShapeDtypeStruct((workspace_bytes,), jnp.uint8)
  return jax.ffi.ffi_call(
      _BN_TARGETS['bn_fwd'], (jax.ShapeDtypeStruct(x.shape, x.dtype), channels, channels, workspace),
      vmap_method='sequential')(x, scale, bias, **_bn_attrs(epsilon, relu))


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def _batch_norm(x, scale, bias, epsilon, relu):
  return _batch_norm_fwd(x, scale, bias, epsilon, relu)[0]


def _batch_norm_fwd(x, scale, bias, epsilon, relu):
  # On the CPU: oneDNN's (y, mean, var, ReLU mask); elsewhere Flax's arithmetic
  # and an unused mask of the same size (both branches must give the same
  # types). Only the branch of the platform compiled for is lowered.
  workspace_bytes = _workspace_bytes(x.shape, x.dtype) if relu else 0

  def xla(x, scale, bias):
    return (*_xla_batch_norm(x, scale, bias, epsilon, relu),
            jnp.zeros((workspace_bytes,), jnp.uint8))

  y, mean, var, workspace = lax.platform_dependent(
      x, scale, bias, cpu=lambda *a: _onednn_batch_norm_fwd(*a, epsilon, relu, workspace_bytes),
      default=xla)
  return (y, mean, var), (x, workspace, scale, bias, mean, var)


def _batch_norm_bwd(epsilon, relu, residuals, cotangents):
  # The statistics leave `batch_norm` through stop_gradient: their cotangents
  # are zero, and only y's is propagated.
  x, workspace, scale, bias, mean, var = residuals
  dy = cotangents[0]

  def onednn_grads(x, workspace, dy, scale, bias, mean, var):
    channels = jax.ShapeDtypeStruct(scale.shape, jnp.float32)
    return jax.ffi.ffi_call(
        _BN_TARGETS['bn_bwd'], (jax.ShapeDtypeStruct(x.shape, x.dtype), channels, channels),
        vmap_method='sequential')(x, dy, workspace, scale, mean, var, **_bn_attrs(epsilon, relu))

  def xla_grads(x, workspace, dy, scale, bias, mean, var):
    vjp = jax.vjp(lambda a, b, c: _xla_batch_norm(a, b, c, epsilon, relu)[0], x, scale, bias)[1]
    return vjp(dy)

  return lax.platform_dependent(x, workspace, dy, scale, bias, mean, var,
                                cpu=onednn_grads, default=xla_grads)


_batch_norm.defvjp(_batch_norm_fwd, _batch_norm_bwd)


def batch_norm(x_NxHxWxC: jax.Array, scale_C: jax.Array, bias_C: jax.Array, epsilon: float,
               relu: bool = False) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Batch normalisation of an NHWC activation with its own batch statistics
  (training mode), then a ReLU where `relu`: (y, mean_C, var_C), the statistics
  in float32 and without gradient. Flax's BatchNorm computes the same (float32
  statistics, the biased variance, y in x's dtype); on the CPU oneDNN computes
  it, elsewhere and with several devices XLA does, as Flax would."""
  channels = (x_NxHxWxC.shape[-1],)
  if x_NxHxWxC.ndim != 4 or scale_C.shape != channels or bias_C.shape != channels:
    raise ValueError(f'batch_norm wants NHWC activations and C scales and biases; got shapes '
                     f'{x_NxHxWxC.shape}, {scale_C.shape}, {bias_C.shape}.')
  dtype = x_NxHxWxC.dtype if x_NxHxWxC.dtype in (jnp.bfloat16, jnp.float32) else jnp.float32
  x = x_NxHxWxC.astype(dtype)
  scale, bias = scale_C.astype(jnp.float32), bias_C.astype(jnp.float32)
  if _use_onednn():
    y, mean, var = _batch_norm(x, scale, bias, float(epsilon), bool(relu))
  else:
    y, mean, var = _xla_batch_norm(x, scale, bias, float(epsilon), bool(relu))
  return y, lax.stop_gradient(mean), lax.stop_gradient(var)


# ---------------------------------------------------------------------------
# One LSTM layer over a whole sequence.


def _lstm_parts(batch: int) -> int:
  return max(1, min(team_size(), batch))


def _lstm_bytes(function: str, *sizes: int) -> int:
  # A size only oneDNN knows (its workspace, its scratchpads), asked of the
  # library at trace time.
  fn = getattr(_library, function)
  fn.restype = ctypes.c_int64
  size = fn(*(ctypes.c_int64(int(v)) for v in sizes))
  if size < 0:
    raise RuntimeError(f'oneDNN cannot build an LSTM of (steps, batch, inputs, units) '
                       f'{tuple(sizes[:4])}')
  return max(size, 1)


def _lstm_workspace_bytes(steps, batch, inputs, hidden) -> int:
  # oneDNN's gates and states of every step, which the backward pass reads.
  return _lstm_bytes('ClassicnetsOnednnLstmWorkspaceBytes', steps, batch, inputs, hidden,
                     _lstm_parts(batch))


_LSTM_PASSES = {'inference': 0, 'training': 1, 'backward': 2}


def _lstm_scratch_bytes(steps, batch, inputs, hidden, time_major, pass_) -> int:
  # A call's temporary memory (oneDNN's scratchpads, dense copies of each part's
  # rows, partial weight gradients) as one XLA buffer, reused every step.
  return _lstm_bytes('ClassicnetsOnednnLstmScratchBytes', steps, batch, inputs, hidden,
                     _lstm_parts(batch), time_major, _LSTM_PASSES[pass_])


def _xla_lstm(time_major, x, w_x, w_h, bias, c0, h0):
  # The same equations in XLA (research/kernels/lstm_recurrence.py): for a
  # program lowered for another platform.
  a_x_TxBx4H = (x if time_major else jnp.swapaxes(x, 0, 1)) @ w_x + bias
  h_TxBxH, (c_T, h_T) = lstm_recurrence(0.0, jnp.float32, w_h, a_x_TxBx4H, c0, h0)
  return (h_TxBxH if time_major else jnp.swapaxes(h_TxBxH, 0, 1)), c_T, h_T


def _steps_and_batch(x, time_major):
  return (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])


def _lstm_attrs(batch, time_major):
  return {'parts': np.int64(_lstm_parts(batch)), 'time_major': np.int64(time_major)}


def _lstm_call(time_major, training, x, w_x, w_h, bias, c0, h0):
  steps, batch = _steps_and_batch(x, time_major)
  inputs, hidden = x.shape[2], h0.shape[-1]
  workspace = _lstm_workspace_bytes(steps, batch, inputs, hidden) if training else 1
  scratch = _lstm_scratch_bytes(steps, batch, inputs, hidden, time_major,
                                'training' if training else 'inference')
  states = jax.ShapeDtypeStruct(h0.shape, jnp.float32)
  return jax.ffi.ffi_call(
      _LSTM_TARGETS['lstm_fwd'],
      (jax.ShapeDtypeStruct(x.shape[:2] + (hidden,), jnp.float32), states, states,
       jax.ShapeDtypeStruct((workspace,), jnp.uint8), jax.ShapeDtypeStruct((scratch,), jnp.uint8)),
      vmap_method='sequential')(x, w_x, w_h, bias, c0, h0, training=np.int64(training),
                                **_lstm_attrs(batch, time_major))[:4]


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _lstm(time_major, x, w_x, w_h, bias, c0, h0):
  return lax.platform_dependent(
      x, w_x, w_h, bias, c0, h0,
      cpu=lambda *a: _lstm_call(time_major, False, *a)[:3],
      default=functools.partial(_xla_lstm, time_major))


def _lstm_fwd(time_major, x, w_x, w_h, bias, c0, h0):
  operands = (x, w_x, w_h, bias, c0, h0)

  def xla(*a):
    steps, batch = _steps_and_batch(x, time_major)
    workspace = _lstm_workspace_bytes(steps, batch, x.shape[2], h0.shape[-1])
    return (*_xla_lstm(time_major, *a), jnp.zeros((workspace,), jnp.uint8))

  y, c_T, h_T, workspace = lax.platform_dependent(
      *operands, cpu=functools.partial(_lstm_call, time_major, True), default=xla)
  return (y, c_T, h_T), (operands, y, c_T, h_T, workspace)


def _lstm_bwd(time_major, residuals, cotangents):
  operands, y, c_T, h_T, workspace = residuals
  x, h0 = operands[0], operands[-1]
  steps, batch = _steps_and_batch(x, time_major)
  scratch = _lstm_scratch_bytes(steps, batch, x.shape[2], h0.shape[-1], time_major, 'backward')

  def onednn_grads(*args):
    shapes = [jax.ShapeDtypeStruct(a.shape, jnp.float32) for a in operands]
    shapes.append(jax.ShapeDtypeStruct((scratch,), jnp.uint8))
    return tuple(jax.ffi.ffi_call(_LSTM_TARGETS['lstm_bwd'], shapes, vmap_method='sequential')(
        *args, **_lstm_attrs(batch, time_major))[:6])

  def xla_grads(x, w_x, w_h, bias, c0, h0, y, c_T, h_T, workspace, dy, dc_T, dh_T):
    return jax.vjp(functools.partial(_xla_lstm, time_major), x, w_x, w_h, bias, c0, h0)[1](
        (dy, dc_T, dh_T))

  return tuple(lax.platform_dependent(*operands, y, c_T, h_T, workspace, *cotangents,
                                      cpu=onednn_grads, default=xla_grads))


_lstm.defvjp(_lstm_fwd, _lstm_bwd)


def lstm_available() -> bool:
  """Whether `lstm` runs on oneDNN here (one CPU device and the handlers built)."""
  return jax.default_backend() == 'cpu' and _use_onednn()


def lstm(x_BxTxD: jax.Array, w_x_Dx4H: jax.Array, w_h_Hx4H: jax.Array, bias_4H: jax.Array,
         c0_BxH: jax.Array, h0_BxH: jax.Array, *,
         time_major: bool = False) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
  """One LSTM layer over a sequence, in float32, by oneDNN's LSTM primitive on
  the CPU (gates in the order i, f, g, o; Zaremba et al. 2014, §3):

      a_t = x_t W_x + h_{t-1} W_h + b,   i, f, o = sigm(.), g = tanh(.)
      c_t = f * c_{t-1} + i * g,         h_t = o * tanh(c_t)

  Returns (h_BxTxH, (c_T, h_T)); with `time_major`, x is TxBxD and h TxBxH. Its
  VJP is oneDNN's backward primitive (every operand's gradient in one call).
  Where `lstm_available()` is False (oneDNN missing, several devices, not a
  CPU) XLA computes the same (`lstm_recurrence`), as does a program lowered
  for another platform."""
  if x_BxTxD.ndim != 3:
    raise ValueError(f'lstm: x must be rank 3; got shape {x_BxTxD.shape}.')
  steps, batch = _steps_and_batch(x_BxTxD, time_major)
  inputs, hidden = x_BxTxD.shape[2], h0_BxH.shape[-1]
  expected = {'w_x': (inputs, 4 * hidden), 'w_h': (hidden, 4 * hidden), 'bias': (4 * hidden,),
              'c0': (batch, hidden), 'h0': (batch, hidden)}
  got = {'w_x': w_x_Dx4H.shape, 'w_h': w_h_Hx4H.shape, 'bias': bias_4H.shape,
         'c0': c0_BxH.shape, 'h0': h0_BxH.shape}
  if got != expected:
    layout = 'T x B x D' if time_major else 'B x T x D'
    raise ValueError(f'lstm: x of shape {x_BxTxD.shape} ({layout}) wants {expected}; got {got}.')
  operands = [a.astype(jnp.float32) for a in (x_BxTxD, w_x_Dx4H, w_h_Hx4H, bias_4H, c0_BxH, h0_BxH)]
  if lstm_available():
    y, c_T, h_T = _lstm(bool(time_major), *operands)
  else:
    y, c_T, h_T = _xla_lstm(bool(time_major), *operands)
  return y, (c_T, h_T)
