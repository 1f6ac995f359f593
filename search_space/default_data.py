"""The default data's shape, written once: Fashion-MNIST, 1×28×28 grayscale images of 10 classes.

The ``cost`` command, ``cost.spec_cost`` and ``build.build_model`` assume it unless told
otherwise, so a cost figure without an explicit input is the cost of the network a default
search trains.  Torch-free, like the vocabulary.
"""

DEFAULT_CLASSES = 10
DEFAULT_IN_CHANNELS = 1
DEFAULT_IMAGE_SIZE = 28
