"""The engine: each rule family gives the space its documented property."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autoann.errors import ParameterError, SpaceError
from autoann.rules._engine import apply_pin, recommend, recommend_from_facts
from autoann.rules._guard import largest_network
from autoann.rules._loader import DEFAULT_FACTS, load_builtin_rules
from autoann.space import FAMILIES, SearchSpace, count_dense_params, layer_widths

RULES = load_builtin_rules()
BREAST_CANCER = {"n_rows": 569, "n_features": 30, "n_numeric": 30, "n_categorical": 0, "input_width": 30,
                 "max_cardinality": 0, "imbalance_ratio": 1.68, "minority_fraction": 0.37, "rows_per_input": 18.97}


def rec(**changes):
    return recommend_from_facts({**DEFAULT_FACTS, **changes}, RULES)


TASKS = [
    {"task": "binary", "n_classes": 2},
    {"task": "multiclass", "n_classes": 7},
    {"task": "regression", "n_classes": 0, "target_min": -40.0, "target_max": 300.0},
    {"task": "multi_regression", "n_classes": 0, "n_targets": 3, "target_min": -5.0, "target_max": 50.0},
]
VARIANTS = [
    dict(task, n_rows=n, goal=goal, sparse=sparse, uncertainty=unc)
    for task, n, goal, sparse, unc in itertools.product(
        TASKS, [150, 5000, 50000, 500000], ["balanced", "accuracy", "latency"], [False, True], [False, True])
]


@pytest.mark.parametrize("changes", VARIANTS[::5])
def test_space_is_valid_and_round_trips_exactly(changes):
    space = rec(**changes).space
    space.validate()
    assert SearchSpace.from_yaml(space.to_yaml()).to_dict() == space.to_dict()
    assert SearchSpace.from_dict(space.to_dict()).to_dict() == space.to_dict()


@pytest.mark.parametrize("changes", VARIANTS)
def test_selu_never_meets_batch_norm(changes):
    """SELU comes with LeCun init and alpha dropout (FAMILIES), and batch norm is never active for it."""
    space = rec(**changes).space
    assert FAMILIES["selu"]["initializer"] == "lecun_normal"
    assert FAMILIES["selu"]["dropout_layer"] == "alpha" and FAMILIES["selu"]["batch_norm"] is False
    families = space["activation_family"].candidates()
    if "selu" in families and "batch_norm" in space:
        active = (space["batch_norm"].active_if or {}).get("activation_family")
        assert active is not None and "selu" not in active
    for name in ("batch_norm", "batch_norm_position"):
        if name in space and True in space["batch_norm"].candidates():
            assert "selu" not in (space[name].active_if or {}).get("activation_family", families)


@given(st.integers(1, 2048), st.integers(1, 12), st.sampled_from([0.25, 0.5, 0.75, 0.9, 1.0]), st.integers(1, 64))
def test_layer_widths_never_grow_with_depth(units_first, n_layers, shrink, units_min):
    widths = layer_widths(units_first, n_layers, shrink, units_min)
    assert len(widths) == n_layers
    assert all(b <= a for a, b in zip(widths, widths[1:]))
    assert all(w >= min(units_min, units_first) for w in widths)
    if shrink == 1.0:
        assert len(set(widths)) == 1


def test_count_dense_params():
    assert count_dense_params(30, [64, 32], 1) == 30 * 64 + 64 + 64 * 32 + 32 + 32 + 1
    assert count_dense_params(4, [], 3) == 15
    assert layer_widths(300, 3, 0.5, 8) == [300, 150, 75]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"task": "binary"}, {"output_units": 1, "output_activation": "sigmoid", "loss": "binary_crossentropy", "metric": "accuracy"}),
        ({"task": "multiclass", "n_classes": 7},
         {"output_units": 7, "output_activation": "softmax", "loss": "sparse_categorical_crossentropy", "metric": "accuracy"}),
        ({"task": "regression", "target_min": -3.0, "target_max": 40.0},
         {"output_units": 1, "output_activation": "linear", "loss": "mse", "metric": "r2", "target_scaling": "standardize"}),
        ({"task": "multi_regression", "n_targets": 3},
         {"output_units": 3, "output_activation": "linear", "loss": "mse", "target_scaling": "standardize"}),
        ({"task": "regression", "target_positive": True, "target_min": 0.5, "target_max": 8.0},
         {"output_activation": "softplus", "target_scaling": "none"}),
        ({"task": "regression", "target_positive": True, "target_min": 5.0, "target_max": 900.0},
         {"output_activation": "linear", "target_scaling": "standardize"}),
        ({"task": "regression", "target_in_unit_interval": True, "target_positive": True, "target_max": 0.9},
         {"output_activation": "scaled_sigmoid", "output_scale": 1.0, "output_offset": 0.0, "target_scaling": "none"}),
        ({"task": "regression", "target_symmetric_bounded": True, "target_min": -0.9, "target_max": 1.0},
         {"output_activation": "scaled_tanh", "output_scale": 1.0, "target_scaling": "none"}),
        ({"task": "regression", "target_outlier_fraction": 0.05}, {"metric": "mae"}),
    ],
)
def test_output_layer_and_loss_match_the_task(changes, expected):
    space = rec(**changes).space
    assert space.fixed("task") == changes["task"]
    for name, value in expected.items():
        assert space.fixed(name) == value, name


def test_outliers_get_a_robust_loss():
    assert rec(task="regression", target_outlier_fraction=0.05).space["loss"].candidates() == ["huber", "mae"]
    assert rec(task="regression", target_outlier_fraction=0.0).space.fixed("loss") == "mse"


def test_input_rules():
    space = rec(has_missing=True, missing_fraction=0.1, n_categorical=3).space
    assert space.fixed("numeric_scaling") == "standardize"
    assert space.fixed("missing_indicators") is True
    assert space.fixed("onehot_max_cardinality") == 30
    assert "missing_indicators" not in rec(has_missing=False).space
    assert "onehot_max_cardinality" not in rec(n_categorical=0).space
    assert any("leakage" in n for n in rec(suspected_leaks=2).space.notes)


def test_latency_goal_gives_leaky_relu_fewer_layers_and_no_batch_norm():
    for n_rows in (569, 50000):
        balanced, latency = rec(n_rows=n_rows).space, rec(n_rows=n_rows, goal="latency").space
        assert latency.fixed("activation_family") == "leaky_relu"
        assert latency.fixed("batch_norm") is False and "batch_norm_position" not in latency
        assert latency["n_layers"].high < balanced["n_layers"].high


def test_sparse_adds_l1_only_when_asked():
    assert "l1" not in rec().space
    l1 = rec(sparse=True).space["l1"]
    assert l1.kind == "float" and l1.low > 0 and l1.log


def test_uncertainty_adds_mc_dropout_with_real_dropout():
    assert "mc_dropout_samples" not in rec().space
    space = rec(uncertainty=True).space
    assert space.fixed("mc_dropout_samples") > 0
    assert space["dropout"].low >= 0.1


@pytest.mark.parametrize(
    ("changes", "expected"),
    [({"imbalance_ratio": 9.0}, ("none", ["none", "balanced"])), ({"imbalance_ratio": 2.0}, ("none", ["none", "balanced"])),
     ({"imbalance_ratio": 1.1}, None), ({"task": "regression", "imbalance_ratio": 1.0}, None),
     ({"imbalance_ratio": 9.0, "metric": "balanced_accuracy"}, ("balanced", ["balanced", "none"])),
     ({"imbalance_ratio": 1.1, "metric": "f1_macro"}, None),
     ({"task": "multiclass", "n_classes": 4, "imbalance_ratio": 20.0, "metric": "f1_macro"},
      ("balanced", ["balanced", "none"]))],
)
def test_imbalance_makes_class_weights_a_choice_led_by_the_metric(changes, expected):
    """Weighting trades accuracy for balanced accuracy: searched, first tried when the metric weighs classes equally."""
    space = rec(**changes).space
    found = (space["class_weight"].default, space["class_weight"].candidates()) if "class_weight" in space else None
    assert found == expected


@pytest.mark.parametrize(("task", "metric"), [("binary", "r2"), ("regression", "accuracy"), ("multiclass", "rmse")])
def test_a_metric_of_another_task_is_refused_with_the_ones_that_apply(task, metric):
    from autoann.errors import ParameterError

    with pytest.raises(ParameterError, match=f"--metric {metric} does not apply to a {task} target.*choose one of"):
        recommend(dict(DEFAULT_FACTS, task=task, n_classes=3 if task == "multiclass" else 2), metric=metric)


def test_the_metric_asked_for_is_the_spaces_and_says_why():
    result = recommend(dict(DEFAULT_FACTS), metric="f1_macro")
    assert result.space.fixed("metric") == "f1_macro"
    assert "GOAL-METRIC" in result.space["metric"].rules


def test_batch_size_scales_with_data():
    sizes = [max(rec(n_rows=n).space["batch_size"].candidates()) for n in (500, 5000, 50000, 500000)]
    assert sizes == sorted(sizes) and sizes[0] <= 32
    assert rec(n_rows=500000).space.fixed("schedule") == "one_cycle"  # warm-up for large batches (G-LR-5)
    assert rec(n_rows=500).space["schedule"].default == "one_cycle"


def test_sgd_hyperparameters_are_conditional_on_the_optimizer():
    space = rec().space
    assert space["learning_rate_sgd"].active_if == {"optimizer": ["sgd_nesterov"]}
    assert "sgd_nesterov" not in space["learning_rate"].active_if["optimizer"]
    assert space.fixed("momentum") == 0.9 and rec(n_rows=200000).space.fixed("momentum") == 0.99


def test_param_guard_lowers_width_on_tiny_data():
    result = rec(**BREAST_CANCER)
    space = result.space
    cap = max(space.fixed("min_params_cap"), space.fixed("max_params_per_row") * 569)
    units = space["units_first"]
    assert units.high < 128 and units.rules[-1] == "ARCH-PARAM-GUARD"
    assert "G-ARCH-6" in units.why[-1] and "569 rows" in units.why[-1]
    assert largest_network(space, 30) <= cap
    assert largest_network(space, 30, units_first=units.high + 1) > cap  # the largest width that fits
    assert "units_first (guard)" in result.outcome("ARCH-PARAM-GUARD").set
    assert rec(n_rows=50000).space["units_first"].high == 256  # plenty of data: untouched


def test_param_guard_lowers_depth_when_width_is_not_enough():
    space = rec(n_rows=12000, input_width=7400, rows_per_input=1.6).space
    cap = max(space.fixed("min_params_cap"), space.fixed("max_params_per_row") * 12000)
    assert space["n_layers"].high < 5 and space["n_layers"].rules[-1] == "ARCH-PARAM-GUARD"
    assert largest_network(space, 7400) <= cap and space.fixed("units_first") == 32


def test_param_guard_notes_when_nothing_fits():
    space = recommend_from_facts({**DEFAULT_FACTS, "n_rows": 100, "input_width": 50000}, RULES,
                                 pins=["n_layers=1"]).space
    assert any("smallest network" in note for note in space.notes)


def test_trace_lists_every_rule_with_its_facts():
    result = rec(**BREAST_CANCER, goal="latency")
    assert [o.rule_id for o in result.trace] == [r.id for r in RULES]
    assert result.space.fired == [o.rule_id for o in result.trace if o.fired]
    assert result.outcome("ARCH-DEPTH").reason == "n_rows=569 < 10000"
    assert result.outcome("ARCH-DEPTH-SMALL").overridden == {"n_layers": "GOAL-LATENCY-SHALLOW"}
    assert result.outcome("ACT-FAMILY").overridden == {"activation_family": "GOAL-LATENCY-ACTIVATION"}
    assert result.outcome("ACT-BN-POSITION").overridden == {"batch_norm_position": "GOAL-LATENCY-NO-BATCH-NORM"}
    assert result.space["n_layers"].rules == ["GOAL-LATENCY-SHALLOW"]


def test_pins_apply_last_and_unknown_names_fail():
    space = recommend_from_facts({**DEFAULT_FACTS, **BREAST_CANCER}, RULES, pins=["n_layers=3", "dropout=0"]).space
    assert space.fixed("n_layers") == 3 and space["n_layers"].rules == ["user"]
    assert space.fixed("dropout") == 0.0
    with pytest.raises(SpaceError, match=r"no hyperparameter is called 'n_layer' \(did you mean 'n_layers'"):
        recommend_from_facts(DEFAULT_FACTS, RULES, pins=["n_layer=3"])
    with pytest.raises(SpaceError, match="cannot be 'adamq'"):
        recommend_from_facts(DEFAULT_FACTS, RULES, pins=["optimizer=adamq"])


def test_pinning_selu_drops_batch_norm_with_a_note():
    space = recommend_from_facts(DEFAULT_FACTS, RULES, pins=["activation_family=selu"]).space
    assert "batch_norm" not in space and "batch_norm_position" not in space
    assert any(n.startswith("batch_norm dropped") and "activation_family=selu" in n for n in space.notes)
    space.validate()


def test_apply_pin_on_a_space():
    space = rec().space
    apply_pin(space, "optimizer", "sgd_nesterov")
    assert "learning_rate" not in space and space.fixed("optimizer") == "sgd_nesterov"


def test_user_rules_override_and_add(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("""\
autoann_rules: 1
rules:
  - id: ARCH-DEPTH-SMALL
    guideline: [G-ARCH-1]
    when: {fact: n_rows, lt: 10000}
    then: {n_layers: {int: [2, 2]}}
    why: "always two layers"
  - id: USER-NO-MAX-NORM
    guideline: [G-REG-6]
    then: {max_norm: 0.0}
    why: "not on my data"
