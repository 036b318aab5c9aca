"""Ground truth: does a built network train? Two protocols.

* **v2 (the default): best of several learning rates.** Near the edge of chaos the neural tangent
  kernel grows about linearly with depth, so the largest stable SGD step falls about as 1/L: one
  rate for every depth measures the optimiser's stability, not trainability. v2 trains a fresh copy
  of the net (same seed, same initial weights) at each rate of :data:`V2_RATES` (smallest first;
  rates above one that diverged are skipped, and the search stops at the first rate that reaches
  the target), for :data:`V2_STEPS` steps of plain SGD, and keeps the best. *Trainable* means the
  **training-set** accuracy reaches the target, by default halfway from chance to perfect (0.55 for
  ten classes: a net that learned the task, not one that fitted a few inputs; trainability is about
  optimisation, not generalisation); the held-out accuracy is kept beside it.
* **v1: one rate** (``lr=0.05``, 5 epochs in the old calibration grids); trainable meant the
  held-out accuracy reached the target. Kept for comparison: ``train-grid --lr 0.05``.

A run has *diverged* when its loss becomes non-finite or grows above :data:`DIVERGENCE_FACTOR`
times its first value; it stops there.

    record = train_best_of_rates(lambda: build_net(), bundle, TrainingProtocol(), seed=0)
    record["accuracy"], record["best_lr"], record["rates"]
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..core.errors import ReprobeError, param
from ..data import DatasetBundle
from .run import limit_dataset

OPTIMIZERS = ("sgd", "adam")
#: v2's learning rates: four log-spaced values over two decades, tried smallest first.
V2_RATES: Tuple[float, ...] = (0.001, 0.00464, 0.0215, 0.1)
#: v2's step budget: enough for tanh MLPs at σ_w² 1.76 to train at depth 100 (benchmarks/trainability.py).
V2_STEPS = 1000
#: A loss this many times its first value counts as diverged ("grows by orders of magnitude").
DIVERGENCE_FACTOR = 100.0
#: How often (in steps) a run checks its training accuracy on :data:`CHECK_SAMPLES` inputs to stop early.
CHECK_EVERY = 100
CHECK_SAMPLES = 1000


@dataclass(frozen=True)
class TrainingProtocol:
    """What "trainable" means for a ground-truth grid (kept in each record's ``settings``).

    Attributes:
        rates: learning rates tried (v2: several; v1: one).
        steps: optimizer steps per rate (None: ``epochs`` passes).
        epochs: passes over the training data when ``steps`` is None.
        target: accuracy that counts as trained (None: :func:`default_target`).
        split: ``train`` (v2: the accuracy judged is the training set's) or ``test`` (v1).
        stop_at_target: stop a run, and the search over rates, once the target is reached.
        batch_size, momentum, optimizer, train_samples: as named.
    """

    rates: Tuple[float, ...] = V2_RATES
    steps: Optional[int] = V2_STEPS
    epochs: Optional[int] = None
    target: Optional[float] = None
    split: str = "train"
    stop_at_target: bool = True
    batch_size: int = 64
    momentum: float = 0.0
    optimizer: str = "sgd"
    train_samples: Optional[int] = None

    @property
    def name(self) -> str:
        return "v2" if self.split == "train" else "v1"

    def to_dict(self) -> Dict[str, Any]:
        return {"protocol": self.name, **asdict(self), "rates": list(self.rates),
                "divergence_factor": DIVERGENCE_FACTOR, "check_every": CHECK_EVERY}

    @classmethod
    def single_rate(cls, lr: float, **options: Any) -> "TrainingProtocol":
        """v1: one rate, judged on held-out accuracy, trained for the whole budget."""
        return cls(rates=(float(lr),), split="test", stop_at_target=False, **options)


def default_target(split: str, num_classes: int) -> float:
    """The accuracy that counts as trained when none is given: halfway from chance to perfect on the
    training set (v2), twice chance on held-out data (v1, as its grids were judged)."""
    chance = 1.0 / max(1, num_classes)
    return (1.0 + chance) / 2 if split == "train" else min(1.0, 2.0 * chance)


def protocol_from_options(lr: Optional[Sequence[float]] = None, target: Optional[float] = None,
                          **options: Any) -> TrainingProtocol:
    """One ``lr``: v1 (``epochs`` default 1). Several, or none (:data:`V2_RATES`): v2 (``steps`` default
    :data:`V2_STEPS`, or ``epochs`` passes when only those are given). Options left None take their default;
    the rest are :class:`TrainingProtocol`'s fields."""
    rates = tuple(sorted(float(r) for r in (lr or ())))
    opts = {k: v for k, v in options.items() if v is not None}
    budget = {"steps": opts.pop("steps", None), "epochs": opts.pop("epochs", None)}
    if len(rates) == 1:
        return TrainingProtocol.single_rate(rates[0], target=target, steps=budget["steps"],
                                            epochs=budget["epochs"] or 1, **opts)
    if budget["steps"] is None and budget["epochs"] is None:
        budget["steps"] = V2_STEPS
    return TrainingProtocol(rates=rates or V2_RATES, target=target, **budget, **opts)


def check_protocol(protocol: TrainingProtocol) -> None:
    """Raise :class:`ReprobeError` for a protocol that cannot work (before any net is built)."""
    if not protocol.rates:
        raise ReprobeError(f"{param('lr')} needs at least one learning rate")
    for lr in protocol.rates:
        if not (lr > 0) or not math.isfinite(lr):
            raise ReprobeError(f"{param('lr')} must be > 0, got {lr}")
    if protocol.steps is None and (protocol.epochs is None or protocol.epochs < 1):
        raise ReprobeError(f"{param('epochs')} must be at least 1, got {protocol.epochs}")
    if protocol.steps is not None and protocol.steps < 1:
        raise ReprobeError(f"{param('steps')} must be at least 1, got {protocol.steps}")
    if protocol.batch_size < 1:
        raise ReprobeError(f"{param('batch_size')} must be at least 1, got {protocol.batch_size}")
    if not (protocol.momentum >= 0) or not math.isfinite(protocol.momentum):
        raise ReprobeError(f"{param('momentum')} must be >= 0, got {protocol.momentum}")
    if protocol.optimizer not in OPTIMIZERS:
        raise ReprobeError(f"unknown optimizer {protocol.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
    if protocol.target is not None and not (0 <= protocol.target <= 1):
        raise ReprobeError(f"{param('acc_threshold')} is a fraction in [0, 1], got {protocol.target}")


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
        correct += int(((logits.argmax(dim=1) == y) & ok).sum())
        total += int(y.numel())
        loss = F.cross_entropy(logits, y, reduction="sum")
        loss_sum += float(loss) if torch.isfinite(loss) else float("nan")
    if total == 0:
        raise ReprobeError("the split is empty; cannot measure accuracy")
    mean = loss_sum / total
    return {"accuracy": correct / total, "loss": mean if math.isfinite(mean) else None}


def _optimizer(model: nn.Module, protocol: TrainingProtocol, lr: float) -> torch.optim.Optimizer:
    if protocol.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=protocol.momentum)
    return torch.optim.Adam(model.parameters(), lr=lr)


@dataclass
class _Run:
    """The running state of one rate's training: steps, recent losses, why it stopped."""

    first_loss: Optional[float] = None
    recent: List[float] = field(default_factory=list)
    steps: int = 0
    diverged: bool = False
    reached_at: Optional[int] = None

    def record(self, loss: float) -> None:
        """Note one step's loss; a non-finite loss or one orders of magnitude above the first diverges."""
        if self.first_loss is None and math.isfinite(loss):
            self.first_loss = loss
        if not math.isfinite(loss) or loss > DIVERGENCE_FACTOR * max(self.first_loss or 0.0, 1e-3):
            self.diverged = True
            return
        self.recent = (self.recent + [loss])[-20:]
        self.steps += 1


def _tensors(dataset) -> Tuple[torch.Tensor, torch.Tensor]:
    """The whole split as two tensors: a step then costs one index, not a batch of item lookups."""
    xs, ys = zip(*torch.utils.data.DataLoader(dataset, batch_size=1024, shuffle=False))
    return torch.cat(xs), torch.cat([torch.as_tensor(y) for y in ys])


def _batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int):
    """Shuffled batches, epoch after epoch (seeded), the last short batch of each epoch dropped."""
    gen = torch.Generator().manual_seed(seed)
    size = min(batch_size, len(x))
    while True:
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x) - size + 1, size):
            idx = order[i:i + size]
            yield x[idx], y[idx]


