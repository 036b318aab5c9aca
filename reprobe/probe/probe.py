"""CascadeProbe: hooks on any ``nn.Module``, one decoder per stage, cascade reconstructions.

    probe = CascadeProbe(model)                     # finds stages, attaches hooks
    result = probe.fit(train_loader).evaluate(test_loader)
    print(result.cutoff("differential_entropy")); result.save("out/")

The probed network is frozen: it runs in eval mode under ``torch.no_grad()`` with
``requires_grad`` off, and after every operation it gets back its own train/eval mode,
``requires_grad`` flags and device. Hooks are removed by :meth:`CascadeProbe.close` (or at the end
of a ``with`` block), and also whenever the model raises inside the probe.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import warnings
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

from ..core.errors import ReprobeError, ReprobeWarning
from .batchnorm import estimate_statistics
from .cascade import EVAL_BUDGET, cascade, cascade_all, reconstruct_all
from .checks import check_input_shape, check_model, check_stage_input, check_tensor
from .config import FIT_METHODS, ProbeConfig, resolve_device  # noqa: F401  (declared in config.py)
from .evaluation import build_result, model_record
from .fitting import DecoderFitter, plan_fit, warn_over_budget
from .forward import call_model, dry_run, record_forward, select_stage_names, stage_hooks, stage_index, stage_selectors
from .hooks import Selector
from .inputs import as_input, dataset_len, first_input, iter_inputs, take
from .persistence import load_weights, read_decoders, save_decoders
from .stages import StageInfo
from .state import frozen
from .training import build_decoders, fit_epoch

def probe_config(options: Mapping[str, Any]) -> ProbeConfig:
    """A checked :class:`ProbeConfig` from probe options (unknown names list the valid ones)."""
    fields = {f.name for f in dataclasses.fields(ProbeConfig)}
    unknown = set(options) - fields
    if unknown:
        raise ReprobeError(f"unknown probe option(s) {', '.join(sorted(unknown))}; valid: {', '.join(sorted(fields))}")
    config = ProbeConfig(**options)
    config.validate()
    return config


class CascadeProbe:
    """Probe how much of its input each stage of a network keeps.

    Args:
        model: any ``nn.Module`` (arbitrary forward: control flow, residual adds, submodules).
        stages: None (automatic, by adapter), a list of module names, or module type(s).
        output_selector: for stages whose module returns a tuple/list/dict: an index/key/function
            applied to every stage, or a dict stage name → selector.
        adapter: force an adapter by name (see ``reprobe.adapters.adapters()``).
        adapter_options: options for adapters (e.g. ``{"preset": "blocks"}``).
        example_input: a batch (or one ``(x, y)`` batch) to run once now, so that :attr:`stages`
            has its shapes at construction; without it they are filled by the first batch.
        **config: any :class:`ProbeConfig` field (``fit``, ``lr``, ``epochs``, ``samples`` …).

    Token models (integer inputs, e.g. ``nn.Embedding`` + transformer): the ids go to the model
    untouched, and z⁰ is the input of the first stage — the embedded sequence — so decoders and
    reconstruction entropy work against the embedding, not the ids.

    Attributes:
        stages: list of :class:`StageInfo` (shapes filled after the first forward).
        warnings: what the dry run found (stages dropped because they never ran, skip
            connections the cascade does not follow); also issued as :class:`ReprobeWarning`.
        decoders: ``nn.ModuleList`` of decoders c¹ … c^L after :meth:`fit`.
        config: the :class:`ProbeConfig`.

    Example:
        >>> with CascadeProbe(model, samples=100) as probe:
        ...     result = probe.fit(train_loader).evaluate(test_loader)
    """

    #: Evaluation keeps about this many activation values (floats) in memory at a time.
    EVAL_BUDGET = EVAL_BUDGET

    def __init__(self, model: nn.Module, stages: Union[None, Sequence[str], type, Sequence[type]] = None, *,
                 output_selector: Union[None, Selector, Mapping[str, Selector]] = None, adapter: Optional[str] = None,
                 adapter_options: Optional[dict] = None, example_input: Any = None, **config: Any):
        if not isinstance(model, nn.Module):
            raise ReprobeError(f"CascadeProbe needs an nn.Module, got {type(model).__name__}")
        self.config = probe_config(config)
        self.device = resolve_device(self.config.device)
        self.model = model
        self.adapter, names = select_stage_names(model, stages, adapter, adapter_options or {})
        modules = dict(model.named_modules())
        self.stages: List[StageInfo] = [StageInfo(i + 1, n, type(modules[n]).__name__) for i, n in enumerate(names)]
        self._hooks = stage_hooks(model, names, stage_selectors(model, output_selector, names), self.config.multi_call)
        self.input_shape: Optional[Tuple[int, ...]] = None
        self.warnings: List[str] = []
        self.decoders: Optional[nn.ModuleList] = None
        self._target_ranges: List[Tuple[float, float]] = []
        self.timings: Dict[str, float] = {}
        self.fit_info: Dict[str, Any] = {}
        self._bn_statistics = None  # re-estimated BatchNorm statistics (recalibrate_bn), used while probing
        self._closed = False
        if example_input is not None:
            self.dry_run(example_input)

    def close(self) -> None:
        """Remove the hooks. The model keeps working as before the probe (safe to call twice)."""
        self._hooks.remove()
        self._closed = True

    def __enter__(self) -> "CascadeProbe":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # a forgotten probe must not leave hooks behind
        try:
            self._hooks.remove()
        except Exception:
            pass

    @property
    def depth(self) -> int:
        """L, the number of stages."""
        return len(self.stages)

    def __repr__(self) -> str:
        return f"CascadeProbe({type(self.model).__name__}, {self.depth} stages, adapter={self.adapter!r})"

    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        """The model frozen (:func:`frozen`, recalibrated BatchNorm statistics in); if it raises, the hooks come off."""
        if self._closed:
            raise ReprobeError("this probe is closed; make a new CascadeProbe(model)")
        check_model(self.model)
        try:
            with frozen(self.model, self.device, self._bn_statistics):
                yield
        except BaseException:
            self.close()
            raise

    def _forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        return record_forward(self.model, self._hooks, x.to(self.device), self.stages, self.input_shape)

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        warnings.warn(message, ReprobeWarning, stacklevel=2)

    def _note_once(self, message: str) -> None:
        if message not in self.warnings:
            self._warn(message)

    def dry_run(self, x: Any) -> List[StageInfo]:
        """Run one batch (or ``(x, y)`` batch) to find execution order and output shapes; fills
        :attr:`stages` (and :attr:`warnings`: stages dropped as never run, skip connections; see
        :func:`reprobe.probe.forward.dry_run`)."""
        check_tensor(x, "x")
        self.warnings = []
        found = dry_run(self.model, self._hooks, self.stages, as_input(x).to(self.device), adapter=self.adapter,
                        input_shape=self.input_shape, session=self._session)
        for message in found.warnings:
            self._warn(message)
        self.stages, self.input_shape, self._target_ranges = found.stages, found.input_shape, found.target_ranges
        return self.stages

    def _build_decoders(self) -> None:
        self.decoders = build_decoders(self.stages, self.input_shape, self._target_ranges, self.config, self.device,
                                       self._warn)

    def fit(self, train: Union[DataLoader, Dataset, torch.Tensor]) -> "CascadeProbe":
        """Train every decoder c^ℓ to map z^ℓ back to z^{ℓ-1}, all from one forward per batch.

        The model never receives gradients. With ``fit="ridge"`` (default) every built-in decoder
        is solved exactly from statistics gathered in a single pass (feature-map decoders sample
        patch positions; see :mod:`reprobe.probe.ridge`); decoders whose statistics would not fit
        in memory fall back to Adam, with a warning naming the stage. ``fit="adam"``/``"sgd"``
        train all decoders by gradient for ``epochs`` epochs, sharing the same forward.

        Args:
            train: a DataLoader, Dataset or tensor yielding ``(x, y)`` or ``x``.

        Returns:
            self, so that ``probe.fit(a).evaluate(b)`` chains.
        """
        cfg = self.config
        t0 = time.perf_counter()
        check_tensor(train, "train")
        if self.input_shape is None:
            self.dry_run(first_input(train, cfg.batch_size)[:8])
        if cfg.recalibrate_bn and self._bn_statistics is None:
            self._recalibrate_bn(train)
        self._build_decoders()
        plan = plan_fit(self.decoders, cfg.fit, cfg.ridge_samples, cfg.max_fit_samples, dataset_len(train))
        names = [s.name for s in self.stages]
        over_msg = warn_over_budget(names, plan.over_budget, self.decoders, "Adam" if cfg.fit == "ridge" else cfg.fit)
        fitter = DecoderFitter(self.decoders, [s.shape for s in self.stages], plan, optimizer=cfg.fit, lr=cfg.lr,
                               ridge_samples=cfg.ridge_samples, seed=cfg.seed)
        epochs = cfg.epochs if plan.gradient else 1
        with self._session():
            seen = max(fit_epoch(train, fitter, plan, self._forward, cfg, epoch, epochs, self.depth,
                                 self.input_shape, self._note_once) for epoch in range(epochs))
            if seen == 0:
                raise ReprobeError("the training data is empty; give the probe at least one batch")
            fitter.solve(cfg.ridge)
        self.fit_info = {**fitter.info(names, seen), **(self._bn_record if self._bn_statistics else {})}
        if over_msg:
            self.fit_info["closed_form_over_memory_budget_message"] = over_msg
        self.timings["fit"] = time.perf_counter() - t0
        return self

    def _recalibrate_bn(self, train: Any) -> None:
        """Re-estimate untouched BatchNorm statistics on ``train`` (:mod:`.batchnorm`); the probe uses them."""
        run = lambda x: call_model(self.model, x.to(self.device), self.input_shape)  # noqa: E731
        with self._session():
            self._bn_statistics, inputs = estimate_statistics(self.model, iter_inputs(train, self.config.batch_size), run)
        if self._bn_statistics:  # the stages' value ranges under the statistics the probe uses
            self._bn_record = {"batchnorm_recalibrated": {"layers": len(self._bn_statistics), "inputs": inputs}}
            self.dry_run(first_input(train, self.config.batch_size)[:8])

    def _check_fitted(self) -> None:
        if self.decoders is None:
            raise ReprobeError("the probe has no decoders yet; call probe.fit(train_loader) first")

    def _decode(self, l: int, h: torch.Tensor) -> torch.Tensor:
        return self.decoders[l - 1](h)

    @torch.no_grad()
    def cascade(self, z: torch.Tensor, stage: Union[int, str]) -> torch.Tensor:
        """Run stage-ℓ activations ``z`` (any tensor of that stage's shape: a one-hot class vector for
        the last stage, a feature map with all channels but one zeroed) down the cascade
        C^ℓ = c¹ ∘ … ∘ c^ℓ into input space: ``(N, *input_shape)``. ``stage``: ℓ (1-based) or a name."""
        self._check_fitted()
        l = self.stage_index(stage)
        check_stage_input(z, self.stages[l - 1].shape, f"{l} ({self.stages[l - 1].name})")
        return cascade(self._decode, z.to(self.device), l)

    def stage_index(self, stage: Union[int, str]) -> int:
        """ℓ (1-based) for a stage index or module name."""
        return stage_index(self.stages, stage)

    @torch.no_grad()
    def activations(self, x: torch.Tensor) -> List[torch.Tensor]:
        """[z⁰, z¹, …, z^L] for a batch of inputs (the model frozen as during probing); z⁰ is the
        input, or the embedded sequence for token ids."""
        check_tensor(x, "x")
        x = as_input(x)
        if self.input_shape is None:
            self.dry_run(x[: min(len(x), 8)])
        check_input_shape(x, self.input_shape, "x")
        with self._session():
            return self._forward(x)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstructions of ``x`` from every stage: shape ``(L + 1, N, *input_shape)``, index 0 = x."""
        self._check_fitted()
        return cascade_all(self._decode, self.activations(x))

    def evaluate(self, test: Union[DataLoader, Dataset, torch.Tensor]):
        """Reconstruct ``config.samples`` held-out inputs (the first of ``test``: a DataLoader, Dataset
        or tensor) from every stage and measure the loss: a :class:`reprobe.ProbeResult` with per-stage
        metrics, cutoffs, reconstructions, non-finite counts, timings and the config."""
        self._check_fitted()
        cfg = self.config
        t0 = time.perf_counter()
        check_tensor(test, "test")
        x = take(test, cfg.samples, cfg.batch_size, note=self._note_once)
        check_input_shape(x, self.input_shape, "test")
        if x.shape[0] < 2:
            raise ReprobeError(f"evaluation needs at least 2 inputs, the test data has {x.shape[0]}")
        with self._session():
            rec = reconstruct_all(self._decode, self._forward, x, shapes=[self.input_shape] + [s.shape for s in self.stages],
                                  batch_size=cfg.batch_size, budget=self.EVAL_BUDGET, progress=cfg.progress,
                                  desc=f"reconstructing {x.shape[0]} inputs from {self.depth} stages")
        result = build_result(rec, None, config=cfg, stages=self.stages, input_shape=self.input_shape,
                              decoders=self.decoders, fit_info=self.fit_info,
                              model=model_record(self.model, self.adapter), notes=self.warnings)
        self.timings["evaluate"] = time.perf_counter() - t0
        result.timings = dict(self.timings)
        return result

    def save_decoders(self, path) -> None:
        """Store the trained decoders (and what is needed to rebuild them) with ``torch.save``."""
        self._check_fitted()
        save_decoders(path, self.decoders, self.stages, self.input_shape, self._target_ranges, self.config.to_dict())
        self.decoders.to(self.device)

    def load_decoders(self, path) -> "CascadeProbe":
        """Load decoders saved by :meth:`save_decoders` (the stages must match this probe's)."""
        saved = read_decoders(path, self.stages)
        self.stages, self.input_shape, self._target_ranges = saved.stages, saved.input_shape, saved.target_ranges
        self.config.decoder_kernel = saved.decoder_kernel
        self._build_decoders()
        load_weights(self.decoders, saved)
        self.decoders.to(self.device)
        return self
