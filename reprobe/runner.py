"""One probe run from names: data + model + probe → ProbeResult. Shared by the CLI commands
(``run``, ``sweep``, ``compare``) so that they all mean the same thing by the same options."""

from __future__ import annotations

import time
from typing import Any, Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Subset

from .data import DatasetBundle, load_dataset
from .errors import ReprobeError
from .models import build_model
from .probes import CascadeProbe, ProbeResult


def limit_dataset(ds, n: Optional[int], seed: int = 0):
    """A seeded random subset of ``n`` items (the whole dataset when n is None or larger)."""
    if n is None or n >= len(ds):
        return ds
    if n < 1:
        raise ReprobeError(f"need at least 1 training sample, got {n}")
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:n]
    return Subset(ds, idx.tolist())


def train_loader(bundle: DatasetBundle, batch_size: int, seed: int = 0, train_samples: Optional[int] = None) -> DataLoader:
    """A shuffled (seeded) loader over the training split."""
    ds = limit_dataset(bundle.train, train_samples, seed)
    if len(ds) == 0:
        raise ReprobeError(f"dataset {bundle.name!r} has no training samples")
    return DataLoader(ds, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))


def probe_model(
    model: nn.Module,
    bundle: DatasetBundle,
    *,
    batch_size: int = 64,
    seed: int = 0,
    train_samples: Optional[int] = None,
    stages: Any = None,
    output_selector: Any = None,
    adapter_options: Optional[dict] = None,
    keep_probe: bool = False,
    **probe_options: Any,
) -> Tuple[ProbeResult, Optional[CascadeProbe]]:
    """Fit and evaluate a probe on ``model`` with ``bundle``'s train/test splits.

    Returns:
        (result, probe) — the probe (closed, decoders kept) only when ``keep_probe``.
    """
    loader = train_loader(bundle, batch_size, seed, train_samples)
    if len(bundle.test) < 2:
        raise ReprobeError(f"dataset {bundle.name!r} has {len(bundle.test)} test samples; the probe needs at least 2")
    probe = CascadeProbe(model, stages, output_selector=output_selector, adapter_options=adapter_options,
                         batch_size=batch_size, seed=seed, **probe_options)
    with probe:
        result = probe.fit(loader).evaluate(bundle.test)
    result.data = bundle.describe()
    return result, (probe if keep_probe else None)


def run_named(
    model: str = "mlp",
    data: str = "mnist-5k",
    *,
    model_options: Optional[Dict[str, Any]] = None,
    data_options: Optional[Dict[str, Any]] = None,
    bundle: Optional[DatasetBundle] = None,
    **probe_kwargs: Any,
) -> Tuple[ProbeResult, nn.Module, Optional[CascadeProbe]]:
    """Load data by name (unless ``bundle`` is given), build the model by name, probe it."""
    data_options = dict(data_options or {})
    if bundle is None:
        bundle = load_dataset(data, **data_options)
    t0 = time.perf_counter()
    net = build_model(model, bundle.input_shape, bundle.num_classes, **(model_options or {}))
    build_time = time.perf_counter() - t0
    result, probe = probe_model(net, bundle, **probe_kwargs)
    result.timings["build_model"] = build_time
    result.model["spec"] = model
    result.model["options"] = {k: v for k, v in (model_options or {}).items() if _jsonable(v)}
    return result, net, probe


def _jsonable(v: Any) -> bool:
    return isinstance(v, (str, int, float, bool, type(None), list, tuple))
