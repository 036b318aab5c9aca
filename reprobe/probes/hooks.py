"""Forward hooks that capture stage outputs safely.

* Outputs are detached **clones**: a later in-place op (``ReLU(inplace=True)``) cannot change them.
* A stage called twice in one forward is an error naming it (or ``multi_call="first"|"last"``).
* Tuple/list/dict outputs need a selector; without one the error says how to give it.
* Hooks only record while :meth:`StageHooks.recording` is active and are removed by
  :meth:`StageHooks.remove` (idempotent).
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Union

import torch
import torch.nn as nn

from ..errors import ReprobeError

Selector = Union[int, str, Callable[[Any], torch.Tensor]]
MULTI_CALL_MODES = ("error", "first", "last")


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
        out = output
    if not isinstance(out, torch.Tensor):
        kind = type(out).__name__
        size = f" of {len(out)}" if isinstance(out, (tuple, list, Mapping)) else ""
        raise ReprobeError(
            f"stage {name!r} returns a {kind}{size}, not a tensor; pick one with "
            f"output_selector={{'{name}': 0}} (an index, a key, or a function)"
        )
    return out


class StageHooks:
    """Forward hooks on named modules that record each stage's (cloned) output.

    Args:
        modules: stage name → module, in stage order.
        selectors: stage name → selector for tuple/dict outputs (optional).
        multi_call: what to do when a stage module runs more than once per forward:
            ``"error"`` (default), ``"first"`` or ``"last"`` (keep that call's output).
    """

    def __init__(self, modules: Mapping[str, nn.Module], selectors: Optional[Mapping[str, Selector]] = None,
                 multi_call: str = "error"):
        if multi_call not in MULTI_CALL_MODES:
            raise ReprobeError(f"multi_call must be one of {', '.join(MULTI_CALL_MODES)}, got {multi_call!r}")
        self.modules = OrderedDict(modules)
        self.selectors = dict(selectors or {})
        self.multi_call = multi_call
        self._handles: list = []
        self._recording = False
        self.outputs: "OrderedDict[str, torch.Tensor]" = OrderedDict()
        self.calls: Dict[str, int] = {}
        self.order: list[str] = []  # first-call order of the last forward

    # -- lifecycle -------------------------------------------------------------------------------
    def attach(self) -> "StageHooks":
        if self._handles:
            return self
        for name, module in self.modules.items():
            self._handles.append(module.register_forward_hook(self._make_hook(name)))
        return self

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
    def recording(self) -> Iterator["StageHooks"]:
        """Record outputs of forwards run inside this block (buffers are reset at entry)."""
        self.reset()
        self._recording = True
        try:
            yield self
        finally:
            self._recording = False

    def reset(self) -> None:
        self.outputs = OrderedDict()
        self.calls = {}
        self.order = []

    # -- the hook --------------------------------------------------------------------------------
    def _make_hook(self, name: str):
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            if not self._recording:
                return
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

        return hook
