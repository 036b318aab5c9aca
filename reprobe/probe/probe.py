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
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from .. import metrics as metric_registry
from ..adapters import HOW_TO_NAME_STAGES, find_stages
from ..core.errors import ReprobeError, ReprobeWarning, close_matches, param
from .batchnorm import estimate_statistics, using_statistics
from .checks import (check_decodable, check_input_shape, check_model, check_stage_input, check_tensor,
                     ignored_batch_parts, model_failure)
from .conv_decoders import MAX_KERNEL_FEATURES
from .decoders import DecoderSpec, build_decoder, choose_out_activation
from .fitting import DecoderFitter, FitPlan, plan_fit, warn_over_budget
from .hooks import MULTI_CALL_MODES, Selector, StageHooks, default_selectors
from .layouts import model_output_format, stage_layout, to_channel_first, tracing_last_layers
from .scale import StageScale, activation_names
from .keyword_inputs import (KeywordBatch, ModelInput, call_model, concat, input_tensor, keyword_batch, pair_with_mask,
                             whole_batch)
from .stages import StageInfo
from .config import FIT_METHODS, ProbeConfig, resolve_device  # noqa: F401  (declared in config.py)


#: Version of :meth:`CascadeProbe.save_decoders` files. 2: closed-form sub-pixel conv decoders.
DECODERS_FORMAT = "reprobe.decoders/2"


