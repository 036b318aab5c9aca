"""Models to probe: the paper's MLPs, and a registry/resolvers for everything else."""

from .registry import MODELS, build_model, register_model, register_resolver, resolver_descriptions  # noqa: F401
from .mlp import ACTIVATION_MODULES, MLP, layer_widths, mlp  # noqa: F401
from . import cnn, vision  # noqa: F401  (cnn/resnet families; torchvision, timm:NAME, file.py:factory)
from . import hf  # noqa: F401  (hf:NAME: Hugging Face transformers at random weights; imports transformers on use)
