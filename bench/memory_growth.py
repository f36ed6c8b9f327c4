"""Where the memory of a long search goes: autoann's search vs a bare Keras loop.

Each side runs in its own fresh process (``--side autoann`` or ``--side keras``)
and prints its resident set size every 10 trials / models. The bare loop
builds, compiles and fits a two-layer network with ``keras.backend.clear_session()``
and a full ``gc.collect()`` before each model, as the Keras docs advise: if it
grows as fast as the search does, the growth is TensorFlow/Keras', not
autoann's bookkeeping (tensorflow/tensorflow#61791, keras-team/tf-keras#286).
``--side keras-built`` is the same loop with the optimizer built before
``fit`` (as autoann's trials do), not inside the first traced train step.

    python bench/memory_growth.py --side autoann --trials 60
    python bench/memory_growth.py --side keras --trials 60
    python bench/memory_growth.py --side keras-built --trials 60
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from pathlib import Path

from search_overhead import prepared, rss_mb


def autoann_side(trials: int) -> dict[int, int]:
    from autoann.search._run import run_search

    space, prep, data = prepared("breast_cancer.csv", "diagnosis", 0)
    rss: dict[int, int] = {}

    def on_trial(event) -> None:
        if event.finished % 10 == 0:
            rss[event.finished] = round(rss_mb())

    with tempfile.TemporaryDirectory() as work:
        run_search(space, prep, data, end=time.monotonic() + 10_000, export_seconds=0, workdir=Path(work),
                   max_trials=trials, seed=0, on_trial=on_trial, workers=1)  # the leak of one process
    return rss


def keras_side(trials: int, build_optimizer: bool = False) -> dict[int, int]:
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((300, 30), dtype="float32")
    y = (x[:, 0] > 0.5).astype("float32")
    rss: dict[int, int] = {}
    for i in range(1, trials + 1):
        keras.backend.clear_session()
        gc.collect()
        model = keras.Sequential([keras.Input((30,)), keras.layers.Dense(64, activation="elu"),
                                  keras.layers.Dense(1, activation="sigmoid")])
        model.compile("nadam", "binary_crossentropy", metrics=["auc"])
        if build_optimizer:
            model.optimizer.build(model.trainable_variables)
        model.fit(x, y, epochs=2, batch_size=32, validation_data=(x, y), verbose=0)
        if i % 10 == 0:
            rss[i] = round(rss_mb())
    return rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", choices=["autoann", "keras", "keras-built"], required=True)
    parser.add_argument("--trials", type=int, default=60)
    args = parser.parse_args()
    if args.side == "autoann":
        rss = autoann_side(args.trials)
    else:
        rss = keras_side(args.trials, build_optimizer=args.side == "keras-built")
    first, last = min(rss), max(rss)
    print(json.dumps({"side": args.side, "rss_mb": rss,
                      "mb_per_trial": round((rss[last] - rss[first]) / (last - first), 1)}))


if __name__ == "__main__":
    main()
