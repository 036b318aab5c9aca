"""Ground truth: train a built network with plain SGD and measure its test accuracy.

Used by ``reprobe train-grid`` and ``reprobe sweep --verify`` to check the probe's prediction
(ℓ* ≥ L ⇒ trainable) against what actually happens when the net is trained.

    stats = train_model(model, bundle, lr=1e-3, epochs=1)
    stats["accuracy"], stats["chance"]
"""

from __future__ import annotations

import math
import time
from typing import Any, Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data import DatasetBundle
from ..core.errors import ReprobeError, param
from .run import train_loader

OPTIMIZERS = ("sgd", "adam")


@torch.no_grad()
def evaluate_accuracy(model: nn.Module, dataset, batch_size: int = 256, device: Optional[torch.device] = None) -> Dict[str, float]:
    """Accuracy and mean cross-entropy of ``model`` on ``dataset`` (non-finite logits count as wrong)."""
    device = device or torch.device("cpu")
    model.eval()
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    correct, total, loss_sum = 0, 0, 0.0
    for x, y in loader:
        x, y = x.to(device), torch.as_tensor(y).to(device)
        logits = model(x)
        ok = torch.isfinite(logits).all(dim=1)
        pred = logits.argmax(dim=1)
        correct += int(((pred == y) & ok).sum())
        total += int(y.numel())
        loss = F.cross_entropy(logits, y, reduction="sum")
        loss_sum += float(loss) if torch.isfinite(loss) else float("nan")
    if total == 0:
        raise ReprobeError("the test split is empty; cannot measure accuracy")
    return {"accuracy": correct / total, "test_loss": loss_sum / total}


def check_train_options(*, lr: float = 1e-3, epochs: int = 1, steps: Optional[int] = None, batch_size: int = 64,
                        momentum: float = 0.0, optimizer: str = "sgd", **_: Any) -> None:
    """Raise :class:`ReprobeError` for training options that cannot work (before any net is built)."""
    if not (lr > 0) or not math.isfinite(lr):
        raise ReprobeError(f"{param('lr')} must be > 0, got {lr}")
    if steps is None and epochs < 1:
        raise ReprobeError(f"{param('epochs')} must be at least 1, got {epochs}")
    if steps is not None and steps < 1:
        raise ReprobeError(f"{param('steps')} must be at least 1, got {steps}")
    if batch_size < 1:
        raise ReprobeError(f"{param('batch_size')} must be at least 1, got {batch_size}")
    if not (momentum >= 0) or not math.isfinite(momentum):
        raise ReprobeError(f"{param('momentum')} must be >= 0, got {momentum}")
    if optimizer not in OPTIMIZERS:
        raise ReprobeError(f"unknown optimizer {optimizer!r}; valid: {', '.join(OPTIMIZERS)}")


def train_model(
    model: nn.Module,
    bundle: DatasetBundle,
    *,
    lr: float = 1e-3,
    epochs: int = 1,
    steps: Optional[int] = None,
    batch_size: int = 64,
    momentum: float = 0.0,
    optimizer: str = "sgd",
    seed: int = 0,
    train_samples: Optional[int] = None,
    device: str = "cpu",
) -> Dict[str, Any]:
    """Train ``model`` in place on ``bundle.train`` (cross-entropy) and evaluate on ``bundle.test``.

    Args:
        lr: learning rate (paper: SGD, 1e-3; deep nets need many epochs at that rate).
        epochs: passes over the training data (ignored when ``steps`` is given).
        steps: stop after this many optimizer steps (cycling through epochs as needed).
        batch_size, momentum, optimizer (``sgd`` or ``adam``), seed, train_samples: as named.

    Returns:
        dict with ``accuracy``, ``test_loss``, ``train_loss`` (mean over the last 20 steps),
        ``chance`` (1 / classes), ``steps``, ``diverged`` and ``time`` in seconds.
    """
    check_train_options(lr=lr, epochs=epochs, steps=steps, batch_size=batch_size, momentum=momentum,
                        optimizer=optimizer)
    dev = torch.device(device if device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(seed)
    model.to(dev).train()
    for p in model.parameters():
        p.requires_grad_(True)
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    loader = train_loader(bundle, batch_size, seed, train_samples)
    t0 = time.perf_counter()
    done, recent, diverged = 0, [], False
    max_steps = steps if steps is not None else epochs * len(loader)
    while done < max_steps and not diverged:
        for x, y in loader:
            x, y = x.to(dev), torch.as_tensor(y).to(dev)
            loss = F.cross_entropy(model(x), y)
            if not torch.isfinite(loss):
                diverged = True
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            recent = (recent + [loss.item()])[-20:]
            done += 1
            if done >= max_steps:
                break
    train_time = time.perf_counter() - t0
    stats = evaluate_accuracy(model, bundle.test, device=dev)
    model.eval()
    stats.update({
        "train_loss": (sum(recent) / len(recent)) if recent else None,
        "chance": 1.0 / max(1, bundle.num_classes),
        "steps": done,
        "diverged": diverged,
        "time": train_time,
        "lr": lr, "batch_size": batch_size, "optimizer": optimizer, "momentum": momentum,
    })
    if stats["test_loss"] is not None and not math.isfinite(stats["test_loss"]):
        stats["test_loss"] = None
    return stats
