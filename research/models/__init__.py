"""Model registry: config `model.name` -> a Flax linen module class.

Every model is `Module(num_classes=..., **config.model minus name)` and is
called as `model.apply(variables, x_BxHxWxC, train=bool)` -> `logits_BxK`.
"""

from research.models.lenet import LeNet5
from research.models.linear import Linear
from research.models.mlp import MLP

MODELS = {
    'linear': Linear,
    'mlp': MLP,
    'lenet5': LeNet5,
}
