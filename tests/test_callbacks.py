"""Learning-rate schedules are keyed to the fit call's epochs, not optimizer steps."""

import pytest

from autoann.search._callbacks import ONE_CYCLE_END_DIV, ONE_CYCLE_START_DIV, one_cycle_rate

pytestmark = pytest.mark.train


def test_one_cycle_shape():
    peak = 0.01
    rates = [one_cycle_rate(i / 100, peak) for i in range(101)]
    top = max(range(101), key=lambda i: rates[i])
    assert rates[top] == pytest.approx(peak)
    assert rates[0] == pytest.approx(peak / ONE_CYCLE_START_DIV)
    assert all(a <= b for a, b in zip(rates[:top], rates[1 : top + 1]))  # rises
    assert all(a >= b for a, b in zip(rates[top:], rates[top + 1 :]))  # then falls
    assert rates[-1] == pytest.approx(peak / ONE_CYCLE_END_DIV)  # orders of magnitude lower (G-LR-3)
