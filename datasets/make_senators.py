"""Export lifelines' bundled Canadian senators table to datasets/canadian_senators.csv.

Keeps the 831 senators who left the Senate for one of its three common reasons
(death, resignation, retirement), so ``reason`` is a real, imbalanced
three-class target. Dropped rows: the 99 senators still sitting when the table
was made (no reason yet; their ``end_date`` is the export time) and the 3
appointments declined in 1867 (a class of three rows cannot be learned or
scored). Dropped columns: ``Term (yyyy.mm.dd)`` spells the reason out
("1887.05.12 - 1893.10.30  (Death)") and ``observed`` is True on every kept row.
Dates are written as YYYY-MM-DD; everything else is unchanged.

    pip download lifelines==0.30.3 --no-deps   # the CSV is lifelines/datasets/canadian_senators.csv
    python datasets/make_senators.py PATH/TO/canadian_senators.csv
"""

import sys
from pathlib import Path

import pandas as pd

OUT = Path(__file__).resolve().parent / "canadian_senators.csv"
REASONS = ["Death", "Resignation", "Retirement"]


def main(source: str) -> None:
    table = pd.read_csv(source)
    table = table[table["observed"] & table["reason"].isin(REASONS)]
    table = table.drop(columns=["Term (yyyy.mm.dd)", "observed"])
    for column in ("start_date", "end_date"):
        table[column] = pd.to_datetime(table[column]).dt.strftime("%Y-%m-%d")
    table.to_csv(OUT, index=False)
    print(f"wrote {len(table)} rows to {OUT}: {table['reason'].value_counts().to_dict()}")


if __name__ == "__main__":
    main(sys.argv[1])
