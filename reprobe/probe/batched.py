"""Probing K MLPs of one shape together: stacked weights, one batched forward, batched ridge solves.

A sweep's σ_w² row is K nets of one shape that differ only in their weights. Probed one at a time
they cost, per input batch, K forwards and K·L Gram updates, then K·L Cholesky solves and
K·L(L+1)/2 decoder calls in the cascades. :class:`BatchedMLPProbe` stacks the K nets' weights and
runs each of these once with a leading net dimension (``baddbmm``, batched Cholesky), then builds
each net's :class:`~reprobe.probe.result.ProbeResult` with the one-at-a-time probe's own metric,
cutoff and warning code::

    with BatchedMLPProbe(nets, samples=100) as probe:
        results = probe.fit(train_loader).evaluate(test_set)   # one ProbeResult per net

Same inputs, same rows of the fit, same relative ridge, same decoder output bounds (chosen per net
from its own activations): each result is :class:`~reprobe.probe.probe.CascadeProbe`'s up to float
rounding (on CPU the same numbers: ``baddbmm`` runs ``nn.Linear``'s kernel for each net).

It takes the built-in MLPs (:class:`reprobe.models.mlp.MLP`) of one shape with closed-form ridge
decoders. Anything else raises :class:`NotBatchable` (a :class:`ReprobeError` naming the
parameter), and the caller probes the nets one at a time; so does a net whose training activations
are not finite (the one-at-a-time probe leaves such rows out net by net). K nets take about K times
one probe's memory. The nets themselves are never touched: their weights are copied into stacks.
"""

from __future__ import annotations

import math
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from ..core.errors import ReprobeError, param
from ..models.mlp import MLP
from .decoders import DecoderSpec, choose_out_activation
from .fitting import MAX_CLOSED_FORM_BYTES, FitPlan, closed_form_bytes, plan_fit
from .cascade import reconstruct_all
from .evaluation import build_result, model_record
from .forward import select_stage_names
from .inputs import all_finite, dataset_len, finite_range, first_input, iter_inputs, rebatch, take
from .probe import probe_config, resolve_device
from .result import ProbeResult
from .ridge import RidgeStatistics, ridge_solutions
from .stages import StageInfo
from .training import build_decoders, inputs_to_read


class NotBatchable(ReprobeError):
    """These models or options cannot be probed together: probe the models one at a time."""


def mlp_layers(model: nn.Module) -> Tuple[List[nn.Linear], nn.Module]:
    """The Linear layers of a built-in MLP (Flatten, (Linear, φ) × (L−1), Linear) and its φ.

    Raises:
        NotBatchable: for any other model, an MLP with hooks on it, or one that is not float32.
    """
    if not isinstance(model, MLP):
        raise NotBatchable(f"{param('models')} must be reprobe MLPs (reprobe.models.mlp) to be probed together, "
                           f"got {type(model).__name__}; probe it on its own")
    linears, act = _layers(model)
    expected = [nn.Flatten] + [nn.Linear, type(act)] * (len(linears) - 1) + [nn.Linear]
    if [type(m) for m in model] != expected or any(p.dtype != torch.float32 for p in model.parameters()):
        raise NotBatchable(f"{param('models')} must be unchanged float32 MLPs (Flatten, Linear + activation, …, "
                           "Linear) to be probed together; probe them one at a time")
    if any(m._forward_hooks or m._forward_pre_hooks for m in model.modules()):
        raise NotBatchable(f"{param('models')} carry forward hooks, which the batched forward would skip; "
                           "probe them one at a time")
    return linears, act


def _layers(model: MLP) -> Tuple[List[nn.Linear], nn.Module]:
    """(Linear layers, activation) of an MLP, read without checks (:func:`mlp_layers` checks; the probe
    calls this while its own hooks are on the net)."""
    mods = list(model)
    return [m for m in mods if isinstance(m, nn.Linear)], (mods[2] if len(mods) > 2 else nn.Identity())


def check_batchable(models: Sequence[nn.Module]) -> None:
    """Raise :class:`NotBatchable` unless ``models`` are built-in MLPs of one shape (widths, activation)."""
    if not models:
        raise NotBatchable(f"{param('models')} is empty; give at least one MLP")
    shapes = []
    for m in models:
        linears, act = mlp_layers(m)
        shapes.append(([tuple(l.weight.shape) for l in linears], type(act).__name__))
    if any(s != shapes[0] for s in shapes):
        raise NotBatchable(f"{param('models')} must have one shape (widths and activation) to be probed together; "
                           f"got {shapes[0][1]} {[w[0] for w in shapes[0][0]]} and others; probe them one at a time")


