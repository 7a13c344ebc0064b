"""classicnets: the classic neural networks as a JAX/Flax research codebase."""
