"""Running the probed model with hooks on its stages: choosing the stages, the forward that records
``[z⁰, z¹, …, z^L]``, the dry run's execution order and shapes, and finding skip connections.

The functions here run the model as they find it; :class:`~reprobe.probe.probe.CascadeProbe` runs
them inside :func:`~reprobe.probe.state.frozen`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from ..adapters import HOW_TO_NAME_STAGES, find_stages
from ..core.errors import ReprobeError, close_matches
from .checks import check_decodable, model_failure
from .hooks import Selector, StageHooks, default_selectors
from .inputs import embedded_input, finite_range
from .keyword_inputs import ModelInput, input_tensor
from .keyword_inputs import call_model as run_model
from .layouts import model_output_format, stage_layout, to_channel_first, tracing_last_layers
from .stages import StageInfo


def select_stage_names(model: nn.Module, stages: Any, adapter: Optional[str], adapter_options: dict) -> Tuple[str, List[str]]:
    """(how they were chosen, module names) of the stages: by adapter (``stages`` None), by module
    type(s), or by name (checked: each names a module, once)."""
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


def stage_selectors(model: nn.Module, output_selector: Union[None, Selector, Mapping[str, Selector]],
                    names: Sequence[str]) -> Dict[str, Selector]:
    """Stage name → selector: one for every stage, or a dict naming stages (checked); stages not
    given one get the default for their module (:func:`~reprobe.probe.hooks.default_selectors`)."""
    if isinstance(output_selector, Mapping):
        bad = [k for k in output_selector if k not in names]
        if bad:
            raise ReprobeError(f"output_selector names {bad} that are not stages ({', '.join(names)})")
        chosen = dict(output_selector)
    else:
        chosen = {} if output_selector is None else {n: output_selector for n in names}
    modules = dict(model.named_modules())
    return {**default_selectors({n: modules[n] for n in names}), **chosen}


def stage_hooks(model: nn.Module, names: Sequence[str], selectors: Mapping[str, Selector], multi_call: str) -> StageHooks:
    """Recording hooks on the stages ``names``, attached."""
    modules = dict(model.named_modules())
    return StageHooks({n: modules[n] for n in names}, selectors, multi_call).attach()


def stage_index(stages: Sequence[StageInfo], stage: Union[int, str]) -> int:
    """ℓ (1-based) for a stage index or module name."""
    if isinstance(stage, int):
        if not 1 <= stage <= len(stages):
            raise ReprobeError(f"stage index must be 1…{len(stages)}, got {stage}")
        return stage
    for s in stages:
        if s.name == stage:
            return s.index
    close = close_matches(stage, [s.name for s in stages])
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    raise ReprobeError(f"no stage named {stage!r}{hint} Stages: {', '.join(s.name for s in stages)}")


def call_model(model: nn.Module, x: ModelInput, input_shape: Optional[Tuple[int, ...]]) -> None:
    """Run the model; inputs it cannot take (wrong shape, dtype) are the caller's mistake, said in one line."""
    try:
        run_model(model, x)
    except (RuntimeError, ValueError, TypeError, IndexError) as e:
        if input_shape is not None and tuple(x.shape[1:]) == input_shape:
            raise  # the model took this shape before: not an input mistake
        raise model_failure(model, x, e) from None


def _did_not_run(missing: Sequence[str]) -> ReprobeError:
    return ReprobeError(f"stage(s) {', '.join(missing)} did not run in the forward pass; pick modules the forward "
                        f"actually calls ({HOW_TO_NAME_STAGES})")


@torch.no_grad()
def record_forward(model: nn.Module, hooks: StageHooks, x: ModelInput, stages: Sequence[StageInfo],
                   input_shape: Optional[Tuple[int, ...]]) -> List[torch.Tensor]:
    """[z⁰, z¹, …, z^L] for a batch on the model's device (stage outputs cloned by the hooks).

    z⁰ is ``x`` (the main tensor of keyword inputs), or for integer inputs (token ids) the input
    of the first stage; channel-last stage outputs come channel first (``StageInfo.layout``).
    """
    tokens = not x.is_floating_point()
    with hooks.recording(capture_input=tokens) as rec:
        call_model(model, x, input_shape)
    missing = [s.name for s in stages if s.name not in rec.outputs]
    if missing:
        raise _did_not_run(missing)
    return [embedded_input(rec.first_input, stages[0].name) if tokens else input_tensor(x)] + [
        to_channel_first(rec.outputs[s.name], s.layout) for s in stages]


@torch.no_grad()
def first_run(model: nn.Module, hooks: StageHooks, x: ModelInput, input_shape: Optional[Tuple[int, ...]]):
    """One forward of the dry run: (stage names in execution order, outputs by name, first stage's
    input, the feature sizes of the stages' last layers, for their layouts)."""
    with hooks.recording(capture_input=not x.is_floating_point()) as rec, \
            tracing_last_layers(model, dict(hooks.modules)) as last_layers:
        call_model(model, x, input_shape)
    return list(rec.order), dict(rec.outputs), rec.first_input, dict(last_layers.features)


