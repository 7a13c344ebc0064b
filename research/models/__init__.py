"""Model registry of the classification task: config `model.name` -> a Flax
linen module class.

Every model is `Module(num_classes=..., **config.model minus name)` and is
called as `model.apply(variables, x_BxHxWxC, train=bool)` -> `logits_BxK`.
The recurrent language model (`rnn.RNNLanguageModel`) is registered by its own
task, `research.tasks.language_model`.
"""

from research.models.alexnet import AlexNet
from research.models.cnn import SmallCNN
from research.models.cnn1d import CNN1D
from research.models.lenet import LeNet5
from research.models.linear import Linear
from research.models.mlp import MLP
from research.models.resnet import CifarResNet, ResNet
from research.models.rnn import RNNClassifier
from research.models.vgg import VGG

MODELS = {
    'linear': Linear,
    'mlp': MLP,
    'lenet5': LeNet5,
    'small_cnn': SmallCNN,
    'cifar_resnet': CifarResNet,
    'resnet': ResNet,
    'vgg': VGG,
    'alexnet': AlexNet,
    'cnn1d': CNN1D,
    'rnn_classifier': RNNClassifier,
}