class StackedMLP:
    """K MLPs of one shape as stacked weights (K, out, in): one ``baddbmm`` per layer for all K.

    Args:
        models: the MLPs (:func:`check_batchable`); their weights are copied, never changed.
        device: where the stacks live.
        checked: the models passed :func:`check_batchable` already.
    """

    def __init__(self, models: Sequence[nn.Module], device: torch.device, checked: bool = False):
        if not checked:
            check_batchable(models)
        layers = [_layers(m) for m in models]
        self.k = len(models)
        self.activation = layers[0][1]
        per_layer = list(zip(*[linears for linears, _ in layers]))
        self.weights = [torch.stack([m.weight.detach().to(device) for m in ms]) for ms in per_layer]
        self.biases = [torch.stack([m.bias.detach().to(device) for m in ms])[:, None, :] for ms in per_layer]

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> List[torch.Tensor]:
        """``[z⁰, z¹, …, z^L]``: z⁰ is ``x`` (N, …) itself, z^ℓ the K nets' stage outputs (K, N, D_ℓ)."""
        h = x.reshape(x.shape[0], -1).unsqueeze(0).expand(self.k, -1, -1)
        zs = [x]
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w.transpose(1, 2))
            if i < last:
                h = self.activation(h)
            zs.append(h)
        return zs


class StackedDecoders:
    """The K nets' closed-form decoders c^ℓ as stacked weights, each net's output clamped to its bounds.

    Args:
        weights: per decoder, (K, out, in) float32.
        biases: per decoder, (K, 1, out) float32.
        bounds: per decoder, (low, high) tensors of shape (K, 1, 1) (±inf: unbounded), or None
            when no net's decoder is bounded.
    """

    def __init__(self, weights: List[torch.Tensor], biases: List[torch.Tensor],
                 bounds: List[Optional[Tuple[torch.Tensor, torch.Tensor]]]):
        self.weights, self.biases, self.bounds = weights, biases, bounds

    def __call__(self, l: int, h: torch.Tensor) -> torch.Tensor:
        """c^ℓ (1-based ℓ) of stage-ℓ values ``h`` (K, N, D_ℓ): (K, N, D_{ℓ−1}), flattened."""
        y = torch.baddbmm(self.biases[l - 1], h, self.weights[l - 1].transpose(1, 2))
        b = self.bounds[l - 1]
        return y if b is None else torch.clamp(y, b[0], b[1])


def _bounds(activations: List[str], device: torch.device) -> Optional[Tuple[torch.Tensor, torch.Tensor]]:
    """(low, high) per net, shape (K, 1, 1), for decoders with these output activations; None if none is bounded."""
    found = [DecoderSpec((), (), out_activation=a).bounds for a in activations]
    if all(b is None for b in found):
        return None
    lo = torch.tensor([-math.inf if b is None else b[0] for b in found], device=device).view(-1, 1, 1)
    hi = torch.tensor([math.inf if b is None else b[1] for b in found], device=device).view(-1, 1, 1)
    return lo, hi


