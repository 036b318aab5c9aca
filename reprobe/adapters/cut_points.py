"""Cut points of a model's main path: the module outputs the rest of the forward reads from alone.

The cascade decodes each stage from the one before, so a stage must carry everything the rest of
the net computes from: no parallel branch may run around it. A squeeze-excitation ``fc`` (the block
multiplies its input by it), one of SqueezeNet's ``expand1x1``/``expand3x3``, one of ShuffleNet's
``branch1``/``branch2``, a layer inside a dense or residual block: none of them is a stage. The
block around them is, as a whole, when its output is a cut point.

The dataflow comes from ``torch.fx``: in the traced graph, keep the nodes that lie on a path from
the input to the output; in their topological order a node is a cut point exactly when no edge
jumps over it (any path that avoids it would need such an edge, and such an edge gives one).
Models that do not trace get None, and their adapter keeps its own choice (the dry run still
warns about skips it sees).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch.nn as nn

#: Layers of a net's feature extractor; the first Linear after the last of them starts the classifier head.
_FEATURE_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
#: Top-level modules that are a classifier head by the torchvision/timm naming convention (SqueezeNet's
#: head is a 1×1 convolution, so "the first Linear" does not find it).
HEAD_NAMES = ("classifier", "fc", "head", "heads")


class MainPath:
    """The cut points of a traced model: module name → position of its output in execution order.

    Attributes:
        head_start: position of the classifier head's first Linear (the first Linear after the last
            convolution), or None for nets without convolutions.
    """

    def __init__(self, outputs: Dict[str, int], cuts: set, head_start: Optional[int]):
        self.outputs = outputs
        self.cuts = cuts
        self.head_start = head_start

    def is_cut(self, module_name: str) -> bool:
        """The module's output is a cut point of the main path."""
        pos = self.outputs.get(module_name)
        return pos is not None and pos in self.cuts

    def enclosing_cut(self, module_name: str) -> Optional[str]:
        """The module itself if it is a cut point, else its nearest ancestor that is one (not the model)."""
        name = module_name
        while name:
            if self.is_cut(name):
                return name
            name = name.rsplit(".", 1)[0] if "." in name else ""
        return None


def trace_main_path(model: nn.Module) -> Optional[MainPath]:
    """The model's :class:`MainPath` from ``torch.fx``, or None when it does not trace."""
    import torch.fx as fx

    try:
        graph = fx.symbolic_trace(model).graph
    except Exception:  # data-dependent control flow, unsupported ops: no dataflow to read
        return None
    order = _nodes_on_the_path(list(graph.nodes))
    if not order:
        return None
    index = {n: i for i, n in enumerate(order)}
    outputs: Dict[str, int] = {}
    for i, n in enumerate(order):
        for path, _ in (n.meta.get("nn_module_stack") or {}).values():
            outputs[path] = i  # the last node in a module's scope is its output
    return MainPath(outputs, _cut_positions(order, index), _head_start(order, dict(model.named_modules())))


def _head_start(order: list, modules: Dict[str, nn.Module]) -> Optional[int]:
    kinds = [type(modules.get(n.target)) if n.op == "call_module" else None for n in order]
    convs = [i for i, k in enumerate(kinds) if k is not None and issubclass(k, _FEATURE_LAYERS)]
    if not convs:
        return None
    return next((i for i in range(convs[-1], len(order)) if kinds[i] is not None and issubclass(kinds[i], nn.Linear)),
                None)


def _nodes_on_the_path(nodes: list) -> list:
    """The nodes on some path from the first input to the output, in topological order."""
    inputs = [n for n in nodes if n.op == "placeholder"]
    outs = [n for n in nodes if n.op == "output"]
    if not inputs or not outs:
        return []
    reached = {inputs[0]}
    for n in nodes:
        if any(a in reached for a in n.all_input_nodes):
            reached.add(n)
    live = {outs[-1]}
    for n in reversed(nodes):
        if any(u in live for u in n.users):
            live.add(n)
    return [n for n in nodes if n in reached and n in live]


def _cut_positions(order: list, index: Dict[object, int]) -> set:
    """Positions no edge jumps over (a running count of the edges open across each position)."""
    opened = [0] * (len(order) + 1)
    for v in order:
        for u in v.all_input_nodes:
            if u in index and index[v] - index[u] > 1:
                opened[index[u] + 1] += 1
                opened[index[v]] -= 1
    cuts, open_now = set(), 0
    for i in range(len(order)):
        open_now += opened[i]
        if open_now == 0:
            cuts.add(i)
    return cuts


def on_main_path(model: nn.Module, candidates: Sequence[str]) -> Optional[List[str]]:
    """``candidates`` moved onto the main path: each becomes itself or its nearest enclosing module
    whose output is a cut point (dropped when there is none); classifier layers after the last
    convolution (the classifier head) are dropped; two names for the same output keep the first. None when the model
    does not trace (the caller keeps its candidates)."""
    path = trace_main_path(model)
    if path is None:
        return None
    chosen: List[str] = []
    taken = set()
    for name in candidates:
        stage = path.enclosing_cut(name)
        if stage is None:
            continue
        pos = path.outputs[stage]
        if (path.head_start is not None and pos >= path.head_start) or stage.split(".")[0] in HEAD_NAMES:
            continue
        if pos not in taken:
            taken.add(pos)
            chosen.append(stage)
    return sorted(chosen, key=lambda n: path.outputs[n])