def _reached(model, train: Tuple[torch.Tensor, torch.Tensor], target: float, dev) -> bool:
    """Has the training accuracy reached ``target``? A cheap look at the first inputs, confirmed on all."""
    x, y = train
    quick = evaluate_accuracy(model, torch.utils.data.TensorDataset(x[:CHECK_SAMPLES], y[:CHECK_SAMPLES]), device=dev)
    if quick["accuracy"] < target:
        return False
    return len(x) <= CHECK_SAMPLES or evaluate_accuracy(model, torch.utils.data.TensorDataset(x, y), device=dev)["accuracy"] >= target


def _train_rate(model: nn.Module, train: Tuple[torch.Tensor, torch.Tensor], bundle: DatasetBundle,
                protocol: TrainingProtocol, lr: float, target: float, seed: int, dev: torch.device) -> Dict[str, Any]:
    """Train ``model`` in place at one rate; stop at the budget, on divergence or (v2) at the target."""
    torch.manual_seed(seed)
    model.to(dev).train()
    for p in model.parameters():
        p.requires_grad_(True)
    opt = _optimizer(model, protocol, lr)
    per_epoch = max(1, len(train[0]) // min(protocol.batch_size, len(train[0])))
    budget = protocol.steps if protocol.steps is not None else int(protocol.epochs or 1) * per_epoch
    run, t0 = _Run(), time.perf_counter()
    for x, y in _batches(*train, protocol.batch_size, seed):
        loss = F.cross_entropy(model(x.to(dev)), y.to(dev))
        run.record(float(loss.detach()))
        if run.diverged:
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if protocol.stop_at_target and run.steps % CHECK_EVERY == 0:
            if _reached(model, train, target, dev):
                run.reached_at = run.steps
            model.train()  # the check evaluated in eval mode
        if run.steps >= budget or run.reached_at is not None:
            break
    return _rate_record(model, train, bundle, lr, run, dev, time.perf_counter() - t0)


def _rate_record(model, train_set, bundle, lr, run: _Run, dev, seconds: float) -> Dict[str, Any]:
    train = evaluate_accuracy(model, torch.utils.data.TensorDataset(*train_set), device=dev)
    test = evaluate_accuracy(model, bundle.test, device=dev)
    model.eval()
    return {"lr": lr, "steps": run.steps, "diverged": run.diverged,
            "train_loss": (sum(run.recent) / len(run.recent)) if run.recent and not run.diverged else None,
            "train_accuracy": train["accuracy"], "test_accuracy": test["accuracy"], "test_loss": test["loss"],
            "time": seconds}


def _device(device: str) -> torch.device:
    return torch.device(device if device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))