def _select_stage_names(model: nn.Module, stages: Any, adapter: Optional[str], adapter_options: dict) -> Tuple[str, List[str]]:
    named = dict(model.named_modules())
    if stages is None:
        return find_stages(model, adapter, **adapter_options)
    if isinstance(stages, type) or (
        isinstance(stages, (tuple, list)) and stages and all(isinstance(s, type) for s in stages)
    ):
        types = (stages,) if isinstance(stages, type) else tuple(stages)
        names = [n for n, m in model.named_modules() if n and isinstance(m, types)]
        if not names:
            raise ReprobeError(
                f"{type(model).__name__} has no modules of type {', '.join(t.__name__ for t in types)}; {HOW_TO_NAME_STAGES}"
            )
        return "by-type", names
    if isinstance(stages, str):
        stages = [stages]
    names = list(stages)
    if not names:
        raise ReprobeError(f"the list of stages is empty; {HOW_TO_NAME_STAGES}")
    for n in names:
        if not isinstance(n, str):
            raise ReprobeError(f"stages must be module names or module types, got {n!r}")
        if n not in named or n == "":
            close = close_matches(n, [k for k in named if k])
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise ReprobeError(f"{type(model).__name__} has no module named {n!r}{hint} (see `reprobe stages` or model.named_modules())")
    if len(set(names)) != len(names):
        raise ReprobeError("a stage is listed twice; each module can be one stage")
    return "by-name", names


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

    def __init__(
        self,
        model: nn.Module,
        stages: Union[None, Sequence[str], type, Sequence[type]] = None,
        *,
        output_selector: Union[None, Selector, Mapping[str, Selector]] = None,
        adapter: Optional[str] = None,
        adapter_options: Optional[dict] = None,
        example_input: Any = None,
        **config: Any,
    ):
        if not isinstance(model, nn.Module):
            raise ReprobeError(f"CascadeProbe needs an nn.Module, got {type(model).__name__}")
        fields = {f.name for f in dataclasses.fields(ProbeConfig)}
        unknown = set(config) - fields
        if unknown:
            raise ReprobeError(f"unknown probe option(s) {', '.join(sorted(unknown))}; valid: {', '.join(sorted(fields))}")
        self.config = ProbeConfig(**config)
        self.config.validate()
        self.device = resolve_device(self.config.device)
        self.model = model
        self.adapter, names = _select_stage_names(model, stages, adapter, adapter_options or {})
        modules = dict(model.named_modules())
        if isinstance(output_selector, Mapping):
            selectors = dict(output_selector)
            bad = [k for k in selectors if k not in names]
            if bad:
                raise ReprobeError(f"output_selector names {bad} that are not stages ({', '.join(names)})")
        elif output_selector is not None:
            selectors = {n: output_selector for n in names}
        else:
            selectors = {}
        selectors = {**default_selectors({n: modules[n] for n in names}), **selectors}
        self.stages: List[StageInfo] = [StageInfo(i + 1, n, type(modules[n]).__name__) for i, n in enumerate(names)]
        self._selectors = selectors
        self._hooks = StageHooks({n: modules[n] for n in names}, selectors, self.config.multi_call).attach()
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

    # -- lifecycle ---------------------------------------------------------------------------------
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

    # -- running the frozen model ------------------------------------------------------------------
    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        """Freeze the model for one probe operation and give it back exactly as it was."""
        if self._closed:
            raise ReprobeError("this probe is closed; make a new CascadeProbe(model)")
        model = self.model
        check_model(model)
        was_training = model.training
        flags = [(p, p.requires_grad) for p in model.parameters()]
        first = next(model.parameters(), None)
        if first is None:
            first = next(model.buffers(), None)
        home = first.device if first is not None else torch.device("cpu")
        try:
            model.eval()
            for p, _ in flags:
                p.requires_grad_(False)
            if home != self.device:
                model.to(self.device)
            with using_statistics(model, self._bn_statistics):
                yield
        except BaseException:
            # The model (or a hook) raised: never leave hooks on the user's model.
            self.close()
            raise
        finally:
            if home != self.device:
                model.to(home)
            for p, flag in flags:
                p.requires_grad_(flag)
            model.train(was_training)

    def _call_model(self, x: torch.Tensor) -> None:
        """Run the model; inputs it cannot take (wrong shape, dtype) are the caller's mistake, said in one line."""
        try:
            call_model(self.model, x)
        except (RuntimeError, ValueError, TypeError, IndexError) as e:
            if self.input_shape is not None and tuple(x.shape[1:]) == self.input_shape:
                raise  # the model took this shape before: not an input mistake
            raise model_failure(self.model, x, e) from None

    def _forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        """[z⁰, z¹, …, z^L] for a batch (stage outputs cloned by the hooks).

        z⁰ is ``x``, or for integer inputs (token ids) the input of the first stage.
        """
        x = x.to(self.device)
        tokens = not x.is_floating_point()
        with torch.no_grad(), self._hooks.recording(capture_input=tokens) as rec:
            self._call_model(x)
        missing = [s.name for s in self.stages if s.name not in rec.outputs]
        if missing:
            raise ReprobeError(
                f"stage(s) {', '.join(missing)} did not run in the forward pass; pick modules the forward "
                f"actually calls ({HOW_TO_NAME_STAGES})"
            )
        return [_embedded_input(rec.first_input, self.stages[0].name) if tokens else input_tensor(x)] + [
            to_channel_first(rec.outputs[s.name], s.layout) for s in self.stages]

    def dry_run(self, x: Any) -> List[StageInfo]:
        """Run one batch to find execution order and output shapes; fills :attr:`stages`.

        Stages an adapter (or a module type) chose that the forward never calls are dropped,
        with a warning; a stage named explicitly that does not run is an error. A stage that
        reads an earlier stage than the one before it (a skip path) is warned about.

        Args:
            x: a batch of inputs, or an ``(x, y)`` batch.

        Returns:
            :attr:`stages`, in execution order, with shapes.
        """
        check_tensor(x, "x")
        x = _as_input(x)
        self.warnings = []
        tokens = not x.is_floating_point()
        with self._session():
            with torch.no_grad(), self._hooks.recording(capture_input=tokens) as rec, \
                    tracing_last_layers(self.model, dict(self._hooks.modules)) as last_layers:
                self._call_model(x.to(self.device))
            order, outputs, first_input = list(rec.order), dict(rec.outputs), rec.first_input
        self._drop_unrun_stages(order)
        by_name = {s.name: s for s in self.stages}
        self.stages = [by_name[n] for n in order if n in by_name]
        for i, s in enumerate(self.stages):
            s.index = i + 1
        z0 = _embedded_input(first_input, self.stages[0].name) if tokens else input_tensor(x)
        check_decodable([(None, z0)] + [(s.name, outputs[s.name]) for s in self.stages])
        with self._session():
            self._warn_about_skips(x)
        self.input_shape = tuple(z0.shape[1:])
        in_h = self.input_shape[-2] if len(self.input_shape) == 3 else None
        for i, s in enumerate(self.stages):
            out = outputs[s.name]
            if out.dim() < 2 or out.shape[0] != x.shape[0]:
                raise ReprobeError(
                    f"stage {s.name!r} output has shape {tuple(out.shape)}; stages must keep the batch dimension first"
                )
            s.layout = stage_layout(tuple(out.shape[1:]), last_layers.features.get(s.name), model_output_format(self.model))
            outputs[s.name] = out = to_channel_first(out, s.layout)
            s.shape = tuple(out.shape[1:])
            if len(s.shape) == 3:
                s.channels = int(s.shape[0])
                s.reduction = float(in_h) / s.shape[1] if in_h else None
        self._target_ranges = [_finite_range(z0)] + [_finite_range(outputs[s.name]) for s in self.stages]
        return self.stages

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        warnings.warn(message, ReprobeWarning, stacklevel=2)

    def _note_once(self, message: str) -> None:
        if message not in self.warnings:
            self._warn(message)

    def _drop_unrun_stages(self, order: Sequence[str]) -> None:
        """Drop automatically chosen stages the forward never called (MultiheadAttention's
        ``out_proj`` is a module it never calls, for one); explicitly named ones are an error."""
        missing = [s.name for s in self.stages if s.name not in order]
        if not missing:
            return
        if self.adapter in ("by-name", "reprobe_stages") or len(missing) == len(self.stages):
            raise ReprobeError(
                f"stage(s) {', '.join(missing)} did not run in the forward pass; pick modules the forward "
                f"actually calls ({HOW_TO_NAME_STAGES})"
            )
        self._hooks.remove()
        self.stages = [s for s in self.stages if s.name not in missing]
        modules = dict(self.model.named_modules())
        kept = {s.name: modules[s.name] for s in self.stages}
        selectors = {n: sel for n, sel in self._selectors.items() if n in kept}
        self._hooks = StageHooks(kept, selectors, self.config.multi_call).attach()
        shown = ", ".join(missing[:4]) + (f", … ({len(missing)} in all)" if len(missing) > 4 else "")
        self._warn(f"dropped {len(missing)} stage(s) the forward pass never calls: {shown}")

    def _warn_about_skips(self, x: torch.Tensor) -> None:
        """Warn when a stage reads more than the previous stage's output (UNet's skip-concat):
        the cascade decodes each stage from the one before, so a skip path goes unmeasured."""
        sample = x[:2].to(self.device).clone()
        leaf = input_tensor(sample)
        leaf = leaf.requires_grad_() if leaf.is_floating_point() else leaf
        try:
            with torch.enable_grad(), self._hooks.recording(trace=True, input_leaf=leaf) as rec:
                call_model(self.model, sample)
            sources = dict(rec.sources)
        except Exception:  # a model that cannot run with autograd on: nothing to say about skips
            return
        skips = []
        for prev, s in zip(self.stages, self.stages[1:]):
            found = sources.get(s.name)
            if sources.get(prev.name) is None or not found:
                continue  # the path could not be followed here
            extra = sorted(found - {prev.name}, key=lambda n: -1 if n == "input" else self.stage_index(n))
            if extra:
                skips.append(f"stage {s.index} ({s.name}) reads " + " and ".join(
                    "the input" if n == "input" else f"stage {self.stage_index(n)} ({n})" for n in extra))
        if skips:
            self._warn(
                f"skip connections: {'; '.join(skips[:3])}{' …' if len(skips) > 3 else ''}, not only the stage before "
                "it; the cascade decodes each stage from the previous one, so it measures what the main path keeps, "
                "not what the skip paths carry"
            )

    # -- fitting ---------------------------------------------------------------------------------
    def _build_decoders(self) -> None:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        shapes = [self.input_shape] + [s.shape for s in self.stages]
        decoders = []
        for l, s in enumerate(self.stages, start=1):
            lo, hi = self._target_ranges[l - 1]
            spec = DecoderSpec(
                in_shape=tuple(shapes[l]),
                out_shape=tuple(shapes[l - 1]),
                target_range=(lo, hi),
                out_activation=choose_out_activation(lo, hi, cfg.decoder_activation),
                stage_type=s.type,
                index=l,
                kernel=cfg.decoder_kernel,
            )
            dec = build_decoder(spec)
            s.decoder = getattr(dec, "decoder_kind", type(dec).__name__)
            used = getattr(dec, "kernel", cfg.decoder_kernel)
            if len(spec.in_shape) == 3 and used != cfg.decoder_kernel:
                self._warn(f"stage {l} ({s.name}): decoder_kernel {cfg.decoder_kernel} would give its decoder "
                           f"{spec.in_shape[0]}·{cfg.decoder_kernel}² patch features (over {MAX_KERNEL_FEATURES}, or a "
                           f"1×1 map); it uses {used}×{used}, the largest that fits")
            decoders.append(dec)
        # channels_last: ~10 % faster convolutions on CPU (oneDNN) and GPU; only 4-D weights change.
        self.decoders = nn.ModuleList(decoders).to(self.device, memory_format=torch.channels_last)

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
            self.dry_run(_first_input(train, cfg.batch_size)[:8])
        if cfg.recalibrate_bn and self._bn_statistics is None:
            with self._session():
                self._bn_statistics, bn_inputs = estimate_statistics(
                    self.model, _iter_inputs(train, cfg.batch_size), lambda x: self._call_model(x.to(self.device)))
            if self._bn_statistics:  # the stages' value ranges under the statistics the probe uses
                self._bn_record = {"layers": len(self._bn_statistics), "inputs": bn_inputs}
                self.dry_run(_first_input(train, cfg.batch_size)[:8])
        self._build_decoders()
        plan = plan_fit(self.decoders, cfg.fit, cfg.ridge_samples, cfg.max_fit_samples, _dataset_len(train))
        names = [s.name for s in self.stages]
        over_msg = warn_over_budget(names, plan.over_budget, self.decoders, "Adam" if cfg.fit == "ridge" else cfg.fit)
        fitter = DecoderFitter(self.decoders, [s.shape for s in self.stages], plan, optimizer=cfg.fit, lr=cfg.lr,
                               ridge_samples=cfg.ridge_samples, seed=cfg.seed)
        epochs = cfg.epochs if plan.gradient else 1
        with self._session():
            seen = max(self._fit_epoch(train, fitter, plan, epoch, epochs) for epoch in range(epochs))
            if seen == 0:
                raise ReprobeError("the training data is empty; give the probe at least one batch")
            fitter.solve(cfg.ridge)
        self.fit_info = fitter.info(names, seen)
        if self._bn_statistics:
            self.fit_info["batchnorm_recalibrated"] = dict(self._bn_record)
        if over_msg:
            self.fit_info["closed_form_over_memory_budget_message"] = over_msg
        self.timings["fit"] = time.perf_counter() - t0
        return self

    def _fit_epoch(self, train: Any, fitter: DecoderFitter, plan: FitPlan, epoch: int, epochs: int) -> int:
        """One pass over the training inputs; returns how many were read."""
        cfg = self.config
        limit = plan.input_limit
        total = _dataset_len(train)
        total = limit if total is None else (total if limit is None else min(total, limit))
        # Closed-form statistics are big GEMMs: feed them big batches when nothing trains by gradient.
        # (vector stages only: a feature map gives many rows per input already)
        min_rows = 1024 if not plan.gradient and all(p is None for p in plan.positions) else 0
        bar = tqdm(total=total, unit="img", disable=not cfg.progress, leave=False,
                   desc=f"fitting {self.depth} decoders" + (f" (epoch {epoch + 1}/{epochs})" if epochs > 1 else ""))
        seen = 0
        with bar:
            batches = (check_input_shape(x, self.input_shape, "train") for x in _iter_inputs(
                train, cfg.batch_size, shuffle=bool(plan.gradient), seed=cfg.seed + epoch, note=self._note_once))
            for x in _rebatch(batches, min_rows):
                if limit is not None:
                    x = x[: limit - seen]
                fitter.step(self._forward(x), epoch)
                seen += x.shape[0]
                bar.update(x.shape[0])
                if (limit is not None and seen >= limit) or fitter.statistics_complete():
                    break
        fitter.end_epoch()
        return seen

    # -- reconstructing ----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if self.decoders is None:
            raise ReprobeError("the probe has no decoders yet; call probe.fit(train_loader) first")

    @torch.no_grad()
    def cascade(self, z: torch.Tensor, stage: Union[int, str]) -> torch.Tensor:
        """Run stage-ℓ activations down the cascade C^ℓ = c¹ ∘ … ∘ c^ℓ into input space.

        Args:
            z: a batch of stage-ℓ outputs (any tensor of that stage's shape: e.g. a one-hot class
               vector for the last stage, or a feature map with all channels but one zeroed).
            stage: ℓ (1-based) or the stage's module name.

        Returns:
            Reconstructions of shape ``(N, *input_shape)``.
        """
        self._check_fitted()
        l = self.stage_index(stage)
        check_stage_input(z, self.stages[l - 1].shape, f"{l} ({self.stages[l - 1].name})")
        h = z.to(self.device)
        for k in range(l, 0, -1):
            h = self.decoders[k - 1](h)
        return h

    def stage_index(self, stage: Union[int, str]) -> int:
        """ℓ (1-based) for a stage index or module name."""
        if isinstance(stage, int):
            if not 1 <= stage <= self.depth:
                raise ReprobeError(f"stage index must be 1…{self.depth}, got {stage}")
            return stage
        for s in self.stages:
            if s.name == stage:
                return s.index
        close = close_matches(stage, [s.name for s in self.stages])
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise ReprobeError(f"no stage named {stage!r}{hint} Stages: {', '.join(s.name for s in self.stages)}")

    @torch.no_grad()
    def activations(self, x: torch.Tensor) -> List[torch.Tensor]:
        """[z⁰, z¹, …, z^L] for a batch of inputs (the model frozen as during probing); z⁰ is the
        input, or the embedded sequence for token ids."""
        check_tensor(x, "x")
        x = _as_input(x)
        if self.input_shape is None:
            self.dry_run(x[: min(len(x), 8)])
        check_input_shape(x, self.input_shape, "x")
        with self._session():
            return self._forward(x)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstructions of ``x`` from every stage: shape ``(L + 1, N, *input_shape)``, index 0 = x."""
        self._check_fitted()
        zs = self.activations(x)
        return self._cascade_all(zs)

    def _cascade_all(self, zs: List[torch.Tensor], budget: int = 32_000_000, bar: Optional[Any] = None,
                     one_step_sq_err: Optional[List[float]] = None) -> torch.Tensor:
        """All L cascades at once: at each level, the sources already down there share one decoder call.

        Args:
            zs: ``[z⁰, …, z^L]`` for one batch.
            budget: activation values one chunk of sources may hold.
            bar: a tqdm bar, advanced by one per source stage reconstructed.
            one_step_sq_err: if given, ``one_step_sq_err[ℓ-1]`` grows by ‖c^ℓ(z^ℓ) − z^{ℓ-1}‖² — the
                cascade's first step, so the decoder error costs no extra decoder call.

        Returns:
            ``(L + 1, N, *input_shape)`` float32 reconstructions, index 0 = the input.
        """
        L, n = self.depth, zs[0].shape[0]
        out = torch.empty((L + 1, *zs[0].shape), dtype=torch.float32, device=self.device)
        out[0] = zs[0]
        biggest = max(z[0].numel() for z in zs)
        chunk = max(1, budget // max(1, n * biggest))
        for start in range(L, 0, -chunk):
            sources = list(range(start, max(0, start - chunk), -1))  # descending ℓ
            low = sources[-1]
            # First step of every source (its decoder's own output), then down to the level of the
            # shallowest source in the chunk, where all of them share each remaining decoder call.
            current = {}
            for l in sources:
                h = self.decoders[l - 1](zs[l])
                if one_step_sq_err is not None:
                    one_step_sq_err[l - 1] += float(((h.double() - zs[l - 1].double()) ** 2).sum())
                for k in range(l - 1, low - 1, -1):
                    h = self.decoders[k - 1](h)
                current[l] = h
            h = torch.cat([current.pop(l) for l in sources])
            for k in range(low - 1, 0, -1):
                h = self.decoders[k - 1](h)
            for j, l in enumerate(sources):
                out[l] = h[j * n:(j + 1) * n].to(torch.float32)
            if bar is not None:
                bar.update(len(sources))
        return out

    #: Evaluation keeps about this many activation values (floats) in memory at a time.
    EVAL_BUDGET = 128_000_000

    def _eval_chunk(self, n: int) -> int:
        """Samples per evaluation chunk, so that one chunk's activations fit :attr:`EVAL_BUDGET`."""
        per_sample = math.prod(self.input_shape or (1,)) + sum(math.prod(s.shape or (1,)) for s in self.stages)
        return max(1, min(n, max(self.config.batch_size, 128) if per_sample * 128 <= self.EVAL_BUDGET
                          else self.EVAL_BUDGET // max(1, 2 * per_sample)))

    # -- evaluating --------------------------------------------------------------------------------
    @torch.no_grad()
    def _reconstruct_all(self, x: torch.Tensor):
        """Every stage's reconstruction of ``x`` (stage 0: ``x`` itself), with the per-stage counts of
        non-finite activations, the one-step decoders' squared errors and the activations' mean square:
        (recon, bad, sq_err, counts, stage_scale)."""
        cfg = self.config
        n = int(x.shape[0])
        # Stream the samples in chunks: only the input-space reconstructions are kept, never every
        # stage's activations for all samples at once (VGG16 at 224² would need many GB).
        chunk = self._eval_chunk(n)
        recon: Optional[torch.Tensor] = None
        bad_acts = [0] * self.depth
        sq_err = [0.0] * self.depth
        counts = [0] * self.depth
        scale = StageScale(self.depth)
        # The cascades cost O(L²) decoder calls: for deep conv nets this is the long part.
        bar = tqdm(total=self.depth * math.ceil(n / chunk), unit="stage", disable=not cfg.progress, leave=False,
                   desc=f"reconstructing {n} inputs from {self.depth} stages")
        with self._session(), bar:
            for i in range(0, n, chunk):
                zs = self._forward(x[i:i + chunk])
                part = self._cascade_all(zs, bar=bar, one_step_sq_err=sq_err)
                if recon is None:
                    recon = torch.empty((self.depth + 1, n, *part.shape[2:]), dtype=torch.float32)
                recon[:, i:i + chunk] = part.cpu()
                del part
                for l in range(1, self.depth + 1):
                    bad_acts[l - 1] += int((~torch.isfinite(zs[l])).sum())
                    counts[l - 1] += zs[l - 1].numel()
                    scale.add(l - 1, zs[l])
                del zs
        assert recon is not None
        return recon, bad_acts, sq_err, counts, scale.values()

    def _stage_metrics(self, x: torch.Tensor, recon: torch.Tensor, bad_acts: List[int], sq_err: List[float],
                       counts: List[int]):
        """Per stage: each metric of ``recon[ℓ]`` against ``x`` (None where not finite), the one-step
        decoder MSE, and the stages with non-finite values: (values, decoder_mse, nonfinite)."""
        cfg = self.config
        nonfinite: Dict[str, Dict[str, int]] = {}
        values: Dict[str, List[Optional[float]]] = {m: [] for m in cfg.metrics}
        decoder_mse: List[Optional[float]] = []
        for l, s in enumerate(self.stages, start=1):
            bad_act = bad_acts[l - 1]
            bad_rec = int((~torch.isfinite(recon[l])).sum())
            if bad_act or bad_rec:
                nonfinite[s.name] = {"activations": bad_act, "reconstructions": bad_rec}
            for m in cfg.metrics:
                if bad_rec:
                    values[m].append(None)
                else:
                    v = metric_registry.get(m)(x, recon[l])
                    values[m].append(v if math.isfinite(v) else None)
            e = sq_err[l - 1] / max(1, counts[l - 1])
            decoder_mse.append(e if math.isfinite(e) else None)
        return values, decoder_mse, nonfinite

    def _evaluation_warnings(self, nonfinite: Dict[str, Dict[str, int]], samples: int,
                             fit_info: Optional[Mapping[str, Any]] = None) -> List[str]:
        cfg = self.config
        fit_info = self.fit_info if fit_info is None else fit_info
        warnings = list(self.warnings)  # what the dry run and the fit found, and notes on the inputs
        if nonfinite:
            warnings.append(
                f"non-finite activations or reconstructions at {len(nonfinite)} stage(s) "
                f"(first: {next(iter(nonfinite))}); their metrics are null"
            )
        if fit_info.get("closed_form_over_memory_budget_message"):
            warnings.append(fit_info["closed_form_over_memory_budget_message"])
        if fit_info.get("skipped_nonfinite"):
            warnings.append(f"training rows with non-finite values were skipped at {len(fit_info['skipped_nonfinite'])} stage(s)")
        warnings += data_size_warnings(cfg.samples, samples, fit_info, self.decoders,
                                       [s.name for s in self.stages])
        return warnings

    def evaluate(self, test: Union[DataLoader, Dataset, torch.Tensor]):
        """Reconstruct ``config.samples`` held-out inputs from every stage and measure the loss.

        Args:
            test: a DataLoader, Dataset or tensor (the first ``samples`` inputs are used).

        Returns:
            A :class:`reprobe.ProbeResult` with per-stage metrics, cutoffs, reconstructions,
            non-finite counts, timings and the config.
        """
        self._check_fitted()
        cfg = self.config
        t0 = time.perf_counter()
        check_tensor(test, "test")
        x = _take(test, cfg.samples, cfg.batch_size, note=self._note_once)
        check_input_shape(x, self.input_shape, "test")
        if x.shape[0] < 2:
            raise ReprobeError(f"evaluation needs at least 2 inputs, the test data has {x.shape[0]}")
        recon, bad_acts, sq_err, counts, stage_scale = self._reconstruct_all(x)
        result = self._result(recon, bad_acts, sq_err, counts, self.fit_info, stage_scale)
        self.timings["evaluate"] = time.perf_counter() - t0
        result.timings = dict(self.timings)
        return result

    def _result(self, recon: torch.Tensor, bad_acts: List[int], sq_err: List[float], counts: List[int],
                fit_info: Mapping[str, Any], stage_scale: Optional[List[Optional[float]]] = None):
        """The :class:`ProbeResult` of reconstructions ``recon`` (index 0: the inputs) with the
        per-stage non-finite counts and one-step squared errors of :meth:`_reconstruct_all`, and the
        fit record ``fit_info``: metrics, cutoffs by every detector, warnings (timings left empty).
        The batched probe (:mod:`reprobe.probe.batched`) builds each net's result through it too."""
        from .result import ProbeResult

        cfg = self.config
        x = recon[0]
        values, decoder_mse, nonfinite = self._stage_metrics(x, recon, bad_acts, sq_err, counts)
        cutoffs_by: Dict[str, Dict[str, Optional[int]]] = {}
        for det in metric_registry.CUTOFFS.names():
            cutoffs_by[det] = {m: metric_registry.compute_cutoff(det, values[m], eta=cfg.eta) for m in cfg.metrics}
        warnings = self._evaluation_warnings(nonfinite, int(x.shape[0]), fit_info)
        k = min(cfg.keep_examples, x.shape[0])
        return ProbeResult(
            stages=[dataclasses.replace(s) for s in self.stages],
            input_shape=tuple(self.input_shape),
            metrics=values,
            cutoffs=dict(cutoffs_by[cfg.cutoff]),
            cutoffs_by_detector=cutoffs_by,
            cutoff_detector=cfg.cutoff,
            decoder_mse=decoder_mse,
            nonfinite=nonfinite,
            saturation=metric_registry.saturation_levels(x, cfg.metrics),
            stage_scale=list(stage_scale or []),
            reconstructions=recon[:, :k].detach().cpu(),
            timings={},
            config=cfg.to_dict(),
            fit=self._fit_record(fit_info),
            model={
                "class": type(self.model).__name__,
                "parameters": int(sum(p.numel() for p in self.model.parameters())),
                "adapter": self.adapter,
                "activations": activation_names(self.model),
            },
            warnings=warnings,
            samples=int(x.shape[0]),
        )

    def _fit_record(self, fit_info: Mapping[str, Any]) -> Dict[str, Any]:
        """``fit_info`` with the least determined decoder, for the verdict's rule."""
        worst = least_determined(fit_info, self.decoders, [s.name for s in self.stages])
        extra = {} if worst is None else {"least_determined": dict(zip(("stage", "rows", "features"), worst))}
        return {**dict(fit_info), **extra}

    # -- saving decoders ---------------------------------------------------------------------------
    def save_decoders(self, path) -> None:
        """Store the trained decoders (and what is needed to rebuild them) with ``torch.save``."""
        self._check_fitted()
        torch.save(
            {
                "format": DECODERS_FORMAT,
                "input_shape": list(self.input_shape),
                "stages": [s.to_dict() for s in self.stages],
                "target_ranges": [list(r) for r in self._target_ranges],
                "config": self.config.to_dict(),
                "decoders": self.decoders.cpu().state_dict(),
                "closed_form": [bool(getattr(d, "closed_form", False)) for d in self.decoders],
            },
            path,
        )
        self.decoders.to(self.device)

    def load_decoders(self, path) -> "CascadeProbe":
        """Load decoders saved by :meth:`save_decoders` (the stages must match this probe's)."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as e:
            raise ReprobeError(f"cannot read decoders from {path}: {e}") from None
        found = state.get("format") if isinstance(state, dict) else None
        if found != DECODERS_FORMAT:
            raise ReprobeError(f"decoders in {path} have format {found!r}, not {DECODERS_FORMAT!r} (saved by another "
                               "reprobe version, whose decoders differ); fit the probe again and save them anew")
        names = [s["name"] for s in state["stages"]]
        if names != [s.name for s in self.stages] and sorted(names) != sorted(s.name for s in self.stages):
            raise ReprobeError(f"decoders in {path} were trained for stages {names[:5]}…, not this model's")
        by_name = {s.name: s for s in self.stages}
        self.stages = [by_name[n] for n in names]
        for d in state["stages"]:
            s = by_name[d["name"]]
            s.index, s.shape = d["index"], tuple(d["shape"])
            s.channels, s.reduction, s.layout = d.get("channels"), d.get("reduction"), d.get("layout")
        self.input_shape = tuple(state["input_shape"])
        self._target_ranges = [tuple(r) for r in state["target_ranges"]]
        self.config.decoder_kernel = int(state["config"].get("decoder_kernel", 3))  # the saved decoders' shape
        self._build_decoders()
        try:
            self.decoders.load_state_dict(state["decoders"])
        except RuntimeError as e:
            raise ReprobeError(f"decoders in {path} do not fit this probe's decoders ({str(e).splitlines()[0]}); "
                               "fit the probe again and save them anew") from None
        for d, cf in zip(self.decoders, state["closed_form"]):
            if hasattr(d, "closed_form"):
                d.closed_form = cf
            d.requires_grad_(False)
        self.decoders.to(self.device)
        return self


#: Fewer held-out inputs than this make the entropy estimates (and so ℓ*) noise.
MIN_RELIABLE_SAMPLES = 32


def data_size_warnings(asked: int, measured: int, fit_info: Mapping[str, Any], decoders: Sequence[nn.Module],
                       stage_names: Sequence[str]) -> List[str]:
    """Warnings when the data was smaller than asked for, or too small for the verdict to mean much."""
    out = []
    if measured < asked:
        out.append(f"samples={asked} asked for, but the test data has {measured} inputs: measured on {measured}")
    if measured < MIN_RELIABLE_SAMPLES:
        out.append(f"only {measured} held-out inputs measured (fewer than {MIN_RELIABLE_SAMPLES}): "
                   "the entropies and the cutoff ℓ* are unreliable")
    worst = _least_determined_decoder(fit_info, decoders, stage_names)
    if worst is not None:
        name, rows, features = worst
        out.append(f"decoders were fitted on {fit_info.get('fit_samples')} training inputs: stage {name}'s decoder saw "
                   f"{rows} rows for its {features} features, so it is underdetermined and the cutoff ℓ* is unreliable")
    return out


#: A decoder with fewer fit rows than this share of its features is underdetermined beyond what the
#: ridge makes up for (on VGG16, 0.5 rows per feature still gives the R² of 2 rows to within 0.005).
MIN_ROWS_PER_FEATURE = 0.5


def _least_determined_decoder(fit_info: Mapping[str, Any], decoders: Sequence[nn.Module],
                              stage_names: Sequence[str]) -> Optional[Tuple[str, int, int]]:
    """(stage, rows, features) of the decoder with the fewest rows per feature, if below the minimum."""
    worst = least_determined(fit_info, decoders, stage_names)
    return worst if worst is not None and worst[1] < MIN_ROWS_PER_FEATURE * worst[2] else None


def least_determined(fit_info: Mapping[str, Any], decoders: Sequence[nn.Module],
                     stage_names: Sequence[str]) -> Optional[Tuple[str, int, int]]:
    """(stage, rows, features) of the decoder with the fewest fit rows per feature (None: no decoder
    says its features); the verdict's rule reads it from ``result.fit["least_determined"]``."""
    closed_rows = fit_info.get("closed_form_rows", {})
    worst = None
    for name, d in zip(stage_names, decoders):
        features = getattr(d, "n_features", None)
        if not features:
            continue
        rows = closed_rows.get(name, (fit_info.get("fit_samples") or 0) * getattr(d, "rows_per_input", 1))
        if worst is None or rows / features < worst[1] / worst[2]:
            worst = (name, int(rows), int(features))
    return worst


# -- data helpers ------------------------------------------------------------------------------------
def _as_input(batch: Any, note: Optional[Callable[[str], None]] = None) -> ModelInput:
    if isinstance(batch, (tuple, list)):
        if not batch:
            raise ReprobeError("got an empty batch")
        paired = pair_with_mask(batch)
        if paired is None:
            ignored = ignored_batch_parts(batch) if note is not None else None
            if ignored:
                note(ignored)
        batch = paired if paired is not None else batch[0]
    if isinstance(batch, Mapping):
        return keyword_batch(batch)
    if isinstance(batch, KeywordBatch):
        return batch
    if not isinstance(batch, torch.Tensor):
        raise ReprobeError(f"batches must be tensors, (x, y) pairs or dicts of tensors, got {type(batch).__name__}")
    # Integer batches (token ids) reach the model as they are; only masks become numbers.
    if batch.dtype == torch.bool:
        batch = batch.float()
    return batch


def _embedded_input(first_input: Optional[torch.Tensor], first_stage: str) -> torch.Tensor:
    """z⁰ of a token model: the first stage's input, which must be a float tensor."""
    if first_input is None or not first_input.is_floating_point():
        raise ReprobeError(
            f"the model takes integer inputs, so the cascade starts at the input of the first stage "
            f"({first_stage!r}), but that is not a float tensor; make the first stage a module that runs after "
            "the embedding"
        )
    return first_input


def _iter_inputs(data: Any, batch_size: int, shuffle: bool = False, seed: int = 0,
                 note: Optional[Callable[[str], None]] = None) -> Iterator[ModelInput]:
    data = whole_batch(data)
    if isinstance(data, (torch.Tensor, KeywordBatch)):
        if shuffle:
            data = data[torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))]
        for i in range(0, len(data), batch_size):
            yield _as_input(data[i:i + batch_size])
        return
    if isinstance(data, Dataset) and not isinstance(data, DataLoader):
        gen = torch.Generator().manual_seed(seed)
        data = DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=gen)
    if not isinstance(data, Iterable):
        raise ReprobeError(f"expected a DataLoader, Dataset or tensor, got {type(data).__name__}")
    for batch in data:
        yield _as_input(batch, note)


