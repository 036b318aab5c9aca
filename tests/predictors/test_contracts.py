"""The contract every registered predictor keeps, checked for each one the registry lists (a new
predictor module is covered without naming it here), and a predictor added as one new file."""

import json
import math
import sys

import pytest
import torch

import reprobe.predictors as predictors
from reprobe.models import build_model
from reprobe.predictors import DIRECTIONS, PREDICTORS, list_predictors, score


def _state(model):
    return ([m.training for m in model.modules()], [p.requires_grad for p in model.parameters()],
            [p.detach().clone() for p in model.parameters()], [b.detach().clone() for b in model.buffers()],
            [(len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks)) for m in model.modules()],
            [p.grad for p in model.parameters()])


def _assert_same(before, after):
    modes, flags, values, buffers, hooks, grads = before
    modes2, flags2, values2, buffers2, hooks2, grads2 = after
    assert modes == modes2 and flags == flags2 and hooks == hooks2
    assert all(torch.equal(a, b) for a, b in zip(values + buffers, values2 + buffers2))
    assert all(g is None for g in grads2)


def _model_and_data():
    m = build_model("mlp", (1, 8, 8), 10, depth=4, width=16, seed=0)
    m.train()
    m[1].weight.requires_grad_(False)  # a mixed set of flags
    m[3].eval()  # a module whose mode differs from its parent's
    gen = torch.Generator().manual_seed(0)
    return m, (torch.rand(96, 1, 8, 8, generator=gen), torch.randint(0, 10, (96,), generator=gen))


def _check_contract(name):
    model, data = _model_and_data()
    before = _state(model)
    result = score(model, data, name, restore_values=False)[name]  # values must be untouched without the snapshot
    _assert_same(before, _state(model))
    assert result.name == name and result.direction in DIRECTIONS and result.seconds >= 0
    record = json.loads(json.dumps(result.to_dict(), allow_nan=False))  # a JSON-safe record, read back whole
    assert record["name"] == name and set(record) == set(result.to_dict())
    assert result.score is None or math.isfinite(result.score)
    assert result.score is not None or result.reason, "a missing score says why"
    assert result.applicable or result.reason.startswith("not applicable")
    return result


@pytest.mark.parametrize("name", list_predictors())
def test_every_predictor_gives_the_model_back_and_a_json_safe_record(name):
    _check_contract(name)


PLUGIN = '''
"""A predictor kept in one file: the share of positive weights."""
from .registry import Batch, PredictorScore, register_predictor


@register_predictor("_tmp_positive_weights", needs=("weights",))
def positive_weights(model, batch: Batch) -> PredictorScore:
    """Share of positive weights (a test plug-in)."""
    weights = [p for p in model.parameters() if p.dim() > 1]
    return PredictorScore(score=float(sum((p > 0).sum() for p in weights) / sum(p.numel() for p in weights)))
'''


def test_a_new_predictor_is_one_new_file(tmp_path, monkeypatch):
    """A module dropped into the predictors' folder is listed and runs, with no other file naming it."""
    (tmp_path / "tmp_positive_weights.py").write_text(PLUGIN)
    monkeypatch.setattr(predictors, "__path__", [*predictors.__path__, str(tmp_path)])
    assert "_tmp_positive_weights" not in list_predictors()
    try:
        assert "_tmp_positive_weights" in predictors.load_predictors()
        result = _check_contract("_tmp_positive_weights")
        assert 0.3 < result.score < 0.7 and result.applicable  # about half of a fresh net's weights are positive
    finally:
        PREDICTORS.unregister("_tmp_positive_weights")
        sys.modules.pop("reprobe.predictors.tmp_positive_weights", None)
    assert "_tmp_positive_weights" not in list_predictors()


def test_helper_and_machinery_modules_are_not_imported_as_predictors(tmp_path, monkeypatch):
    (tmp_path / "_helper_for_tests.py").write_text("raise RuntimeError('a helper module was imported')\n")
    monkeypatch.setattr(predictors, "__path__", [*predictors.__path__, str(tmp_path)])
    assert predictors.load_predictors() == list_predictors()
    assert "reprobe.predictors._helper_for_tests" not in sys.modules
