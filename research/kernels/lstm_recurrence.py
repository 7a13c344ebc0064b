"""The LSTM recurrence with a hand-written backward pass (`lstm_recurrence`),
which `LSTMCell.sequence` (research/models/rnn.py) runs with `impl='xla'` (and
with 'onednn' where oneDNN is not used)."""

import functools

import jax
import jax.numpy as jnp


# --- The LSTM recurrence with a hand-written backward pass --------------------
#
# Autodiff of a scanned cell accumulates the recurrent kernel's gradient inside
# the backward loop: two matmuls per time step (dh_{t-1} = da_t W_h^T and
# dW_h += h_{t-1}^T da_t). Here the backward loop computes only da_t and
# dh_{t-1}; dW_h = sum_t h_{t-1}^T da_t is then one (H x BT) @ (BT x 4H)
# matmul, and the gate derivatives reuse the saved activations:
#   dc_t += dh_t * o * (1 - tanh(c_t)^2)
#   da_i = dc_t * g * i (1 - i)        da_f = dc_t * c_{t-1} * f (1 - f)
#   da_g = dc_t * i * (1 - g^2)        da_o = dh_t * tanh(c_t) * o (1 - o)
#   dc_{t-1} = dc_t * f                dh_{t-1} = da_t W_h^T
# Time-major arrays: a_x_TxBx4H = W_x x_t + b for every step (precomputed).


def _lstm_step(forget_bias, dtype, w_Hx4H, carry, a_x_Bx4H):
  c_BxH, h_BxH = carry
  a_Bx4H = a_x_Bx4H + jnp.dot(h_BxH.astype(dtype), w_Hx4H.astype(dtype),
                              preferred_element_type=jnp.float32)
  a_i, a_f, a_g, a_o = jnp.split(a_Bx4H, 4, axis=-1)
  i, f = jax.nn.sigmoid(a_i), jax.nn.sigmoid(a_f + forget_bias)
  g, o = jnp.tanh(a_g), jax.nn.sigmoid(a_o)
  c_new = f * c_BxH + i * g
  tanh_c = jnp.tanh(c_new)
  h_new = o * tanh_c
  return (c_new, h_new), (i, f, g, o, tanh_c)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def lstm_recurrence(forget_bias: float, dtype, w_Hx4H, a_x_TxBx4H, c0_BxH, h0_BxH):
  """(h_TxBxH, (c_T, h_T)) of the LSTM equations over T steps (see LSTMCell)."""
  step = functools.partial(_lstm_step, forget_bias, dtype, w_Hx4H)
  carry, gates = jax.lax.scan(step, (c0_BxH, h0_BxH), a_x_TxBx4H)
  i, f, g, o, tanh_c = gates
  return o * tanh_c, carry


def _lstm_fwd(forget_bias, dtype, w_Hx4H, a_x_TxBx4H, c0_BxH, h0_BxH):
  step = functools.partial(_lstm_step, forget_bias, dtype, w_Hx4H)

  def scan_step(carry, a_x):
    new_carry, gates = step(carry, a_x)
    return new_carry, (gates, carry)  # also c_{t-1}, h_{t-1}

  carry, (gates, (c_prev, h_prev)) = jax.lax.scan(scan_step, (c0_BxH, h0_BxH), a_x_TxBx4H)
  i, f, g, o, tanh_c = gates
  return (o * tanh_c, carry), (w_Hx4H, gates, c_prev, h_prev)


def _lstm_bwd(forget_bias, dtype, residuals, cotangents):
  del forget_bias  # Already in the saved f.
  w_Hx4H, gates, c_prev_TxBxH, h_prev_TxBxH = residuals
  dh_out_TxBxH, (dc_T, dh_T) = cotangents
  w_T = w_Hx4H.T.astype(dtype)

  def step(carry, xs):
    dc_next, dh_next = carry
    dh_out, (i, f, g, o, tanh_c), c_prev = xs
    dh = dh_out + dh_next
    dc = dc_next + dh * o * (1.0 - tanh_c * tanh_c)
    da_Bx4H = jnp.concatenate([
        dc * g * i * (1.0 - i), dc * c_prev * f * (1.0 - f),
        dc * i * (1.0 - g * g), dh * tanh_c * o * (1.0 - o)], axis=-1)
    dh_prev = jnp.dot(da_Bx4H.astype(dtype), w_T, preferred_element_type=jnp.float32)
    return (dc * f, dh_prev), da_Bx4H

  (dc0, dh0), da_TxBx4H = jax.lax.scan(
      step, (dc_T, dh_T), (dh_out_TxBxH, gates, c_prev_TxBxH), reverse=True)
  dw_Hx4H = recurrent_kernel_grad(h_prev_TxBxH, da_TxBx4H, dtype)
  return dw_Hx4H.astype(w_Hx4H.dtype), da_TxBx4H, dc0, dh0


def recurrent_kernel_grad(h_prev_TxBxH, da_TxBxG, dtype):
  """dW_h = sum over t, b of h_{t-1}^T da_t (H x G, float32), taken after the
  backward loop: one (TB x H)^T (TB x G) matmul on the loop's outputs as they
  lie in memory (an einsum over t, b made XLA transpose both first)."""
  T, B, H = h_prev_TxBxH.shape
  return jax.lax.dot_general(
      h_prev_TxBxH.reshape(T * B, H).astype(dtype), da_TxBxG.reshape(T * B, -1).astype(dtype),
      (((0,), (0,)), ((), ())), preferred_element_type=jnp.float32)


lstm_recurrence.defvjp(_lstm_fwd, _lstm_bwd)