def unrun_stages(stages: Sequence[StageInfo], order: Sequence[str], adapter: Optional[str]) -> List[str]:
    """Automatically chosen stages the forward never called (MultiheadAttention's ``out_proj`` is a
    module it never calls, for one), to drop; explicitly named ones are an error."""
    missing = [s.name for s in stages if s.name not in order]
    if missing and (adapter in ("by-name", "reprobe_stages") or len(missing) == len(stages)):
        raise _did_not_run(missing)
    return missing


@dataclass
class DryRun:
    """What :func:`dry_run` found: the stages that ran, in execution order with their shapes; z⁰'s
    shape; the (min, max) of z⁰ … z^L; and the warnings (stages dropped, skip connections)."""

    stages: List[StageInfo]
    input_shape: Tuple[int, ...]
    target_ranges: List[Tuple[float, float]]
    warnings: List[str]


def dry_run(model: nn.Module, hooks: StageHooks, stages: Sequence[StageInfo], x: ModelInput, *, adapter: Optional[str],
            input_shape: Optional[Tuple[int, ...]], session: Callable[[], ContextManager]) -> DryRun:
    """Run one batch ``x`` (on the model's device) to find the stages' execution order and shapes.

    Stages an adapter (or a module type) chose that the forward never calls are dropped from the
    stages and from ``hooks``, with a warning; a stage named explicitly that does not run is an
    error. A stage that reads an earlier stage than the one before it (a skip path) is warned
    about. Each forward runs inside ``session()`` (the probe's frozen model).
    """
    with session():
        order, outputs, stage_input, last_features = first_run(model, hooks, x, input_shape)
    notes = []
    missing = unrun_stages(stages, order, adapter)
    if missing:
        hooks.drop(missing)
        shown = ", ".join(missing[:4]) + (f", … ({len(missing)} in all)" if len(missing) > 4 else "")
        notes.append(f"dropped {len(missing)} stage(s) the forward pass never calls: {shown}")
    by_name = {s.name: s for s in stages if s.name not in missing}
    ran = [by_name[n] for n in order if n in by_name]
    for i, s in enumerate(ran):
        s.index = i + 1
    z0 = input_tensor(x) if x.is_floating_point() else embedded_input(stage_input, ran[0].name)
    check_decodable([(None, z0)] + [(s.name, outputs[s.name]) for s in ran])
    with session():
        skips = skip_warning(model, hooks, ran, x)
    if skips:
        notes.append(skips)
    shape = fill_shapes(ran, outputs, z0, last_features, model_output_format(model))
    return DryRun(ran, shape, [finite_range(z0)] + [finite_range(outputs[s.name]) for s in ran], notes)


def fill_shapes(stages: Sequence[StageInfo], outputs: Dict[str, torch.Tensor], z0: torch.Tensor,
                last_features: Mapping[str, Any], output_format: Any) -> Tuple[int, ...]:
    """Set each stage's layout, shape (channel first) and channels, reduction of feature maps from
    the dry run (``outputs`` become channel first too); z⁰'s shape."""
    input_shape = tuple(z0.shape[1:])
    in_h = input_shape[-2] if len(input_shape) == 3 else None
    for s in stages:
        out = outputs[s.name]
        if out.dim() < 2 or out.shape[0] != z0.shape[0]:
            raise ReprobeError(
                f"stage {s.name!r} output has shape {tuple(out.shape)}; stages must keep the batch dimension first"
            )
        s.layout = stage_layout(tuple(out.shape[1:]), last_features.get(s.name), output_format)
        outputs[s.name] = out = to_channel_first(out, s.layout)
        s.shape = tuple(out.shape[1:])
        if len(s.shape) == 3:
            s.channels = int(s.shape[0])
            s.reduction = float(in_h) / s.shape[1] if in_h else None
    return input_shape


def skip_warning(model: nn.Module, hooks: StageHooks, stages: Sequence[StageInfo], x: ModelInput) -> Optional[str]:
    """A warning when a stage reads more than the previous stage's output (UNet's skip-concat):
    the cascade decodes each stage from the one before, so a skip path goes unmeasured."""
    sample = x[:2].clone()
    leaf = input_tensor(sample)
    leaf = leaf.requires_grad_() if leaf.is_floating_point() else leaf
    try:
        with torch.enable_grad(), hooks.recording(trace=True, input_leaf=leaf) as rec:
            run_model(model, sample)
        sources = dict(rec.sources)
    except Exception:  # a model that cannot run with autograd on: nothing to say about skips
        return None
    skips = []
    for prev, s in zip(stages, stages[1:]):
        found = sources.get(s.name)
        if sources.get(prev.name) is None or not found:
            continue  # the path could not be followed here
        extra = sorted(found - {prev.name}, key=lambda n: -1 if n == "input" else stage_index(stages, n))
        if extra:
            skips.append(f"stage {s.index} ({s.name}) reads " + " and ".join(
                "the input" if n == "input" else f"stage {stage_index(stages, n)} ({n})" for n in extra))
    if not skips:
        return None
    return (f"skip connections: {'; '.join(skips[:3])}{' …' if len(skips) > 3 else ''}, not only the stage before "
            "it; the cascade decodes each stage from the previous one, so it measures what the main path keeps, "
            "not what the skip paths carry")
