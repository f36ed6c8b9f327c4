"""How strong is the first candidate alone: the default network of the recommended space (what every
search trains first), refit on every row and calibrated, with the rules' defaults or with a variant's pins.

The ablation behind the defaults the rules set (issue #12's "strong first candidates"): each variant is
the rules' default network with a few hyperparameters pinned, on the peers benchmark's datasets and
split (bench/peers.py), scored on the test rows. ``max_trials=1`` stops the search after the default
network, and the budget never binds, so this measures the network, not the time plan.

    python bench/first_candidate.py --datasets breast_cancer,wine,penguins,diabetes,canadian_senators \
        --seeds 0 1 --label before --out bench/first_candidate.csv
    python bench/first_candidate.py --out bench/first_candidate.csv --markdown

Never run two benchmarks at once.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from peers import load, split

#: name -> the pins on top of the recommended space's defaults
VARIANTS: dict[str, dict] = {
    "rules": {},
    "adamw_wd0.01": {"optimizer": "adamw", "weight_decay": 0.01},
    "constant_lr": {"schedule": "constant"},
    "batch_64": {"batch_size": 64},
    "no_dropout": {"dropout": 0.0},
    "smooth_clip": {"numeric_clip": "smooth"},
    "no_dropout_adamw": {"dropout": 0.0, "optimizer": "adamw", "weight_decay": 1.0},
    "no_dropout_smooth_clip": {"dropout": 0.0, "numeric_clip": "smooth"},
    # the final model: the default network's checkpoint (trained on the training split only) instead of
    # its refit on the training + validation rows
    "checkpoint": {},
}
#: variants that change how the search ends rather than the space
OPTIONS = {"checkpoint": {"refit": False}}
FIELDS = ["dataset", "seed", "variant", "metric", "score", "log_loss", "epochs", "fit_seconds", "defaults"]


def run(dataset: str, seed: int, variant: str) -> dict:
    from sklearn.metrics import accuracy_score, log_loss, r2_score

    from autoann.estimators import AutoANNClassifier, AutoANNRegressor
    from autoann.search import _options

    data = load(dataset)
    train, test = split(data, 0)
    owner = AutoANNClassifier if data.is_classification else AutoANNRegressor
    model = owner(time_budget=600, max_trials=1, random_state=seed, pins=VARIANTS[variant] or None)
    X = data.X if data.images is None else data.images
    pick = (lambda rows: X.iloc[rows]) if data.images is None else (lambda rows: X[rows])
    start = time.perf_counter()
    saved = _options.DEFAULT
    _options.DEFAULT = _options.SearchOptions(**OPTIONS.get(variant, {}))
    try:
        model.fit(pick(train), data.y.iloc[train])
    finally:
        _options.DEFAULT = saved
    row = {"dataset": dataset, "seed": seed, "variant": variant, "fit_seconds": round(time.perf_counter() - start, 1),
           "epochs": int(model.leaderboard_.iloc[0]["best_epoch"])}
    truth = data.y.iloc[test].to_numpy()
    if data.is_classification:
        proba = np.asarray(model.predict_proba(pick(test)), dtype="float64")
        classes = np.asarray(model.classes_).astype(str)
        row.update(metric="accuracy", score=round(accuracy_score(truth, classes[proba.argmax(1)]), 4),
                   log_loss=round(log_loss(truth, proba, labels=list(classes)), 4))
    else:
        row.update(metric="r2", score=round(r2_score(truth, model.predict(pick(test))), 4))
    return row


def markdown(path: Path) -> str:
    import pandas as pd

    frame = pd.read_csv(path)
    frame["variant"] = frame["variant"] + " (" + frame["defaults"] + ")"
    table = frame.groupby(["dataset", "variant"])["score"].median().unstack("variant")
    losses = frame.groupby(["dataset", "variant"])["log_loss"].median().unstack("variant")
    order = list(dict.fromkeys(frame["variant"]))
    lines = ["| dataset | " + " | ".join(order) + " |", "|---|" + "---|" * len(order)]
    for dataset, scores in table[order].iterrows():
        cells = ["-" if pd.isna(scores[v]) else f"{scores[v]:.3f}" + (
            f" ({losses.loc[dataset, v]:.3f})" if pd.notna(losses.loc[dataset, v]) else "") for v in order]
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="breast_cancer,wine,penguins,diabetes")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--label", default="current", help="the rules' defaults the variants start from, kept per row")
    parser.add_argument("--markdown", action="store_true", help="print the table of medians from --out")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(args.out))
        return
    for dataset in args.datasets.split(","):
        for seed in args.seeds:
            for variant in args.variants.split(","):
                row = {**run(dataset, seed, variant), "defaults": args.label}
                new = not args.out.exists()
                with args.out.open("a", newline="") as handle:
                    writer = csv.DictWriter(handle, fieldnames=FIELDS)
                    if new:
                        writer.writeheader()
                    writer.writerow(row)
                print(row, flush=True)


if __name__ == "__main__":
    main()
