"""Inputs a model takes as keywords: Hugging Face dict batches (``input_ids``, ``attention_mask``).

A dict batch (or a dict ``example_input``) becomes a :class:`KeywordBatch`: its tensors, of which
one — ``input_ids``, ``pixel_values`` … (:data:`MAIN_KEYS`) — is *the* input, whose rows are the
batch and whose values are z⁰ for float inputs. Everything else that is a tensor with the same
number of rows (``attention_mask``, ``token_type_ids``, ``position_ids`` …) goes to the model with
it, as keywords; labels (:data:`LABEL_KEYS`) and non-tensors (raw text) are left out.

An ``(ids, mask)`` pair whose second element has the ids' shape and only 0/1 values is an
attention mask when the model's ``forward`` takes ``attention_mask``; for any other model it stays
what it was before: a label, which the probe does not use.

Stage modules that return a Hugging Face ``ModelOutput`` (a whole sub-model as a stage) give their
``last_hidden_state`` (else ``hidden_states``): :func:`hidden_state_of`.
"""

from __future__ import annotations

import inspect
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import torch
import torch.nn as nn

from ..core.errors import ReprobeError

#: Keys of the model input proper, by preference: its rows are the batch, its values z⁰ when float.
MAIN_KEYS = ("input_ids", "pixel_values", "inputs_embeds", "input_values", "input_features", "x", "inputs", "input")
#: Keys of targets in dict batches: never passed to the model (an HF model would compute a loss).
LABEL_KEYS = ("labels", "label", "targets", "target", "y", "start_positions", "end_positions",
              "next_sentence_label", "mc_labels")
MASK_KEY = "attention_mask"


class KeywordBatch:
    """A batch the model takes as keywords: ``model(**tensors)``, or ``model(main, **rest)``.

    Supports what the probe does with a batch tensor: ``len``, ``shape``, slicing rows, ``to``,
    ``clone``, ``is_floating_point``; :func:`concat` joins batches.

    Args:
        tensors: name → tensor, each with the batch's rows first.
        main: the key of the model input proper (in ``tensors``).
        positional: pass ``tensors[main]`` positionally (a tuple batch's ids), the rest as keywords.
    """

    def __init__(self, tensors: Mapping[str, torch.Tensor], main: str, positional: bool = False):
        self.tensors, self.main, self.positional = dict(tensors), main, positional

    @property
    def input(self) -> torch.Tensor:
        return self.tensors[self.main]

    @property
    def shape(self) -> torch.Size:
        return self.input.shape

    @property
    def dtype(self) -> torch.dtype:
        return self.input.dtype

    def __len__(self) -> int:
        return int(self.input.shape[0])

    def is_floating_point(self) -> bool:
        return self.input.is_floating_point()

    def _map(self, fn) -> "KeywordBatch":
        return KeywordBatch({k: fn(v) for k, v in self.tensors.items()}, self.main, self.positional)

    def __getitem__(self, rows) -> "KeywordBatch":
        return self._map(lambda t: t[rows])

    def to(self, device) -> "KeywordBatch":
        return self._map(lambda t: t.to(device))

    def clone(self) -> "KeywordBatch":
        return self._map(torch.clone)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={tuple(v.shape)}" for k, v in self.tensors.items())
        return f"KeywordBatch({shapes})"


ModelInput = Union[torch.Tensor, KeywordBatch]


def keyword_batch(batch: Mapping[str, Any]) -> KeywordBatch:
    """The :class:`KeywordBatch` of a dict batch (labels and non-tensors left out)."""
    tensors = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor) and k not in LABEL_KEYS}
    main = next((k for k in MAIN_KEYS if k in tensors), next(iter(tensors), None))
    if main is None:
        raise ReprobeError(f"a dict batch needs a tensor the model takes ({', '.join(MAIN_KEYS[:3])} …); "
                           f"this one has keys {', '.join(map(str, batch)) or 'none'}")
    rows = tensors[main].shape[0] if tensors[main].dim() else None
    odd = [k for k, v in tensors.items() if v.dim() == 0 or v.shape[0] != rows]
    if odd:
        raise ReprobeError(f"dict batch entries {', '.join(odd)} do not have the {rows} rows of {main!r}; "
                           "every tensor the model takes must have the batch first")
    return KeywordBatch(tensors, main)


def _looks_like_mask(ids: torch.Tensor, other: Any) -> bool:
    return (isinstance(other, torch.Tensor) and not ids.is_floating_point() and other.shape == ids.shape
            and not other.is_floating_point() and bool(((other == 0) | (other == 1)).all()))


def pair_with_mask(batch: Sequence[Any]) -> Optional[KeywordBatch]:
    """An ``(ids, mask, …)`` tuple as a :class:`KeywordBatch` (ids positional), or None when its
    second element cannot be an attention mask (see the module docstring)."""
    if len(batch) < 2 or not isinstance(batch[0], torch.Tensor) or not _looks_like_mask(batch[0], batch[1]):
        return None
    return KeywordBatch({"input": batch[0], MASK_KEY: batch[1]}, "input", positional=True)


def whole_batch(data: Any) -> Any:
    """Data given as one batch — a dict of tensors, or an ``(ids, mask)`` pair — as a
    :class:`KeywordBatch` to be cut into batches; any other data as it is."""
    if isinstance(data, Mapping):
        return keyword_batch(data)
    if isinstance(data, tuple):
        return pair_with_mask(data) or data
    return data


def _accepts(model: nn.Module, key: str) -> bool:
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return True
    return key in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def call_model(model: nn.Module, x: ModelInput) -> Any:
    """Run ``model`` on a tensor, or on a :class:`KeywordBatch` as keywords. A mask taken from a
    tuple goes along only when the model's ``forward`` takes ``attention_mask``."""
    if not isinstance(x, KeywordBatch):
        return model(x)
    rest = {k: v for k, v in x.tensors.items() if k != x.main}
    if x.positional:
        return model(x.input, **{k: v for k, v in rest.items() if _accepts(model, k)})
    return model(**x.tensors)


def input_tensor(x: ModelInput) -> torch.Tensor:
    """The model input proper: the tensor itself, or a keyword batch's main tensor."""
    return x.input if isinstance(x, KeywordBatch) else x


def concat(parts: Sequence[ModelInput]) -> ModelInput:
    """Rows of several batches as one (tensors, or keyword batches with the same keys)."""
    if not isinstance(parts[0], KeywordBatch):
        return torch.cat(list(parts))
    first = parts[0]
    if any(not isinstance(p, KeywordBatch) or set(p.tensors) != set(first.tensors) for p in parts):
        raise ReprobeError(f"dict batches must all have the same keys; the first has {', '.join(first.tensors)}")
    return KeywordBatch({k: torch.cat([p.tensors[k] for p in parts]) for k in first.tensors}, first.main,
                        first.positional)


def hidden_state_of(output: Any) -> Any:
    """A Hugging Face ``ModelOutput``'s ``last_hidden_state`` (else its ``hidden_states``, the last
    one if there are several); any other output as it is."""
    if not isinstance(output, Mapping) or isinstance(output, dict) and type(output) is dict:
        return output
    for key in ("last_hidden_state", "hidden_states"):
        value = output.get(key)
        if isinstance(value, (tuple, list)) and value and isinstance(value[-1], torch.Tensor):
            value = value[-1]
        if isinstance(value, torch.Tensor):
            return value
    return output