def train_best_of_rates(build: Callable[[], nn.Module], bundle: DatasetBundle, protocol: TrainingProtocol, *,
                        seed: int = 0, device: str = "cpu") -> Dict[str, Any]:
    """Train a fresh net from ``build()`` at each of ``protocol.rates`` and keep the best.

    Args:
        build: returns the net, freshly initialised and the same at every call (seeded).
        bundle: training and held-out data.
        protocol: rates, budget, target, split (see :class:`TrainingProtocol`).
        seed: seed of the shuffling.
        device: ``cpu``, ``cuda``, ``auto``.

    Returns:
        ``accuracy`` (the judged split's accuracy of the best rate), ``train_accuracy``,
        ``test_accuracy``, ``best_lr``, and the best rate's ``diverged``, ``steps``, ``train_loss`` and
        ``test_loss``; ``chance``, ``target``, ``split``,
        ``rates`` (one record per rate tried: lr, steps, diverged, train_loss, train_accuracy,
        test_accuracy, test_loss, time) and ``time``.
    """
    check_protocol(protocol)
    chance = 1.0 / max(1, bundle.num_classes)
    target = protocol.target if protocol.target is not None else default_target(protocol.split, bundle.num_classes)
    judged = "train_accuracy" if protocol.split == "train" else "test_accuracy"
    train = _tensors(limit_dataset(bundle.train, protocol.train_samples, seed))
    if len(train[0]) == 0:
        raise ReprobeError(f"dataset {bundle.name!r} has no training samples")
    tried: List[Dict[str, Any]] = []
    for lr in sorted(protocol.rates):
        if any(r["diverged"] for r in tried):
            break  # a larger step than one that diverged diverges too
        tried.append(_train_rate(build(), train, bundle, protocol, lr, target, seed, _device(device)))
        if protocol.stop_at_target and tried[-1][judged] >= target:
            break
    best = max(tried, key=lambda r: (r[judged], not r["diverged"], -r["lr"]))
    return {"accuracy": best[judged], "train_accuracy": best["train_accuracy"],
            "test_accuracy": best["test_accuracy"], "best_lr": best["lr"], "diverged": best["diverged"],
            "steps": best["steps"], "train_loss": best["train_loss"], "test_loss": best["test_loss"],
            "chance": chance, "target": target, "split": protocol.split, "rates": tried,
            "time": sum(r["time"] for r in tried)}


