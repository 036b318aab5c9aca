"""Direct tests of reprobe.core.registry.Registry: names, help, priorities."""

import pytest

from reprobe.core.errors import ReprobeError
from reprobe.core.registry import Registry


def _reg():
    reg = Registry("metric")
    reg.register("mse", lambda: 1, help="mean squared error")

    @reg.register("relative_entropy")
    def rel():
        """Relative entropy of the reconstruction.

        More text that is not the help line.
        """
        return 2

    reg.register("differential_entropy", object(), help="")
    return reg


def test_register_get_names_help():
    reg = _reg()
    assert reg.names() == ["mse", "relative_entropy", "differential_entropy"]  # registration order
    assert list(reg) == reg.names()
    assert reg.get("mse")() == 1
    assert reg.get("relative_entropy")() == 2
    assert "mse" in reg and "nope" not in reg
    assert dict(reg.items())["mse"] is reg.get("mse")
    assert reg.help("mse") == "mean squared error"
    assert reg.help("relative_entropy") == "Relative entropy of the reconstruction."  # first docstring line
    assert reg.help("unknown") == ""


def test_decorator_returns_the_object():
    reg = Registry("model")

    def f():
        return 3

    assert reg.register("f")(f) is f
    assert reg.register("g", f) is f
    assert reg.get("f") is f and reg.get("g") is f


def test_duplicate_registration_overwrites_by_default():
    reg = _reg()
    reg.register("mse", "new", help="replaced")
    assert reg.get("mse") == "new"
    assert reg.help("mse") == "replaced"
    assert reg.names().count("mse") == 1
    assert reg.names()[0] == "mse"  # keeps its place


def test_duplicate_registration_can_be_refused():
    reg = _reg()
    old = reg.get("mse")
    with pytest.raises(ReprobeError, match=r"metric 'mse' is already registered"):
        reg.register("mse", "new", overwrite=False)
    with pytest.raises(ReprobeError, match="already registered"):
        reg.register("mse", overwrite=False)(lambda: 0)
    assert reg.get("mse") is old
    reg.register("fresh", "x", overwrite=False)
    assert reg.get("fresh") == "x"


def test_unknown_name_is_one_line_with_suggestion_and_valid_names():
    reg = _reg()
    with pytest.raises(ReprobeError) as info:
        reg.get("mes")
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("unknown metric 'mes'")
    assert "did you mean 'mse'?" in msg
    assert "Valid metrics: differential_entropy, mse, relative_entropy." in msg
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_unknown_name_without_a_close_match():
    reg = _reg()
    with pytest.raises(ReprobeError) as info:
        reg.get("zzzzzzzz")
    msg = str(info.value)
    assert "\n" not in msg
    assert "did you mean" not in msg
    assert "Valid metrics: differential_entropy, mse, relative_entropy." in msg


def test_plural_of_kind_ending_in_y():
    reg = Registry("family")
    reg.register("a", 1)
    with pytest.raises(ReprobeError, match=r"Valid families: a\."):
        reg.get("b")


def test_empty_registry():
    reg = Registry("dataset")
    assert reg.names() == [] and list(reg) == []
    with pytest.raises(ReprobeError, match="unknown dataset 'x'"):
        reg.get("x")


def test_by_priority_is_highest_first_ties_in_registration_order():
    reg = Registry("decoder")
    for name, prio in [("a", 0), ("b", 10), ("c", 0), ("d", -100), ("e", 10)]:
        reg.register(name, name.upper(), priority=prio)
    assert [n for n, _ in reg.by_priority()] == ["b", "e", "a", "c", "d"]
    assert [o for _, o in reg.by_priority()] == ["B", "E", "A", "C", "D"]
    assert reg.priority("d") == -100 and reg.priority("a") == 0
    assert reg.names() == ["a", "b", "c", "d", "e"]  # names() keeps registration order
    with pytest.raises(ReprobeError, match="unknown decoder 'x'"):
        reg.priority("x")


def test_reregistering_changes_the_priority():
    reg = Registry("adapter")
    reg.register("a", 1, priority=5)
    reg.register("b", 2, priority=1)
    reg.register("a", 3, priority=0)
    assert reg.by_priority() == [("b", 2), ("a", 3)]


def test_the_three_tried_registries_share_the_order():
    """Adapters, decoder kinds and model resolvers are all Registries walked by priority."""
    from reprobe.adapters import adapters, get_adapter, list_adapters
    from reprobe.models.registry import RESOLVERS, resolver_descriptions
    from reprobe.probe import get_decoder, list_decoders

    listed = [get_adapter(n) for n in list_adapters()]
    assert listed == adapters()  # the earlier name lists the same
    prios = [a.priority for a in listed]
    assert prios == sorted(prios, reverse=True) and prios[-1] == -100  # the generic fallback comes last
    names = list_decoders()
    assert names[0] == "reshape" and names[-1] == "flatten-linear"
    assert [get_decoder(n).priority for n in names] == sorted((get_decoder(n).priority for n in names), reverse=True)
    assert resolver_descriptions() == RESOLVERS.names()  # all priority 0: registration order
    assert resolver_descriptions()[0].startswith("any torchvision")


#: (package, kind): the package offers register_<kind>, get_<kind> and list_<kind>s.
VOCABULARY = [("reprobe.metrics", "metric"), ("reprobe.metrics", "cutoff"), ("reprobe.predictors", "predictor"),
              ("reprobe.adapters", "adapter"), ("reprobe.probe", "decoder")]


@pytest.mark.parametrize("package, kind", VOCABULARY)
def test_every_registry_speaks_one_vocabulary(package, kind):
    import importlib

    module = importlib.import_module(package)
    assert callable(getattr(module, f"register_{kind}"))
    get, names = getattr(module, f"get_{kind}"), getattr(module, f"list_{kind}s")()
    assert names and len(set(names)) == len(names)
    assert all(get(n) is not None for n in names)
    with pytest.raises(ReprobeError) as info:
        get("no-such-" + kind)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"unknown {kind}") and all(n in msg for n in names)


def test_unregister_removes_the_entry_and_refuses_unknown_names():
    reg = _reg()
    reg.register("extra", 4, priority=9)
    reg.unregister("extra")
    assert reg.names() == ["mse", "relative_entropy", "differential_entropy"] and "extra" not in reg
    assert [n for n, _ in reg.by_priority()] == reg.names()
    with pytest.raises(ReprobeError, match="unknown metric 'extra'"):
        reg.unregister("extra")


def test_decorator_registers_an_entry_made_from_the_function_with_its_help_line():
    reg = Registry("predictor")

    @reg.decorator("a", lambda fn, doc: (fn, doc), priority=3)
    def a():
        """First line.

        Not this one."""

    @reg.decorator("b", help="given")
    def b():
        """Ignored: help was given."""

    @reg.decorator("c", lambda fn, doc: ("entry", doc))
    def c():
        pass

    assert reg.get("a") == (a, "First line.") and reg.help("a") == "First line." and reg.priority("a") == 3
    assert reg.get("b") is b and reg.help("b") == "given"
    assert reg.help("c") == "" and reg.get("c") == ("entry", "")  # no docstring: no help, not the entry's


def test_listed_is_priority_order_and_registration_order_without_priorities():
    reg = _reg()
    assert reg.listed() == reg.names()
    reg.register("first", 0, priority=1)
    assert reg.listed() == ["first", "mse", "relative_entropy", "differential_entropy"]
