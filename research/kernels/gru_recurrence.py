"""The GRU recurrence with a hand-written backward pass (`gru_recurrence`),
which `GRUCell.sequence` (research/models/rnn.py) runs with `impl='xla'`.

The same plan as the LSTM's (research/kernels/lstm_recurrence.py): autodiff of
a scanned cell accumulates the recurrent kernel's gradient inside the backward
loop, two matmuls per time step. Here the backward loop computes only the
pre-activation gradients and dh_{t-1}; dW_h = sum_t h_{t-1}^T da_h,t and
db_hn = sum_t da_hn,t are taken after the loop, once, over all T x B rows.

Forward (PyTorch/cuDNN's variant, see `GRUCell`), with a_x = W_x x_t + b:
    r = sigm(a_x,r + a_h,r)          a_h = h_{t-1} W_h
    z = sigm(a_x,z + a_h,z)          m = a_h,n + b_hn
    n = tanh(a_x,n + r * m)
    h_t = (1 - z) * n + z * h_{t-1}
Backward, for dh = dh_t (from the output and from step t+1):
    da_n = dh * (1 - z) * (1 - n^2)           (= d a_x,n)
    da_z = dh * (h_{t-1} - n) * z (1 - z)     (= d a_x,z = d a_h,z)
    da_r = da_n * m * r (1 - r)               (= d a_x,r = d a_h,r)
    d a_h,n = da_n * r                        (= d m = d b_hn)
    dh_{t-1} = dh * z + d a_h W_h^T
Arrays are time-major: a_x_TxBx3H holds W_x x_t + b for every step.
"""

import functools

import jax
import jax.numpy as jnp

from research.kernels.lstm_recurrence import recurrent_kernel_grad


def _gru_step(dtype, w_Hx3H, b_hn_H, h_BxH, a_x_Bx3H):
  a_h_Bx3H = jnp.dot(h_BxH.astype(dtype), w_Hx3H.astype(dtype),
                     preferred_element_type=jnp.float32)
  ax_r, ax_z, ax_n = jnp.split(a_x_Bx3H, 3, axis=-1)
  ah_r, ah_z, ah_n = jnp.split(a_h_Bx3H, 3, axis=-1)
  r = jax.nn.sigmoid(ax_r + ah_r)
  z = jax.nn.sigmoid(ax_z + ah_z)
  m = ah_n + b_hn_H
  n = jnp.tanh(ax_n + r * m)
  h_new = (1.0 - z) * n + z * h_BxH
  return h_new, (r, z, n, m)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def gru_recurrence(dtype, w_Hx3H, b_hn_H, a_x_TxBx3H, h0_BxH):
  """(h_TxBxH, h_T) of the GRU equations over T steps (see `GRUCell`)."""
  def step(h, a_x):
    h_new, _ = _gru_step(dtype, w_Hx3H, b_hn_H, h, a_x)
    return h_new, h_new

  h_T, h_TxBxH = jax.lax.scan(step, h0_BxH, a_x_TxBx3H)
  return h_TxBxH, h_T


def _gru_fwd(dtype, w_Hx3H, b_hn_H, a_x_TxBx3H, h0_BxH):
  def step(h, a_x):
    h_new, gates = _gru_step(dtype, w_Hx3H, b_hn_H, h, a_x)
    return h_new, (h_new, gates)

  h_T, (h_TxBxH, gates) = jax.lax.scan(step, h0_BxH, a_x_TxBx3H)
  # h_{t-1} for every step: h0, then the outputs but the last.
  h_prev_TxBxH = jnp.concatenate([h0_BxH[None], h_TxBxH[:-1]], axis=0)
  return (h_TxBxH, h_T), (w_Hx3H, gates, h_prev_TxBxH)


def _gru_bwd(dtype, residuals, cotangents):
  w_Hx3H, gates, h_prev_TxBxH = residuals
  dh_out_TxBxH, dh_T = cotangents
  w_T = w_Hx3H.T.astype(dtype)

  def step(dh_next, xs):
    dh_out, (r, z, n, m), h_prev = xs
    dh = dh_out + dh_next
    da_n = dh * (1.0 - z) * (1.0 - n * n)
    da_z = dh * (h_prev - n) * z * (1.0 - z)
    da_r = da_n * m * r * (1.0 - r)
    da_h_Bx3H = jnp.concatenate([da_r, da_z, da_n * r], axis=-1)
    dh_prev = dh * z + jnp.dot(da_h_Bx3H.astype(dtype), w_T,
                               preferred_element_type=jnp.float32)
    return dh_prev, jnp.concatenate([da_r, da_z, da_n], axis=-1)

  dh0, da_x_TxBx3H = jax.lax.scan(step, dh_T, (dh_out_TxBxH, gates, h_prev_TxBxH),
                                  reverse=True)
  # The hidden side's gradient differs from the input side's only in the n
  # block, scaled by r (d m = da_n * r); rebuilt here outside the loop.
  r_TxBxH = gates[0]
  H = r_TxBxH.shape[-1]
  da_h_TxBx3H = da_x_TxBx3H.at[..., 2 * H:].multiply(r_TxBxH)
  dw_Hx3H = recurrent_kernel_grad(h_prev_TxBxH, da_h_TxBx3H, dtype)
  db_hn_H = da_h_TxBx3H[..., 2 * H:].sum(axis=(0, 1))
  return dw_Hx3H.astype(w_Hx3H.dtype), db_hn_H, da_x_TxBx3H, dh0


gru_recurrence.defvjp(_gru_fwd, _gru_bwd)
