"""Adapters: finding the stages of model families (transformers, MLPs, CNN/ResNet/timm, generic fallback)."""

from .registry import (  # noqa: F401
    HOW_TO_NAME_STAGES, Adapter, adapters, find_stages, get_adapter, list_adapters, register_adapter)
from .common import ACTIVATION_TYPES, PASS_THROUGH_TYPES, leaf_modules, layer_with_activation  # noqa: F401
from . import builtin  # noqa: F401  (registers the built-ins)
from . import vision  # noqa: F401  (VGG, ResNet, timm adapters)
from . import transformer  # noqa: F401  (transformer blocks)
