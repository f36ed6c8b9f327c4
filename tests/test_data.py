"""autoann.data._tables: reading tables, separating the target, inferring the task, refusing bad input clearly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoann.data import TASKS, Dataset, load_data, read_table
from autoann.data._dataset import MIN_ROWS
from autoann.errors import DataError


def refused(call, *fragments: str) -> str:
    """Assert ``call()`` raises DataError whose message holds every fragment; return the message."""
    with pytest.raises(DataError) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# -- reading files ---------------------------------------------------------------


def test_csv_na_markers_read_as_missing(write_file):
    markers = ["?", "NA", "N/A", "n/a", "null", "None", "-", "", " ?", "5"]
    rows = "\n".join(f"{i},{m},c{i % 3}" for i, m in enumerate(markers))
    frame = read_table(write_file("d.csv", "x,m,k\n" + rows + "\n"))
    assert frame["m"].isna().sum() == 9
    assert frame["m"].dtype.kind == "f" and frame["m"].iloc[-1] == 5


def test_tsv_and_parquet(write_file, make_frame, tmp_path):
    frame = make_frame()
    tsv = write_file("d.tsv", frame.to_csv(sep="\t", index=False))
    pd.testing.assert_frame_equal(read_table(tsv), frame, check_dtype=False)
    pq = tmp_path / "d.parquet"
    frame.to_parquet(pq)
    assert load_data(pq, "y").features.shape == (60, 2)


def test_parquet_without_pyarrow_says_how_to_install(tmp_path, monkeypatch):
    path = tmp_path / "d.pq"
    path.write_bytes(b"PAR1")

    def no_pyarrow(*args, **kwargs):
        raise ImportError("Unable to find a usable engine")

    monkeypatch.setattr(pd, "read_parquet", no_pyarrow)
    refused(lambda: read_table(path), "pip install 'autoann[parquet]'")


def test_corrupt_parquet(write_file):
    refused(lambda: read_table(write_file("d.parquet", b"not parquet at all")), "Cannot read", "Parquet")


# -- bad files ---------------------------------------------------------------------


def test_missing_file(tmp_path):
    refused(lambda: load_data(tmp_path / "nope.csv", "y"), "File not found", "nope.csv")


def test_directory_is_read_as_image_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    refused(lambda: load_data(tmp_path, "y"), "No image files", "not an image file (.txt)")


def test_unsupported_extension(write_file):
    refused(lambda: load_data(write_file("d.xlsx", "a,b\n"), "y"), "unsupported file type '.xlsx'", ".csv", ".parquet")


def test_empty_file(write_file):
    refused(lambda: load_data(write_file("d.csv", ""), "y"), "is empty (0 bytes)")


def test_blank_lines_only(write_file):
    refused(lambda: load_data(write_file("d.csv", "\n\n"), "y"), "no columns")


def test_header_only(write_file):
    refused(lambda: load_data(write_file("d.csv", "a,b,y\n"), "y"), "header", "no data rows")


def test_duplicate_column_names_are_named(write_file):
    text = "a,b,a,y\n" + "".join(f"{i},{i},{i},{i % 2}\n" for i in range(20))
    refused(lambda: load_data(write_file("d.csv", text), "y"), "duplicate column names", "'a'")


def test_duplicate_columns_in_a_dataframe(make_frame):
    frame = make_frame()
    frame.columns = ["a", "a", "y"]
    refused(lambda: load_data(frame, "y"), "duplicate column names", "'a'")


def test_non_utf8_file(write_file):
    text = "city,y\n" + "".join(f"Montr\xe9al{i},{i % 2}\n" for i in range(20))
    path = write_file("d.csv", text.encode("latin-1"))
    refused(lambda: load_data(path, "y"), "not UTF-8", "0xe9", "line 2", "Re-save it as UTF-8")


def test_ragged_rows(write_file):
    refused(lambda: load_data(write_file("d.csv", "a,y\n1,2\n1,2,3,4\n"), "y"), "Cannot parse")


# -- the target --------------------------------------------------------------------


def test_no_target_given(make_frame):
    refused(lambda: load_data(make_frame()), "No target given", "--target")


def test_target_column_missing_suggests_near_matches(make_frame):
    message = refused(lambda: load_data(make_frame(), "colours"), "'colours' is not in the data",
                      "did you mean 'colour'")
    assert "'a'" in message  # the columns are listed


def test_target_missing_hints_at_the_separator(write_file):
    text = "a;b;y\n" + "".join(f"{i};{i};{i % 2}\n" for i in range(20))
    refused(lambda: load_data(write_file("d.csv", text), "y"), "separated by ';'")


def test_target_listed_twice(make_frame):
    refused(lambda: load_data(make_frame(), ["y", "y"]), "'y' is listed more than once")


def test_target_entirely_missing(make_frame):
    refused(lambda: load_data(make_frame(y=np.nan), "y"), "has no values", "60 rows")


def test_rows_with_missing_target_are_dropped(make_frame):
    frame = make_frame()
    frame.loc[[3, 7, 11], "y"] = None
    data = load_data(frame, "y")
    assert data.n_rows_dropped_missing_target == 3
    assert len(data.features) == len(data.target) == 57
    assert list(data.features.index) == list(range(57))


def test_too_few_rows_names_the_minimum(make_frame):
    refused(lambda: load_data(make_frame(n=MIN_ROWS - 1), "y"), f"at least {MIN_ROWS}", "Only 9 rows")


def test_too_few_rows_after_dropping_missing_targets(make_frame):
    frame = make_frame(n=12)
    frame.loc[:4, "y"] = None
    refused(lambda: load_data(frame, "y"), "Only 7 rows", "5 are missing it")


def test_single_class(make_frame):
    refused(lambda: load_data(make_frame(y="yes"), "y"), "single value", "'yes'")


def test_single_class_with_task_override(make_frame):
    refused(lambda: load_data(make_frame(y="yes"), "y", task="binary"), "single class")


def test_no_feature_columns(make_frame):
    refused(lambda: load_data(make_frame()[["y"]], "y"), "no feature columns")


def test_mixed_numbers_and_text_names_column_values_and_lines(write_file):
    values = [str(i) for i in range(30)]
    values[4], values[17] = "unknown", "twelve"
    text = "a,mixed,y\n" + "".join(f"{i},{v},{i % 2}\n" for i, v in enumerate(values))
    message = refused(lambda: load_data(write_file("d.csv", text), "y"),
                      "'mixed' mixes numbers and text", "'unknown' (line 6)", "'twelve' (line 19)")
    assert "astype('category')" in message


def test_mixed_column_in_a_dataframe_reports_row_labels(make_frame):
    frame = make_frame()
    frame["m"] = [str(i) for i in range(60)]
    frame.loc[5, "m"] = "oops"
    refused(lambda: load_data(frame, "y"), "'m' mixes numbers and text", "'oops' (row 5)")


def test_category_dtype_opts_out_of_the_mixed_check(make_frame):
    frame = make_frame()
    frame["m"] = pd.Categorical([str(i % 5) if i != 5 else "oops" for i in range(60)])
    assert "m" in load_data(frame, "y").features


def test_infinite_values_refused(make_frame):
    frame = make_frame()
    frame.loc[2, "a"] = np.inf
    refused(lambda: load_data(frame, "y"), "'a' holds 1 infinite", "row 2")


def test_bad_data_type():
    refused(lambda: load_data({"a": [1]}, "a"), "Cannot read data of type dict")


# -- DataFrames and arrays --------------------------------------------------------------


def test_dataframe_is_not_modified(make_frame):
    frame = make_frame()
    before = frame.copy()
    data = load_data(frame, "y")
    pd.testing.assert_frame_equal(frame, before)
    assert isinstance(data, Dataset) and data.source == "<DataFrame>"
    assert list(data.features.columns) == ["a", "colour"] and data.target_names == ["y"]


def test_numpy_arrays_name_columns():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    data = load_data(X, (X[:, 0] > 0).astype(int))
    assert list(data.features.columns) == ["x0", "x1", "x2"] and data.target_names == ["y"]
    assert data.task == "binary" and data.source == "<array>"
    multi = load_data(X, rng.normal(size=(40, 2)))
    assert multi.target_names == ["y0", "y1"] and multi.task == "multi_regression"


def test_dataframe_with_an_array_target(make_frame):
    frame = make_frame().drop(columns="y")
    data = load_data(frame, np.array([0, 1, 2] * 20))
    assert data.target_names == ["y"] and data.task == "multiclass" and list(data.features) == ["a", "colour"]


def test_an_array_target_is_kept_apart_from_the_features(make_frame):
    """y given as an array is not merged into X: a feature named y stays a feature, the target gets the reserved name."""
    frame = make_frame()  # its "y" column is a feature here
    labels = np.array([0, 1, 2, None] * 15, dtype=object)
    data = load_data(frame, labels, task="multiclass", task_reason="Set by the caller.")
    assert list(data.features.columns) == ["a", "colour", "y"] and data.target_names == ["__autoann_target__"]
    assert data.task_reason == "Set by the caller."  # a task given with its reason is taken as decided
    assert data.kept_rows.tolist() == [True, True, True, False] * 15 and data.n_rows_dropped_missing_target == 15
    assert (data.features["a"].to_numpy() == frame["a"].to_numpy()[data.kept_rows]).all()


def test_numpy_string_labels():
    X = np.arange(60, dtype=float).reshape(30, 2) % 7
    assert load_data(X, ["a", "b", "c"] * 10).task == "multiclass"


def test_numpy_bad_shapes():
    refused(lambda: load_data(np.zeros(20), np.zeros(20)), "2-D array", "reshape(-1, 1)")
    refused(lambda: load_data(np.zeros((20, 2)), np.zeros(19)), "X has 20 rows", "(19,)")
    refused(lambda: load_data(np.zeros((20, 2)), "y"), "target must be the labels y")


# -- task inference ---------------------------------------------------------------


@pytest.mark.parametrize(
    "target, task",
    [
        (["yes", "no"] * 30, "binary"),  # strings, 2 classes
        (["a", "b", "c"] * 20, "multiclass"),  # strings, 3 classes
        ([True, False] * 30, "binary"),  # booleans
        ([0, 1] * 30, "binary"),  # numbers with 2 values
        ([0.5, 1.5] * 30, "binary"),  # 2 values, even fractional
        ([0, 1, 2] * 20, "multiclass"),  # few whole numbers, >= 10 rows per value
        (list(range(6)) * 10, "multiclass"),
        (list(range(12)) * 5, "regression"),  # 12 values in 60 rows: fewer than 10 rows per value
        (list(range(60)), "regression"),  # many whole numbers
        (np.linspace(0, 1, 60).tolist(), "regression"),  # fractional
        (pd.Categorical(["lo", "mid", "hi"] * 20), "multiclass"),  # category dtype
    ],
)
def test_task_inference(make_frame, target, task):
    data = load_data(make_frame(t=target), "t")
    assert data.task == task
    assert data.task_reason.endswith(".") or data.task_reason.endswith(")")
    assert "'t'" in data.task_reason


def test_several_targets_are_multi_regression(make_frame):
    rng = np.random.default_rng(0)
    frame = make_frame(t1=rng.normal(size=60), t2=rng.normal(size=60))
    data = load_data(frame, ["t1", "t2"])
    assert data.task == "multi_regression" and list(data.target.columns) == ["t1", "t2"]
    refused(lambda: load_data(frame, ["t1", "y"]), "'y' is not numeric")


# -- task override ----------------------------------------------------------------------


def test_override_is_honoured_and_explained(make_frame):
    data = load_data(make_frame(t=[0, 1, 2] * 20), "t", task="regression")
    assert data.task == "regression" and "explicitly" in data.task_reason and "would say multiclass" in data.task_reason
    assert load_data(make_frame(t=list(range(12)) * 5), "t", task="multiclass").task == "multiclass"


def test_unknown_task_lists_valid_ones(make_frame):
    message = refused(lambda: load_data(make_frame(), "y", task="clasification"), "Unknown task 'clasification'")
    assert all(task in message for task in TASKS)


def test_classification_of_a_float_target_refused(make_frame):
    refused(lambda: load_data(make_frame(t=np.linspace(0, 1, 60)), "t", task="multiclass"),
            "60 distinct fractional", "--task regression")


def test_regression_of_a_string_target_refused(make_frame):
    refused(lambda: load_data(make_frame(), "y", task="regression"), "needs a numeric target", "'y'")


def test_binary_needs_two_classes(make_frame):
    refused(lambda: load_data(make_frame(t=["a", "b", "c"] * 20), "t", task="binary"), "exactly 2 classes", "has 3")


def test_one_target_task_with_several_targets(make_frame):
    frame = make_frame(t1=np.arange(60.0), t2=np.arange(60.0))
    refused(lambda: load_data(frame, ["t1", "t2"], task="regression"), "multi_regression")


def test_too_many_classes_for_the_rows(make_frame):
    refused(lambda: load_data(make_frame(t=[f"c{i}" for i in range(60)]), "t", task="multiclass"),
            "60 classes out of 60 rows")


def test_loading_writes_nothing(tmp_path, write_file, make_frame):
    path = write_file("d.csv", make_frame())
    before = sorted(tmp_path.rglob("*"))
    load_data(path, "y")
    assert sorted(tmp_path.rglob("*")) == before