class BatchedMLPProbe:
    """Probe K built-in MLPs of one shape together; one :class:`ProbeResult` per net.

    Args:
        models: MLPs of one shape (:func:`check_batchable`); they may differ in σ_w², σ_b², seed.
        **config: :class:`~reprobe.probe.config.ProbeConfig` fields, as for ``CascadeProbe``
            (``fit`` must be ``ridge``).

    Raises:
        NotBatchable: models or options the batched path does not take (probe one at a time).

    Attributes:
        stages: the stages every net shares (their Linear layers), with shapes after :meth:`dry_run`.
        input_shape: the shape of one input, after :meth:`dry_run`.
        warnings: what the dry run and the decoders' construction warned about.
        fit_info: per net, the ``fit`` record of its result.
    """

    def __init__(self, models: Sequence[nn.Module], **config: Any):
        models = list(models)
        check_batchable(models)
        self.config = probe_config(config)
        if self.config.fit != "ridge":
            raise NotBatchable(f"only closed-form decoders are fitted together: {param('fit', 'ridge')}, "
                               f"got {self.config.fit!r}; probe the nets one at a time")
        self.models = models
        self.device = resolve_device(self.config.device)
        self.stack = StackedMLP(models, self.device, checked=True)
        self.adapter, names = select_stage_names(models[0], None, None, {})
        modules = dict(models[0].named_modules())
        if len(names) != self.depth:  # one stage per Linear layer (its activation's output, or the class layer)
            raise NotBatchable(f"the stages found in {param('models')} are not their Linear layers; probe them one at a time")
        self.stages = [StageInfo(i + 1, n, type(modules[n]).__name__) for i, n in enumerate(names)]
        self.input_shape: Optional[Tuple[int, ...]] = None
        self.warnings: List[str] = []
        self.decoders: Optional[StackedDecoders] = None
        self.fit_info: List[Dict[str, Any]] = []
        self.timings: Dict[str, float] = {}

    def close(self) -> None:
        """Nothing to release: the nets carry no hooks (kept so that ``with`` and ``close`` read as for
        :class:`CascadeProbe`)."""

    def __enter__(self) -> "BatchedMLPProbe":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def depth(self) -> int:
        return len(self.stack.weights)

    @torch.no_grad()
    def dry_run(self, x: torch.Tensor) -> List[List[Tuple[float, float]]]:
        """Fill :attr:`stages` shapes and :attr:`input_shape` from one batch; per net, the (min, max)
        of z⁰ … z^L on it (they choose each net's decoder bounds)."""
        zs = self.stack(x.to(self.device))
        self.input_shape = tuple(x.shape[1:])
        for s, z in zip(self.stages, zs[1:]):
            s.shape = tuple(z.shape[2:])
        self.warnings = []
        return [[finite_range(zs[0])] + [finite_range(z[k]) for z in zs[1:]] for k in range(self.stack.k)]

    def _forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        """``[z⁰, …, z^L]`` with the K nets on dimension 0 (z⁰ flattened and expanded, a view)."""
        zs = self.stack(x.to(self.device))
        return [zs[0].reshape(1, x.shape[0], -1).expand(self.stack.k, -1, -1)] + zs[1:]

    # -- fitting -----------------------------------------------------------------------------------
    def fit(self, train: Any) -> "BatchedMLPProbe":
        """Fit every net's decoders from one pass over ``train`` (as :meth:`CascadeProbe.fit`).

        Returns:
            self, so that ``probe.fit(a).evaluate(b)`` chains.
        """
        cfg = self.config
        t0 = time.perf_counter()
        first = first_input(train, cfg.batch_size)
        ranges = self.dry_run(first[: min(len(first), 8)])
        # one net's decoders: their sizes plan the fit and judge its data; their seeding as one at a time
        self._one_net_decoders = build_decoders(self.stages, self.input_shape, ranges[0], cfg, self.device, self.warnings.append)
        plan = plan_fit(self._one_net_decoders, cfg.fit, cfg.ridge_samples, cfg.max_fit_samples, dataset_len(train))
        self._check_plan(plan)
        stats, seen = self._fit_pass(train, plan)
        self.decoders = self._solve(stats, ranges)
        names = [s.name for s in self.stages]
        rows = [st.rows for st in stats]
        info = {"fit_samples": seen, "closed_form_samples": max(rows),
                "closed_form_rows": dict(zip(names, rows)),
                "closed_form_over_memory_budget": [], "closed_form_stages": self.depth, "gradient_stages": 0,
                "skipped_nonfinite": {}, "train_loss": [None] * self.depth}
        self.fit_info = [dict(info) for _ in self.models]
        self.timings["fit"] = time.perf_counter() - t0
        return self

    def _check_plan(self, plan: FitPlan) -> None:
        if plan.gradient:
            raise NotBatchable(f"stage(s) {plan.gradient} are too wide for closed-form statistics "
                               f"({param('width')}); probe the nets one at a time")
        need = self.stack.k * sum(closed_form_bytes(d) for d in self._one_net_decoders)
        if need > MAX_CLOSED_FORM_BYTES:
            raise NotBatchable(f"the closed-form statistics of {self.stack.k} nets would take {need / 2**30:.1f} GiB "
                               f"(budget {MAX_CLOSED_FORM_BYTES / 2**30:.0f} GiB); probe fewer together ({param('batch')})")

    @torch.no_grad()
    def _fit_pass(self, train: Any, plan: FitPlan) -> Tuple[List[RidgeStatistics], int]:
        """One pass over the training inputs (rows as :class:`~reprobe.probe.fitting.DecoderFitter`):
        (every decoder's statistics, stacked over the nets; inputs read)."""
        cfg, L = self.config, self.depth
        limit, targets = plan.input_limit, plan.row_targets
        min_rows = 1024 if all(p is None for p in plan.positions) else 0
        stats = [RidgeStatistics() for _ in range(L)]
        seen = 0
        bar = tqdm(total=inputs_to_read(train, limit), unit="img", disable=not cfg.progress, leave=False,
                   desc=f"fitting {L} decoders of {self.stack.k} nets")
        with bar:
            for x in rebatch(iter_inputs(train, cfg.batch_size, shuffle=False, seed=cfg.seed), min_rows):
                if limit is not None:
                    x = x[: limit - seen]
                self._accumulate(self._forward(x), targets, stats)
                seen += x.shape[0]
                bar.update(x.shape[0])
                if (limit is not None and seen >= limit) or all(t is not None and st.rows >= t
                                                                 for t, st in zip(targets, stats)):
                    break
        if seen == 0:
            raise ReprobeError("the training data is empty; give the probe at least one batch")
        return stats, seen

    def _accumulate(self, zs: List[torch.Tensor], targets: List[Optional[int]], stats: List[RidgeStatistics]) -> None:
        """Add one batch's rows to every decoder's statistics, for all K nets at once."""
        for z in zs:
            if not all_finite(z):
                raise NotBatchable("a net's activations are not finite on the training data (the one-at-a-time "
                                   f"probe leaves those rows out net by net); probe the {param('models')} one at a time")
        for i, (t, st) in enumerate(zip(targets, stats)):
            if t is not None and st.rows >= t:
                continue
            m = zs[i + 1].shape[1] if t is None else min(zs[i + 1].shape[1], t - st.rows)
            st.add(zs[i + 1][:, :m], zs[i][:, :m])

    def _solve(self, stats: List[RidgeStatistics], ranges: List[List[Tuple[float, float]]]) -> StackedDecoders:
        """Batched ridge solutions of every decoder, and each net's output bounds from its own target range."""
        weights, biases, bounds = [], [], []
        for i, st in enumerate(stats):
            w, b = ridge_solutions(st.gram, st.cross, self.config.ridge)
            weights.append(w.to(torch.float32).contiguous())  # nn.Linear's layout: the same kernel as one at a time
            biases.append(b.to(torch.float32)[:, None, :].contiguous())
            acts = [choose_out_activation(*r[i], self.config.decoder_activation) for r in ranges]
            bounds.append(_bounds(acts, self.device))
        return StackedDecoders(weights, biases, bounds)

    # -- evaluating --------------------------------------------------------------------------------
    def evaluate(self, test: Any) -> List[ProbeResult]:
        """Reconstruct ``config.samples`` held-out inputs from every stage of every net.

        Returns:
            One :class:`ProbeResult` per net, in order, as :meth:`CascadeProbe.evaluate` gives it;
            ``timings`` holds each net's share of the batched fit and evaluation, and ``batched``: K.
        """
        if self.decoders is None:
            raise ReprobeError("the probe has no decoders yet; call probe.fit(train_loader) first")
        cfg, K, L = self.config, self.stack.k, self.depth
        t0 = time.perf_counter()
        x = take(test, cfg.samples, cfg.batch_size)
        if x.shape[0] < 2:
            raise ReprobeError(f"evaluation needs at least 2 inputs, the test data has {x.shape[0]}")
        n = int(x.shape[0])
        rec = reconstruct_all(self.decoders, self._forward, x, shapes=[self.input_shape] + [s.shape for s in self.stages],
                              batch_size=cfg.batch_size, nets=K, progress=cfg.progress,
                              desc=f"reconstructing {n} inputs from {L} stages of {K} nets")
        rec.recon = rec.recon.view(K, L + 1, n, *x.shape[1:])
        results = [build_result(rec, k, config=cfg, stages=self.stages, input_shape=self.input_shape,
                                decoders=self._one_net_decoders, fit_info=self.fit_info[k],
                                model=model_record(self.models[k], self.adapter), notes=self.warnings) for k in range(K)]
        self.timings["evaluate"] = time.perf_counter() - t0
        for r in results:
            r.timings = {"fit": self.timings["fit"] / K, "evaluate": self.timings["evaluate"] / K, "batched": K}
        return results
