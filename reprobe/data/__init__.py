"""Datasets: a registry of bundled, generated and torchvision-cached data."""

from .registry import (  # noqa: F401
    DATASETS,
    DatasetBundle,
    default_root,
    load_dataset,
    register_dataset,
    register_fallback,
    split_tensors,
)
from . import builtin  # noqa: F401  (registers the built-ins)
from . import images  # noqa: F401  (image folders, imagenette, adapt_bundle)
from . import tokens  # noqa: F401  (generated token ids for text models, adapt_tokens)
