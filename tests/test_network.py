"""The built network keeps the activation family's parts together (G-ACT-2, G-BN-*, G-REG-4)."""

import keras
import pytest

from _tiny import SCHEMA, tiny_frame
from autoann.rules._guard import largest_network
from autoann.search._network import build_network, hidden_widths
from autoann.search._preprocessing import fit_preprocessing
from autoann.space import FAMILIES, SearchSpace, default_of, layer_widths

pytestmark = pytest.mark.train

BASE = {"task": "binary", "output_units": 1, "output_activation": "sigmoid", "loss": "binary_crossentropy",
        "metric": "roc_auc", "n_layers": 3, "units_first": 32, "shrink": 0.5, "units_min": 4, "dropout": 0.2,
        "dropout_layers": 2, "optimizer": "nadam", "learning_rate": 1e-3}


@pytest.fixture(scope="module")
def prep():
    frame, _ = tiny_frame()
    return fit_preprocessing(frame, SCHEMA)


def kinds(model):
    return [type(layer).__name__ for layer in model.layers]


def test_selu_family_is_self_normalizing(prep):
    model = build_network({**BASE, "activation_family": "selu", "batch_norm": True}, prep)
    names = kinds(model)
    assert "BatchNormalization" not in names  # even if batch_norm leaked through
    assert names.count("AlphaDropout") == 2 and "Dropout" not in names
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][:-1]
    assert all(type(layer.kernel_initializer).__name__ == "LecunNormal" for layer in dense)


def test_elu_with_batch_norm(prep):
    model = build_network({**BASE, "activation_family": "elu", "batch_norm": True}, prep)
    names = kinds(model)
    assert names.count("BatchNormalization") == 3 and names.count("Dropout") == 2
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][:-1]
    assert all(type(layer.kernel_initializer).__name__ == "HeNormal" for layer in dense)


@pytest.mark.parametrize("shrink", [1.0, 0.75, 0.5])
def test_widths_never_grow(prep, shrink):
    widths = hidden_widths({**BASE, "shrink": shrink, "n_layers": 4})
    assert all(a >= b for a, b in zip(widths, widths[1:]))
    model = build_network({**BASE, "shrink": shrink, "n_layers": 4, "activation_family": "elu"}, prep)
    units = [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)][:-1]
    assert units == widths


@pytest.mark.parametrize(
    ("task", "values", "units", "activation"),
    [
        ("binary", {}, 1, "sigmoid"),
        ("multiclass", {"output_units": 4, "output_activation": "softmax",
                        "loss": "sparse_categorical_crossentropy", "metric": "accuracy"}, 4, "softmax"),
        ("regression", {"output_units": 1, "output_activation": "linear", "loss": "mse", "metric": "rmse"}, 1, "linear"),
        ("regression", {"output_units": 1, "output_activation": "softplus", "loss": "mse", "metric": "rmse"}, 1, "softplus"),
    ],
)
def test_output_layer_matches_task(prep, task, values, units, activation):
    model = build_network({**BASE, "task": task, **values, "activation_family": "elu"}, prep)
    out = model.get_layer("output")
    assert out.units == units and out.activation.__name__ == activation
    assert model.loss == {**BASE, **values}["loss"]


def test_bounded_target_gets_scaled_output(prep):
    model = build_network({**BASE, "task": "regression", "output_activation": "scaled_sigmoid", "output_scale": 10.0,
                           "output_offset": 5.0, "loss": "mse", "metric": "rmse", "activation_family": "elu"}, prep)
    assert isinstance(model.get_layer("output"), keras.layers.Rescaling)


def test_sgd_uses_nesterov_and_global_clipnorm(prep):
    model = build_network({**BASE, "optimizer": "sgd_nesterov", "learning_rate_sgd": 0.05, "momentum": 0.9,
                           "clipnorm": 1.0, "activation_family": "elu"}, prep)
    opt = model.optimizer
    assert opt.nesterov and opt.momentum == 0.9 and opt.global_clipnorm == 1.0


def test_empty_values_build_the_declared_defaults(prep):
    model = build_network({}, prep)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    hidden, out = dense[:-1], dense[-1]
    widths = layer_widths(*(default_of(n) for n in ("units_first", "n_layers", "shrink", "units_min")))
    assert [layer.units for layer in hidden] == widths
    family = FAMILIES[default_of("activation_family")]
    assert all(layer.activation.__name__ == "linear" for layer in hidden)  # the activation is its own layer
    assert [layer.activation.__name__ for layer in model.layers if isinstance(layer, keras.layers.Activation)] \
        == [family["activation"]] * len(widths)
    assert all(type(layer.kernel_initializer).__name__ == "HeNormal" for layer in hidden)
    assert out.units == default_of("output_units") and out.activation.__name__ == default_of("output_activation")
    assert model.loss == default_of("loss")
    assert type(model.optimizer).__name__.lower() == default_of("optimizer")
    assert float(model.optimizer.learning_rate) == pytest.approx(default_of("learning_rate"))
    names = kinds(model)
    assert "Dropout" not in names and "BatchNormalization" not in names  # dropout 0.0, batch_norm false


def test_guard_counts_the_network_that_is_built(prep):
    """With no units_min in the space, the guard and the builder both use its declared default."""
    space = SearchSpace.from_dict({"hyperparameters": {
        "output_units": 1, "n_layers": {"int": [1, 3]}, "units_first": {"int": [8, 16]}, "shrink": 0.1}})
    assert not prep.embedded and "units_min" not in space
    largest = build_network({"output_units": 1, "n_layers": 3, "units_first": 16, "shrink": 0.1}, prep)
    built = sum(layer.count_params() for layer in largest.layers if isinstance(layer, keras.layers.Dense))
    assert largest_network(space, prep.dense_width) == built