def _rebatch(it: Iterator[torch.Tensor], min_rows: int) -> Iterator[torch.Tensor]:
    if min_rows <= 0:
        yield from it
        return
    buf: List[torch.Tensor] = []
    rows = 0
    for x in it:
        buf.append(x)
        rows += x.shape[0]
        if rows >= min_rows:
            yield concat(buf)
            buf, rows = [], 0
    if buf:
        yield concat(buf)


def _first_input(data: Any, batch_size: int) -> torch.Tensor:
    for x in _iter_inputs(data, batch_size):
        return x
    raise ReprobeError("the training data is empty; give the probe at least one batch")


def _take(data: Any, n: int, batch_size: int, note: Optional[Callable[[str], None]] = None) -> torch.Tensor:
    xs, rows = [], 0
    for x in _iter_inputs(data, max(batch_size, n), note=note):
        xs.append(x)
        rows += x.shape[0]
        if rows >= n:
            break
    if not xs:
        raise ReprobeError("the test data is empty; the probe needs held-out inputs to evaluate")
    return concat(xs)[:n]


def _dataset_len(data: Any) -> Optional[int]:
    try:
        if isinstance(data, DataLoader):
            return len(data.dataset)  # type: ignore[arg-type]
        return len(data)
    except TypeError:
        return None


def _finite_range(t: torch.Tensor) -> Tuple[float, float]:
    f = t[torch.isfinite(t)]
    if f.numel() == 0:
        return (-math.inf, math.inf)
    return (float(f.min()), float(f.max()))
