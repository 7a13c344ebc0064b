"""Model registry of the classification task: config `model.name` -> a Flax
linen module class.

Every model is `Module(num_classes=..., **config.model minus name)` and is
called as `model.apply(variables, x_BxHxWxC, train=bool)` -> `logits_BxK`
(text models: `x_BxL` word ids, and `vocab_size` from the data as well).
The recurrent language model (`rnn.RNNLanguageModel`) is registered by its own
task, `research.tasks.language_model`.
"""

from research.models.alexnet import AlexNet
from research.models.autoencoder import EncoderClassifier
from research.models.cnn import SmallCNN
from research.models.cnn1d import CNN1D
from research.models.imagenet import SqueezeNet11
from research.models.lenet import LeNet5
from research.models.linear import Linear
from research.models.mlp import MLP
from research.models.resnet import CifarResNet, ResNet
from research.models.rnn_classifier import RNNClassifier
from research.models.text import BagOfWords, RNNTextClassifier, TextCNN
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
    # Iandola et al. 2016, v1.1; start it from ImageNet weights with config.pretrained.
    'squeezenet1_1': SqueezeNet11,
    'cnn1d': CNN1D,
    'rnn_classifier': RNNClassifier,
    # The deep autoencoder's encoder + softmax (Hinton & Salakhutdinov 2006).
    'encoder_classifier': EncoderClassifier,
    # Text classifiers: input rows of word ids; `vocab_size` comes from the data.
    'textcnn': TextCNN,
    'bag_of_words': BagOfWords,
    'rnn_text': RNNTextClassifier,
}

# Models that read word ids (need a labelled-text dataset, and it needs them).
TEXT_MODELS = frozenset({'textcnn', 'bag_of_words', 'rnn_text'})
