"""Forward hooks on a model's stages, in one of two modes.

``record`` (the probe's): outputs are kept as detached **clones**, so a later in-place op
(``ReLU(inplace=True)``) cannot change them.

* Hooks only record while :meth:`StageHooks.recording` is active and are removed by
  :meth:`StageHooks.remove` (idempotent).
* A stage called twice in one forward is an error naming it (or ``multi_call="first"|"last"``).
* Tuple/list/dict outputs need a selector; without one the error says how to give it.
* ``recording(capture_input=True)`` also keeps the input of the first stage that runs (the
  embedded sequence of a token model); ``recording(trace=True)`` finds which earlier stages each
  stage's output is computed from (skip connections), by following the autograd graph.

``cut`` (the predictors'; :meth:`StageHooks.cut`): each stage's output ``o`` is kept in
:attr:`~StageHooks.outputs` still attached to the graph from the previous cut, and replaced, for
the rest of the forward, by a copy of a fresh leaf ``o.detach().requires_grad_()`` kept in
:attr:`~StageHooks.leaves`. So ``outputs[k+1]`` is a function of ``leaves[k]`` alone (for a chain of
stages), and one backward pass gives every stage-to-stage vector-Jacobian product at once.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Sequence, Set, Type, Union

import torch
import torch.nn as nn

from ..core.errors import ReprobeError
from .keyword_inputs import hidden_state_of

Selector = Union[int, str, Callable[[Any], torch.Tensor]]
MULTI_CALL_MODES = ("error", "first", "last")
HOOK_MODES = ("record", "cut")


def select_output(name: str, output: Any, selector: Optional[Selector]) -> torch.Tensor:
    """Pick the tensor a stage produces from a module's raw output."""
    if selector is not None:
        if callable(selector):
            out = selector(output)
        elif isinstance(output, Mapping):
            out = output[selector]
        else:
            out = output[selector]
    else:
        out = hidden_state_of(output)
    if not isinstance(out, torch.Tensor):
        kind = type(out).__name__
        size = f" of {len(out)}" if isinstance(out, (tuple, list, Mapping)) else ""
        raise ReprobeError(
            f"stage {name!r} returns a {kind}{size}, not a tensor; pick one with "
            f"output_selector={{'{name}': 0}} (an index, a key, or a function)"
        )
    return out


def default_selectors(modules: Mapping[str, nn.Module]) -> Dict[str, Selector]:
    """Selectors for stages whose output is a tuple by design: a recurrent layer (``nn.LSTM``,
    ``nn.GRU``, ``nn.RNN``, ``nn.LSTMCell``) returns its output sequence (or hidden state) first,
    then its final state, and the output is what the next layer reads."""
    return {n: 0 for n, m in modules.items() if isinstance(m, (nn.RNNBase, nn.LSTMCell))}


