"""What the bench scripts share: the repository root and scikit-learn's baseline preprocessing."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def baseline_preprocessor(numeric: list[str], categorical: list[str]):
    """The default scikit-learn preprocessing a user would put in front of an MLP.

    Numbers: median imputation, then standardization. Everything else: a
    constant "missing" level, then one-hot with unknown levels ignored (so a
    level first seen at test time, e.g. a new name or date, encodes as zeros).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                              OneHotEncoder(handle_unknown="ignore")), categorical),
    ])
