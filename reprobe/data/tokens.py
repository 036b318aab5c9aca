"""Token data for text models, generated offline, and fitting it to a model's vocabulary.

``tokens``: random token ids, uniform over ``vocab`` (default 50257, GPT-2's vocabulary), in
sequences of ``length``, with random binary labels. Random ids carry no language, but a model at
random weights has learned none either: what the probe measures at initialisation — how much of the
embedded sequence each block keeps — needs varied embeddings, which uniform ids give.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch
from torch.utils.data import TensorDataset

from ..core.errors import ReprobeError, param
from .registry import DatasetBundle, register_dataset, split_tensors


@register_dataset("tokens", help="random token ids for text models (offline; options: vocab=50257, length=128, size=2048)")
def tokens(root: Path, seed: int = 0, test_fraction: float = 0.1, vocab: int = 50257, length: int = 128,
           size: int = 2048, **_) -> DatasetBundle:
    """``size`` sequences of ``length`` ids uniform in [0, ``vocab``), labels 0/1, as (ids, label) pairs."""
    vocab, length, size = int(vocab), int(length), int(size)
    if vocab < 2 or length < 1 or size < 4:
        raise ReprobeError(f"tokens needs vocab >= 2, length >= 1 and size >= 4, got vocab={vocab}, length={length}, size={size}")
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(0, vocab, (size, length), generator=gen)
    y = torch.randint(0, 2, (size,), generator=gen)
    train, test = split_tensors(x, y, seed, test_fraction)
    return DatasetBundle("tokens", train, test, (length,), 2, (0.0, float(vocab - 1)), info={"vocab": vocab})


def adapt_tokens(bundle: DatasetBundle, vocab: int, length: Optional[int] = None, model: str = "the model") -> DatasetBundle:
    """``bundle``'s token ids as a model with ``vocab`` ids and at most ``length`` positions reads them:
    ids beyond the vocabulary folded into it (id mod vocab), sequences cut to ``length``."""
    if "vocab" not in bundle.info:
        raise ReprobeError(f"{model} reads token ids, and dataset {bundle.name!r} holds no token data; "
                           f"use {param('data', 'tokens')}")
    ids_train, y_train = bundle.train.tensors if isinstance(bundle.train, TensorDataset) else (None, None)
    if ids_train is None:
        return bundle
    cut = bundle.input_shape[0] if length is None else min(int(length), bundle.input_shape[0])

    def fit(ds: TensorDataset) -> TensorDataset:
        ids, labels = ds.tensors
        return TensorDataset(ids[:, :cut] % int(vocab), labels)

    if cut == bundle.input_shape[0] and bundle.info["vocab"] <= vocab:
        return bundle
    info = dict(bundle.info, vocab=min(int(vocab), int(bundle.info["vocab"])), from_vocab=bundle.info["vocab"])
    return DatasetBundle(bundle.name, fit(bundle.train), fit(bundle.test), (cut,), bundle.num_classes,
                         (0.0, float(info["vocab"] - 1)), bundle.classes, info)