class StageHooks:
    """Forward hooks on named modules that record each stage's output (see the module docstring).

    Args:
        modules: stage name → module, in stage order.
        selectors: stage name → selector for tuple/dict outputs (optional).
        multi_call: what to do when a stage module runs more than once per forward:
            ``"error"`` (default), ``"first"`` or ``"last"`` (keep that call's output).
        mode: ``"record"`` (cloned outputs) or ``"cut"`` (outputs on the graph, cut at each stage).
        error: the exception a ``cut`` raises for a stage it cannot cut (the predictors'
            ``NotApplicable``).
    """

    def __init__(self, modules: Mapping[str, nn.Module], selectors: Optional[Mapping[str, Selector]] = None,
                 multi_call: str = "error", mode: str = "record", error: Type[Exception] = ReprobeError):
        if multi_call not in MULTI_CALL_MODES:
            raise ReprobeError(f"multi_call must be one of {', '.join(MULTI_CALL_MODES)}, got {multi_call!r}")
        if mode not in HOOK_MODES:
            raise ReprobeError(f"mode must be one of {', '.join(HOOK_MODES)}, got {mode!r}")
        self.mode = mode
        self.error = error
        self.leaves: Dict[str, torch.Tensor] = {}
        self.modules = OrderedDict(modules)
        self.selectors = dict(selectors or {})
        self.multi_call = multi_call
        self._handles: list = []
        self._recording = False
        self._trace = False
        self.outputs: "OrderedDict[str, torch.Tensor]" = OrderedDict()
        self.calls: Dict[str, int] = {}
        self.order: list[str] = []  # first-call order of the last forward
        self.first_input: Optional[torch.Tensor] = None
        self.sources: Dict[str, Optional[Set[str]]] = {}
        self._capture_input = False
        self._tags: Dict[int, str] = {}
        self._tag_tensors: list = []

    @classmethod
    def cut(cls, model: nn.Module, names: Sequence[str], error: Type[Exception] = ReprobeError) -> "StageHooks":
        """Hooks in ``cut`` mode on the stages ``names`` of ``model``: ``with StageHooks.cut(model, names)
        as cut:`` attaches them, cuts every forward inside the block, and removes them at its end."""
        modules = dict(model.named_modules())
        return cls({n: modules[n] for n in names}, mode="cut", error=error)

    def __enter__(self) -> "StageHooks":
        self.attach()
        self.reset()
        self._recording = True
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    # -- lifecycle -------------------------------------------------------------------------------
    def attach(self) -> "StageHooks":
        if self._handles:
            return self
        for name, module in self.modules.items():
            self._handles.append(module.register_forward_pre_hook(self._pre_hook))
            self._handles.append(module.register_forward_hook(self._make_hook(name)))
        return self

    def drop(self, names: Sequence[str]) -> None:
        """Stop hooking the stages ``names``; the others stay as they are."""
        attached = self.attached
        self.remove()
        for n in names:
            self.modules.pop(n, None)
            self.selectors.pop(n, None)
        if attached:
            self.attach()

    def remove(self) -> None:
        """Remove every hook (safe to call more than once)."""
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._recording = False

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    @contextlib.contextmanager
    def recording(self, capture_input: bool = False, trace: bool = False,
                  input_leaf: Optional[torch.Tensor] = None) -> Iterator["StageHooks"]:
        """Record outputs of forwards run inside this block (buffers are reset at entry).

        Args:
            capture_input: also keep (a clone of) the first stage's input in :attr:`first_input`.
            trace: fill :attr:`sources` (stage name → names of the stages, or ``"input"``, that
                its output is computed from). Needs grad enabled; each stage output is replaced
                by an equal tensor that starts a new autograd graph, so only direct sources count.
            input_leaf: under ``trace``, the model input as a leaf that requires grad.
        """
        self.reset()
        self._recording = True
        self._capture_input = capture_input
        self._trace = trace
        if input_leaf is not None:
            self._tags[id(input_leaf)] = "input"
            self._tag_tensors = [input_leaf]
        try:
            yield self
        finally:
            self._recording = False
            self._trace = False
            self._tags = {}
            self._tag_tensors = []
            self.leaves = {}

    def reset(self) -> None:
        self.outputs = OrderedDict()
        self.leaves = {}
        self.calls = {}
        self.order = []
        self.first_input = None
        self.sources = {}
        self._tags = {}
        self._tag_tensors = []

    # -- the hooks -------------------------------------------------------------------------------
    def _pre_hook(self, module: nn.Module, inputs: Any) -> None:
        if self._recording and self._capture_input and self.first_input is None and inputs:
            first = inputs[0]
            if isinstance(first, torch.Tensor):
                self.first_input = first.detach().clone()

    def _cut_graph(self, name: str, output: torch.Tensor) -> torch.Tensor:
        """Keep a fresh graph leaf equal to ``output`` in :attr:`leaves`; return a copy of it for the
        rest of the forward."""
        leaf = output.detach().requires_grad_(output.is_floating_point())
        self.leaves[name] = leaf  # also keeps it alive, so a trace's id of it stays unique
        # A clone, not the leaf: later in-place ops (ReLU(inplace=True)) are not allowed on leaves.
        return leaf.clone()

    def _trace_output(self, name: str, output: Any) -> Any:
        """Note the sources of ``output``; return an equal tensor that starts a fresh graph."""
        if not isinstance(output, torch.Tensor):
            self.sources[name] = None  # cannot cut the graph here: the next stage is not judged
            return None
        self.sources[name] = {self._tags[i] for i in _graph_leaves(output) if i in self._tags}
        cut = self._cut_graph(name, output)
        self._tags[id(self.leaves[name])] = name
        return cut

    def _cut_output(self, name: str, output: Any) -> torch.Tensor:
        """``cut`` mode: keep ``output`` on its graph, continue the forward from a fresh leaf."""
        if name in self.outputs:
            raise self.error(f"stage {name!r} runs more than once in one forward (a shared module)")
        if not isinstance(output, torch.Tensor) or not output.is_floating_point():
            raise self.error(f"stage {name!r} does not return a float tensor")
        self.order.append(name)
        self.outputs[name] = output
        return self._cut_graph(name, output)

    def _make_hook(self, name: str):
        def hook(module: nn.Module, inputs: Any, output: Any) -> Any:
            if not self._recording:
                return
            if self.mode == "cut":
                return self._cut_output(name, output)
            n = self.calls.get(name, 0) + 1
            self.calls[name] = n
            if n > 1:
                if self.multi_call == "error":
                    raise ReprobeError(
                        f"stage {name!r} ({type(module).__name__}) ran {n} times in one forward (a shared "
                        "module); choose another module as the stage, or pass multi_call='first'|'last'"
                    )
                if self.multi_call == "first":
                    return
            else:
                self.order.append(name)
            out = select_output(name, output, self.selectors.get(name))
            # Clone: the next module may modify this tensor in place (ReLU(inplace=True)).
            self.outputs[name] = out.detach().clone()
            if self._trace and n == 1:
                return self._trace_output(name, output)
            return None

        return hook


def _graph_leaves(t: torch.Tensor) -> Set[int]:
    """ids of the leaf tensors that require grad which ``t`` is computed from."""
    if t.grad_fn is None:
        return {id(t)} if t.requires_grad else set()
    found: Set[int] = set()
    seen: Set[Any] = set()
    todo = [t.grad_fn]
    while todo:
        node = todo.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)
        if variable is not None:
            found.add(id(variable))
        todo.extend(nxt for nxt, _ in node.next_functions)
    return found
