"""The one number formatter behind tables, reports and sentences."""

import math
import random

import pytest

from reprobe.core.format import MINUS, MISSING, format_number


def test_significant_digits_round_trip_within_half_a_unit():
    rng = random.Random(0)
    for _ in range(500):
        x = rng.uniform(-1, 1) * 10 ** rng.randint(-6, 8)
        for digits in (3, 4, 6):
            back = float(format_number(x, digits))
            assert abs(back - x) <= 0.5 * 10 ** (math.floor(math.log10(abs(x))) - digits + 1) * (1 + 1e-9)


def test_fixed_decimals_round_trip():
    rng = random.Random(1)
    for _ in range(200):
        x = rng.uniform(-50, 50)
        s = format_number(x, 3, fixed=True)
        assert len(s.split(".")[1]) == 3 and abs(float(s) - x) <= 0.0005 + 1e-12


@pytest.mark.parametrize("v", [None, float("nan"), float("inf"), -float("inf")])
def test_missing_numbers_read_as_asked(v):
    assert format_number(v) == MISSING
    assert format_number(v, missing="n/a") == "n/a"


def test_infinities_can_be_written():
    assert format_number(float("inf"), 3, fixed=True, inf=True) == "inf"
    assert format_number(-float("inf"), inf=True) == "-inf"
    assert format_number(float("nan"), inf=True, missing="nan") == "nan"  # nan is still missing


def test_typographic_minus_and_exponents():
    assert format_number(-0.000012345, 3, minus=MINUS) == f"{MINUS}1.23e{MINUS}05"
    assert format_number(-2.5, 1, fixed=True, minus=MINUS) == f"{MINUS}2.5"
    assert format_number(-2.5) == "-2.5"


def test_callers_keep_their_spellings():
    from reprobe.analysis.ranking import _num
    from reprobe.cli.run import _fmt as run_fmt
    from reprobe.cli.theory import _fmt as theory_fmt
    from reprobe.report.page import fmt

    assert fmt(-1234.5678) == f"{MINUS}1235" and fmt(float("nan")) == MISSING and fmt(12345) == "12\u202f345"
    assert run_fmt(None) == run_fmt(float("inf")) == "nan" and run_fmt(0.123456) == "0.1235"
    assert theory_fmt(float("inf"), 3) == "inf" and theory_fmt(1.76123, 4) == "1.7612"
    assert _num(-12.34) == f"{MINUS}12.3" and _num(0.012345) == "0.0123"
