"""Calls into native libraries where XLA's own kernels are slow (XLA FFI)."""
