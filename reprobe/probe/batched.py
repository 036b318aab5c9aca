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
from .probe import CascadeProbe, _dataset_len, _finite_range, _first_input, _iter_inputs, _rebatch, _take
from .result import ProbeResult
from .scale import StageScale
from .ridge import ridge_solutions


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


def _all_finite(z: torch.Tensor) -> bool:
    """Are all values finite? (The sum is, unless a value is not or the sum overflows: only then
    are the values checked one by one.)"""
    return math.isfinite(float(z.sum())) or bool(torch.isfinite(z).all())


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
        **config: :class:`~reprobe.probe.probe.ProbeConfig` fields, as for ``CascadeProbe``
            (``fit`` must be ``ridge``).

    Raises:
        NotBatchable: models or options the batched path does not take (probe one at a time).

    Attributes:
        template: a :class:`CascadeProbe` on the first net: its stages, config, checks and result
            code serve every net (closed with this probe).
        fit_info: per net, the ``fit`` record of its result.
    """

    def __init__(self, models: Sequence[nn.Module], **config: Any):
        models = list(models)
        check_batchable(models)  # before the template's hooks are on the first net
        self.template = CascadeProbe(models[0], **config)
        self.config = self.template.config
        if self.config.fit != "ridge":
            self.close()
            raise NotBatchable(f"only closed-form decoders are fitted together: {param('fit', 'ridge')}, "
                               f"got {self.config.fit!r}; probe the nets one at a time")
        self.models = models
        self.device = self.template.device
        self.stack = StackedMLP(models, self.device, checked=True)
        self.decoders: Optional[StackedDecoders] = None
        self.fit_info: List[Dict[str, Any]] = []
        self.timings: Dict[str, float] = {}

    def close(self) -> None:
        """Remove the template's hooks (safe to call twice)."""
        self.template.close()

    def __enter__(self) -> "BatchedMLPProbe":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def depth(self) -> int:
        return len(self.stack.weights)

    # -- fitting -----------------------------------------------------------------------------------
    def fit(self, train: Any) -> "BatchedMLPProbe":
        """Fit every net's decoders from one pass over ``train`` (as :meth:`CascadeProbe.fit`).

        Returns:
            self, so that ``probe.fit(a).evaluate(b)`` chains.
        """
        cfg, tpl = self.config, self.template
        t0 = time.perf_counter()
        first = _first_input(train, cfg.batch_size)
        x8 = first[: min(len(first), 8)]
        tpl.dry_run(x8)  # stages and shapes (one shape for all), warnings
        if len(tpl.stages) != self.depth:
            raise NotBatchable(f"the stages found in {param('models')} are not their Linear layers; probe them one at a time")
        ranges = self._target_ranges(x8)
        tpl._build_decoders()  # the decoders' sizes plan the fit; their seeding as one at a time
        plan = plan_fit(tpl.decoders, cfg.fit, cfg.ridge_samples, cfg.max_fit_samples, _dataset_len(train))
        self._check_plan(plan)
        grams, crosses, rows, inputs, seen = self._fit_pass(train, plan)
        self.decoders = self._solve(grams, crosses, ranges)
        names = [s.name for s in tpl.stages]
        info = {"fit_samples": seen, "closed_form_samples": max(inputs),
                "closed_form_rows": {names[i]: rows[i] for i in range(self.depth)},
                "closed_form_over_memory_budget": [], "closed_form_stages": self.depth, "gradient_stages": 0,
                "skipped_nonfinite": {}, "train_loss": [None] * self.depth}
        self.fit_info = [dict(info) for _ in self.models]
        self.timings["fit"] = time.perf_counter() - t0
        return self

    @torch.no_grad()
    def _target_ranges(self, x: torch.Tensor) -> List[List[Tuple[float, float]]]:
        """Per net: the (min, max) of z⁰ … z^L on the dry run's inputs (they choose the decoders' bounds)."""
        zs = self.stack(x.to(self.device))
        return [[_finite_range(zs[0])] + [_finite_range(z[k]) for z in zs[1:]] for k in range(self.stack.k)]

    def _check_plan(self, plan: FitPlan) -> None:
        if plan.gradient:
            raise NotBatchable(f"stage(s) {plan.gradient} are too wide for closed-form statistics "
                               f"({param('width')}); probe the nets one at a time")
        need = self.stack.k * sum(closed_form_bytes(d) for d in self.template.decoders)
        if need > MAX_CLOSED_FORM_BYTES:
            raise NotBatchable(f"the closed-form statistics of {self.stack.k} nets would take {need / 2**30:.1f} GiB "
                               f"(budget {MAX_CLOSED_FORM_BYTES / 2**30:.0f} GiB); probe fewer together ({param('batch')})")

    @torch.no_grad()
    def _fit_pass(self, train: Any, plan: FitPlan):
        """One pass over the training inputs (rows as :class:`~reprobe.probe.fitting.DecoderFitter`):
        (grams, crosses, rows, inputs per decoder, inputs read)."""
        cfg, L = self.config, self.depth
        limit, targets = plan.input_limit, plan.row_targets
        min_rows = 1024 if all(p is None for p in plan.positions) else 0
        grams: List[Optional[torch.Tensor]] = [None] * L
        crosses: List[Optional[torch.Tensor]] = [None] * L
        rows, inputs, seen = [0] * L, [0] * L, 0
        total = _dataset_len(train)
        total = limit if total is None else (total if limit is None else min(total, limit))
        bar = tqdm(total=total, unit="img", disable=not cfg.progress, leave=False,
                   desc=f"fitting {L} decoders of {self.stack.k} nets")
        with bar:
            for x in _rebatch(_iter_inputs(train, cfg.batch_size, shuffle=False, seed=cfg.seed), min_rows):
                if limit is not None:
                    x = x[: limit - seen]
                zs = self.stack(x.to(self.device))
                self._accumulate(zs, targets, grams, crosses, rows, inputs)
                seen += x.shape[0]
                bar.update(x.shape[0])
                if (limit is not None and seen >= limit) or all(t is not None and r >= t for t, r in zip(targets, rows)):
                    break
        if seen == 0:
            raise ReprobeError("the training data is empty; give the probe at least one batch")
        return grams, crosses, rows, inputs, seen

    def _accumulate(self, zs: List[torch.Tensor], targets: List[Optional[int]], grams: List[Optional[torch.Tensor]],
                    crosses: List[Optional[torch.Tensor]], rows: List[int], inputs: List[int]) -> None:
        """Add one batch's rows to every decoder's ``[A, 1]ᵀ[A, 1]`` and ``[A, 1]ᵀY``, for all K nets at once."""
        for z in zs:
            if not _all_finite(z):
                raise NotBatchable("a net's activations are not finite on the training data (the one-at-a-time "
                                   f"probe leaves those rows out net by net); probe the {param('models')} one at a time")
        k = self.stack.k
        for i, t in enumerate(targets):
            if t is not None and rows[i] >= t:
                continue
            inp, tgt = zs[i + 1], zs[i]
            m = inp.shape[1] if t is None else min(inp.shape[1], t - rows[i])
            inp = inp[:, :m]
            tgt = tgt[:m].reshape(1, m, -1).expand(k, -1, -1) if i == 0 else tgt[:, :m]
            a = torch.cat([inp, torch.ones(k, m, 1, device=inp.device, dtype=inp.dtype)], 2)
            at = a.transpose(1, 2)
            g, c = at @ a, at @ tgt.to(a.dtype)
            if grams[i] is None:
                grams[i], crosses[i] = g, c
            else:
                grams[i] += g
                crosses[i] += c
            rows[i] += m
            inputs[i] += m

    def _solve(self, grams: List[torch.Tensor], crosses: List[torch.Tensor],
               ranges: List[List[Tuple[float, float]]]) -> StackedDecoders:
        """Batched ridge solutions of every decoder, and each net's output bounds from its own target range."""
        weights, biases, bounds = [], [], []
        for i, (g, c) in enumerate(zip(grams, crosses)):
            w, b = ridge_solutions(g, c, self.config.ridge)
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
        cfg, tpl = self.config, self.template
        t0 = time.perf_counter()
        x = _take(test, cfg.samples, cfg.batch_size)
        if x.shape[0] < 2:
            raise ReprobeError(f"evaluation needs at least 2 inputs, the test data has {x.shape[0]}")
        recon, bad_acts, sq_err, counts, scales = self._reconstruct_all(x)
        results = []
        for k in range(self.stack.k):
            r = tpl._result(recon[k], bad_acts[k], sq_err[k], counts, self.fit_info[k], scales[k].values())
            r.reconstructions = r.reconstructions.clone()  # not a view that keeps all K nets' reconstructions
            results.append(r)
        self.timings["evaluate"] = time.perf_counter() - t0
        k = self.stack.k
        for r in results:
            r.timings = {"fit": self.timings["fit"] / k, "evaluate": self.timings["evaluate"] / k, "batched": k}
        return results

    @torch.no_grad()
    def _reconstruct_all(self, x: torch.Tensor):
        """As :meth:`CascadeProbe._reconstruct_all`, per net: (recon (K, L+1, N, *input), bad, sq_err, counts,
        a :class:`~reprobe.probe.scale.StageScale` per net)."""
        cfg, K, L = self.config, self.stack.k, self.depth
        n = int(x.shape[0])
        chunk = self.template._eval_chunk(n)
        recon: Optional[torch.Tensor] = None
        bad_acts = [[0] * L for _ in range(K)]
        sq_err = [[0.0] * L for _ in range(K)]
        counts = [0] * L
        scales = [StageScale(L) for _ in range(K)]
        bar = tqdm(total=L * math.ceil(n / chunk), unit="stage", disable=not cfg.progress, leave=False,
                   desc=f"reconstructing {n} inputs from {L} stages of {K} nets")
        with bar:
            for i in range(0, n, chunk):
                zs = self.stack(x[i:i + chunk].to(self.device))
                part = self._cascade_all(zs, sq_err, bar)
                if recon is None:
                    recon = torch.empty((K, L + 1, n, part.shape[-1]), dtype=torch.float32)
                recon[:, :, i:i + chunk] = part.cpu()
                del part
                for l in range(1, L + 1):
                    if not _all_finite(zs[l]):
                        for k, v in enumerate((~torch.isfinite(zs[l])).flatten(1).sum(1).tolist()):
                            bad_acts[k][l - 1] += int(v)
                    counts[l - 1] += zs[l - 1].numel() if l == 1 else zs[l - 1][0].numel()
                    for k, scale in enumerate(scales):
                        scale.add(l - 1, zs[l][k])
                del zs
        assert recon is not None
        return recon.view(K, L + 1, n, *x.shape[1:]), bad_acts, sq_err, counts, scales

    def _cascade_all(self, zs: List[torch.Tensor], sq_err: List[List[float]], bar: Any,
                     budget: int = 32_000_000) -> torch.Tensor:
        """As :meth:`CascadeProbe._cascade_all` (same chunks of sources), for all K nets per decoder call:
        (K, L+1, N, input features) float32; adds each decoder's one-step squared error to ``sq_err``."""
        K, L, n = self.stack.k, self.depth, zs[0].shape[0]
        z0 = zs[0].reshape(n, -1)
        out = torch.empty((K, L + 1, n, z0.shape[1]), dtype=torch.float32, device=self.device)
        out[:, 0] = z0
        chunk = max(1, budget // max(1, n * max(z0.shape[1], *(z.shape[-1] for z in zs[1:]))))
        for start in range(L, 0, -chunk):
            sources = list(range(start, max(0, start - chunk), -1))  # descending ℓ
            low = sources[-1]
            current = {}
            for l in sources:
                h = self.decoders(l, zs[l])
                target = z0 if l == 1 else zs[l - 1]
                err = ((h.double() - target.double()) ** 2).sum(dim=(1, 2)).tolist()
                for k in range(K):
                    sq_err[k][l - 1] += err[k]
                for j in range(l - 1, low - 1, -1):
                    h = self.decoders(j, h)
                current[l] = h
            h = torch.cat([current.pop(l) for l in sources], dim=1)
            for j in range(low - 1, 0, -1):
                h = self.decoders(j, h)
            for j, l in enumerate(sources):
                out[:, l] = h[:, j * n:(j + 1) * n].to(torch.float32)
            bar.update(len(sources))
        return out