def train_settings(*, lr: Any = None, device: str = "cpu", acc_threshold: Optional[float] = None,
                   **options: Any) -> Dict[str, Any]:
    """The training settings a grid task carries and its records keep: the protocol, checked, and the device.

    Args:
        lr: one rate (v1), several (v2 over those rates) or None (v2 over :data:`V2_RATES`).
        device: where to train.
        acc_threshold: the target accuracy (None: twice chance).
        options: ``steps``, ``epochs``, ``batch_size``, ``momentum``, ``optimizer``, ``train_samples``.
    """
    rates = [lr] if isinstance(lr, (int, float)) else lr
    protocol = protocol_from_options(rates, target=acc_threshold, **options)
    check_protocol(protocol)
    return {**protocol.to_dict(), "device": device}


def protocol_of(settings: Dict[str, Any]) -> Tuple[TrainingProtocol, str]:
    """(protocol, device) from stored training settings (:func:`train_settings`, or a v1 grid's options)."""
    s = dict(settings)
    device = s.pop("device", "cpu")
    if "rates" not in s:  # the single-rate grids made before v2 stored lr, epochs, steps …
        return protocol_from_options([s.pop("lr")], **{k: v for k, v in s.items() if k in _FIELDS}), device
    return TrainingProtocol(**{**{k: v for k, v in s.items() if k in _FIELDS}, "rates": tuple(s["rates"])}), device


_FIELDS = {f for f in TrainingProtocol.__dataclass_fields__}


def train_task(build: Callable[[], nn.Module], bundle: DatasetBundle, settings: Dict[str, Any], seed: int = 0) -> Dict[str, Any]:
    """Train a grid point's net under its stored settings (:func:`train_settings`): see :func:`train_best_of_rates`."""
    protocol, device = protocol_of(settings)
    return train_best_of_rates(build, bundle, protocol, seed=seed, device=device)
