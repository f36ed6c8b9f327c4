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


def test_schedule_follows_the_fit_calls_epochs_not_the_optimizer_steps():
    """A promoted Hyperband trial resumes at ``initial_epoch`` with a fresh optimizer: its schedule restarts
    its warm-up over this call's epochs, whatever ``optimizer.iterations`` says."""
    import keras
    import numpy as np

    from autoann.search._callbacks import EpochSchedule

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="mse")
    x, y = np.zeros((8, 2), "float32"), np.zeros((8, 1), "float32")
    model.fit(x, y, batch_size=4, epochs=3, verbose=0)  # 6 optimizer steps already taken
    peak, seen = 0.01, []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(float(model.optimizer.learning_rate.numpy())))
    schedule = EpochSchedule("one_cycle", peak, epochs=5, initial_epoch=3, steps_per_epoch=2)
    model.fit(x, y, batch_size=4, epochs=5, initial_epoch=3, verbose=0, callbacks=[schedule, record])
    assert len(seen) == 4  # epochs 3 and 4, two batches each
    assert seen == pytest.approx([one_cycle_rate(step / 4, peak) for step in range(4)])
    assert seen[0] == pytest.approx(peak / ONE_CYCLE_START_DIV)
