"""ProbeConfig is the one source of the probe's options: the CLI, sweeps and compare are made from it."""

import ast
import dataclasses
from pathlib import Path

import pytest

from reprobe.core.errors import ReprobeError
from reprobe.probe.config import (ProbeConfig, RunOptions, check_probe_options, coerce_option, probe_option_fields,
                                  recorded_options)

PACKAGE = Path(__file__).resolve().parents[2] / "reprobe"


def _cli_probe_option_names():
    """The destinations of every probe option the `run`, `sweep` and `compare` commands offer."""
    from reprobe.cli.compare import compare_cmd
    from reprobe.cli.run import run_cmd
    from reprobe.cli.sweep import sweep_cmd

    flags = {f.metadata["flag"] for f in probe_option_fields()}
    out = []
    for cmd in (run_cmd, sweep_cmd, compare_cmd):
        out.append({p.name for p in cmd.params if set(p.opts) & flags})
    return out


def test_cli_sweep_and_compare_see_the_same_probe_options():
    from reprobe.experiments.compare import PROBE_KEYS, SHARED_KEYS
    from reprobe.experiments.sweep import SWEEP_PROBE_DEFAULTS

    declared = {f.name for f in probe_option_fields()}
    assert "decoder_kernel" in declared and "metrics" in declared  # the options that had drifted
    for offered in _cli_probe_option_names():
        assert offered == declared
    assert set(SWEEP_PROBE_DEFAULTS) == declared
    assert PROBE_KEYS | SHARED_KEYS == declared


def test_defaults_come_from_the_declaration():
    from reprobe.cli.run import run_cmd
    from reprobe.experiments.sweep import SWEEP_PROBE_DEFAULTS

    by_name = {p.name: p for p in run_cmd.params}
    for f in probe_option_fields():
        assert SWEEP_PROBE_DEFAULTS[f.name] == f.default
        cli_default = by_name[f.name].default
        assert (tuple(cli_default) if isinstance(cli_default, (list, tuple)) else cli_default) == f.default


#: Code that gives a name of a probe option its default's value for another reason (file, line text).
NOT_THE_OPTION = [
    ("probe/held_out.py", "DataLoader(data, batch_size=64)"),  # a loader over an IterableDataset's inputs
    ("experiments/sweep.py", '"batch_size": 64'),  # the training batch of SWEEP_TRAIN_DEFAULTS
    ("probe/persistence.py", 'get("decoder_kernel", 3)'),  # decoder files saved before the option existed had k = 3
]


def _pairs(tree):
    """(name, constant value, line) of every ``name=value`` keyword, ``{"name": value}`` entry and
    ``.get("name", value)`` in a module's code (docstrings and messages are not code)."""
    const = lambda node: node.value if isinstance(node, ast.Constant) else None  # noqa: E731
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg and isinstance(node.value, ast.Constant):
            yield node.arg, node.value.value, node.lineno
        elif isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values):
                if k is not None and isinstance(const(k), str) and isinstance(v, ast.Constant):
                    yield k.value, v.value, k.lineno
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "get" and len(node.args) == 2
              and all(isinstance(a, ast.Constant) for a in node.args)):
            yield node.args[0].value, node.args[1].value, node.lineno


def test_each_option_default_is_written_once():
    """No second table of option defaults: ``eta=0.005``, ``{"eta": 0.005}`` or ``get("eta", 0.005)``
    appears nowhere in the package's code but in the declaration."""
    defaults = {f.name: f.default for f in dataclasses.fields(ProbeConfig)
                if f.name not in ("progress", "device", "seed")}  # seed=0, device="auto": other things' too
    hits = []
    for path in PACKAGE.rglob("*.py"):
        rel = str(path.relative_to(PACKAGE))
        if rel == "probe/config.py":
            continue
        text = path.read_text()
        lines = text.splitlines()
        for name, value, line in _pairs(ast.parse(text)):
            if name in defaults and value == defaults[name] and type(value) is type(defaults[name]) and not any(
                    rel == r and t in lines[line - 1] for r, t in NOT_THE_OPTION):
                hits.append(f"{rel}:{line} {name}={value!r}")
    assert not hits, f"option defaults written again: {hits}"


def test_compare_routes_every_probe_option_to_the_probe():
    from reprobe.experiments.compare import check_model_options, parse_model_spec, split_options

    spec = parse_model_spec("mlp:decoder_kernel=5,metrics=mse,depth=3")
    check_model_options(spec)
    model_kw, probe_kw = split_options({}, {}, spec.options)
    assert probe_kw == {"decoder_kernel": 5, "metrics": ("mse",)}
    assert model_kw == {"depth": 3}


@pytest.mark.parametrize("text,words", [
    ("mlp:depth=abc", ["depth='abc'", "whole number"]),
    ("mlp:sigma_w2=big", ["sigma_w2='big'", "finite number"]),
    ("mlp:samples=many", ["samples='many'", "whole number"]),
    ("mlp:depth=99999999999999999999", ["depth=99999999999999999999", "at most 2147483647"]),
    ("mlp:eta=-1", ["eta=-1", ">= 0"]),
    ("mlp:metrics=entropy", ["metrics='entropy'", "unknown metric"]),
])
def test_compare_refuses_wrong_typed_spec_values_naming_the_key(text, words):
    from reprobe.experiments.compare import check_model_options, parse_model_spec

    with pytest.raises(ReprobeError) as e:
        check_model_options(parse_model_spec(text))
    assert all(w in str(e.value) for w in words), str(e.value)


@pytest.mark.parametrize("options,words", [
    ({"metrics": ("mse", "mse")}, ["'mse' twice"]),
    ({"samples": 10**20}, ["samples", "at most 2147483647"]),
    ({"batch_size": 2.5}, ["batch_size", "whole number"]),
    ({"decoder_kernel": 4}, ["decoder_kernel must be odd"]),
    ({"train_samples": 0}, ["train_samples must be >= 1"]),
    ({"seed": 2**70}, ["seed must be at most"]),
])
def test_bad_probe_options_are_refused_before_work(options, words):
    with pytest.raises(ReprobeError) as e:
        check_probe_options(options)
    assert all(w in str(e.value) for w in words), str(e.value)


def test_one_metric_name_is_a_list_of_one():
    assert coerce_option("metrics", "mse") == ("mse",)
    c = ProbeConfig(metrics="mse")
    c.validate()
    assert c.metrics == ("mse",)


def test_options_added_later_are_recorded_only_when_set():
    """A sweep stores decoder_kernel, metrics and stages with its points only when they differ from the
    defaults, so that folders made before those options existed still resume."""
    defaults = {f.name: f.default for f in probe_option_fields()}
    kept = recorded_options(defaults)
    assert not {"decoder_kernel", "metrics", "stages"} & set(kept)
    assert {"eta", "ridge", "samples", "train_samples"} <= set(kept)
    assert recorded_options({**defaults, "decoder_kernel": 5})["decoder_kernel"] == 5


def test_run_options_are_typed():
    assert {f.name for f in dataclasses.fields(RunOptions)} == {"train_samples", "stages"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        RunOptions().train_samples = 3


def test_the_docstring_lists_every_field_with_its_default():
    for f in dataclasses.fields(ProbeConfig):
        assert f"{f.name} (default {f.default!r})" in ProbeConfig.__doc__
