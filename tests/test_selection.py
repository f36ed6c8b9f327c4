"""The paired bootstrap that decides whether Hyperband's best trial replaces the default network."""

import numpy as np
import pytest

from autoann.search._selection import RESAMPLES, compare

RNG = np.random.default_rng(0)
Y_BIN = RNG.integers(0, 2, 60)
P_BIN = np.where(Y_BIN == 1, 0.8, 0.2)[:, None]  # every row right
ONE_ROW_WORSE = P_BIN.copy()
ONE_ROW_WORSE[0] = 1 - ONE_ROW_WORSE[0]
Y_REG = RNG.normal(size=66)
NOISY = Y_REG + RNG.normal(size=66)


@pytest.mark.parametrize("metric, task, y, incumbent, challenger, confidence, kept", [
    # identical networks: every resample ties, half a win each, never enough
    ("accuracy", "binary", Y_BIN, P_BIN, P_BIN, 0.9, False),
    # one row of 60 better: a resample holds that row ~63% of the time, the rest tie
    ("accuracy", "binary", Y_BIN, ONE_ROW_WORSE, P_BIN, 0.9, False),
    ("accuracy", "binary", Y_BIN, ONE_ROW_WORSE, P_BIN, 0.8, True),
    # far better on every row: wins every resample, in either direction of metric
    ("r2", "regression", Y_REG, NOISY, Y_REG + 0.01, 0.9, True),
    ("rmse", "regression", Y_REG, NOISY, Y_REG + 0.01, 0.9, True),
    ("mae", "regression", Y_REG, Y_REG + 0.01, NOISY, 0.9, False),
    # roc_auc: a resample without one class scores NaN and is left out, not counted as a loss
    ("roc_auc", "binary", Y_BIN[:6], ONE_ROW_WORSE[:6], P_BIN[:6], 0.9, False),
])
def test_a_challenger_is_kept_only_when_it_wins_enough_resamples(metric, task, y, incumbent, challenger,
                                                                 confidence, kept):
    result = compare(metric, task, y, incumbent, challenger, confidence=confidence)
    assert result.challenger_kept is kept
    assert 0.0 <= result.share <= 1.0 and result.rows == len(y)


def test_the_shares_follow_the_evidence():
    same = compare("accuracy", "binary", Y_BIN, P_BIN, P_BIN, confidence=0.9)
    one_row = compare("accuracy", "binary", Y_BIN, ONE_ROW_WORSE, P_BIN, confidence=0.9)
    assert same.share == 0.5
    assert 0.7 < one_row.share < 0.9  # 1 - (1 - 1/60)^60 = 0.63 wins, the rest ties at one half
    assert (one_row.incumbent, one_row.challenger) == (59 / 60, 1.0)
    assert compare("r2", "regression", Y_REG, NOISY, Y_REG, confidence=0.9).share == 1.0


def test_the_same_seed_gives_the_same_share_and_weights_count():
    challenger = Y_REG + 0.8 * RNG.normal(size=66)
    first, again = (compare("r2", "regression", Y_REG, NOISY, challenger, confidence=0.9, seed=3) for _ in "ab")
    assert first == again
    # a weight of zero on the one row that differs: the networks tie everywhere that counts
    weights = np.ones(60)
    weights[0] = 0.0
    weighted = compare("accuracy", "binary", Y_BIN, ONE_ROW_WORSE, P_BIN, weights, confidence=0.9)
    assert weighted.share == 0.5


@pytest.mark.parametrize("confidence, words", [
    (0.8, ["kept trial 0003", "accuracy 1 against 0.9833", f"{RESAMPLES} bootstrap resamples", "60 validation"]),
    (0.9, ["kept the default network", "within the validation split's noise", "selection_confidence 0.9"]),
])
def test_the_note_says_what_was_kept_and_why(confidence, words):
    note = compare("accuracy", "binary", Y_BIN, ONE_ROW_WORSE, P_BIN, confidence=confidence).describe(
        "the default network", "trial 0003")
    for word in words:
        assert word in note, note
