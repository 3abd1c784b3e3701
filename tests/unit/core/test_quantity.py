from fractions import Fraction

import pytest

from hyperpod_deps.core.quantity import parse_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [("2Ti", 2 * 2**40), ("2048Gi", 2 * 2**40), ("500m", Fraction(1, 2)), ("1.5G", 1_500_000_000),
     ("32", 32), ("1e3", 1000)],
)
def test_parse(text: str, value: Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "Gi", "2 Gi", "2GB", "abc"])
def test_reject(text: str) -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity(text)