""", encoding="utf-8")
    result = recommend(dict(DEFAULT_FACTS, **BREAST_CANCER), rules=[path])
    assert result.space["n_layers"].candidates() == [2, 2] and result.space["n_layers"].rules == ["ARCH-DEPTH-SMALL"]
    assert result.space.fixed("max_norm") == 0.0 and result.space["max_norm"].rules == ["USER-NO-MAX-NORM"]
    assert result.outcome("REG-MAX-NORM").overridden == {"max_norm": "USER-NO-MAX-NORM"}


class FakeProfile:
    def __init__(self):
        self.asked = None

    def facts(self, goal, sparse, uncertainty, backbone, metric):
        self.asked = (goal, sparse, uncertainty, backbone, metric)
        return {**DEFAULT_FACTS, "goal": goal, "sparse": sparse, "uncertainty": uncertainty, "backbone": backbone,
                "metric": metric}


def test_recommend_asks_the_profile_for_its_facts():
    profile = FakeProfile()
    result = recommend(profile, goal="latency", sparse=True, pins=["batch_size=64"])
    assert profile.asked == ("latency", True, False, False, "")
    assert result.facts["goal"] == "latency" and result.space.fixed("batch_size") == 64


def test_unknown_goal_and_missing_facts():
    with pytest.raises(ParameterError, match="'goal' parameter of recommend must be one of 'balanced', 'accuracy', 'latency'. Got 'fast'"):
        recommend(FakeProfile(), goal="fast")
    with pytest.raises(ParameterError, match="lack"):
        recommend_from_facts({"n_rows": 5}, RULES)


def test_engine_keeps_batch_norm_away_from_selu_even_if_a_rule_forgets(tmp_path):
    path = tmp_path / "bn.yaml"
    path.write_text("autoann_rules: 1\nrules:\n  - id: ACT-BATCH-NORM\n    guideline: [G-BN-2]\n"
                    "    then: {batch_norm: {choice: [false, true]}}\n    why: everywhere\n", encoding="utf-8")
    space = recommend(dict(DEFAULT_FACTS), rules=[path]).space
    assert space["batch_norm"].active_if == {"activation_family": ["elu", "leaky_relu"]}
    assert "G-ACT-2" in space["batch_norm"].why[-1]


def test_show_space_and_the_trace():
    from rich.console import Console

    from autoann.cli import _display as display

    console = Console(record=True, width=200)
    display.show_space(console, rec(**BREAST_CANCER, goal="latency", suspected_leaks=1), explain=True)
    text = console.export_text()
    lines = text.splitlines()
    assert lines.index(next(line for line in lines if "task " in line)) < lines.index(
        next(line for line in lines if "units_first" in line))  # decisions before searched values
    for expected in ("OUT-BINARY (task=binary)", "ARCH-PARAM-GUARD", "n_rows=569 < 10000",
                     "overridden by GOAL-LATENCY-SHALLOW", "note: The profile flags", "--set name=value"):
        assert expected in text, expected


def test_tiny_images_choose_between_a_dense_network_and_convolutions():
    image = {"data_kind": "image", "image_channels": 1}
    tiny = rec(**image, image_height=8, image_width=8, input_width=64).space
    assert tiny["image_network"].candidates() == ["dense", "conv"] and tiny["image_network"].default == "dense"
    for name in ("n_layers", "units_first", "shrink"):
        assert tiny[name].active_if == {"image_network": ["dense"]} and tiny[name].rules == ["IMG-DENSE-TINY"]
    assert "conv_blocks" in tiny  # the convolutional family stays a choice
    for larger in ({"image_height": 28, "image_width": 28}, {"image_height": 8, "image_width": 32},
                   {"image_height": 8, "image_width": 8, "backbone": True}):
        assert "image_network" not in rec(**image, **larger).space
