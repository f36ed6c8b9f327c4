"""The Keras Tuner adapter: every undocumented hook autoann uses exists in the installed keras-tuner,
the adapter's operations behave as autoann assumes, and no other module uses those names."""

import inspect
import re
from pathlib import Path

import keras_tuner as kt
import pytest

from autoann.search import _kt
from autoann.search._budget import hyperband_schedule

pytestmark = pytest.mark.train

PACKAGE = Path(_kt.__file__).resolve().parents[1]


def _oracle(max_epochs: int = 10, factor: int = 3) -> _kt.OracleAdapter:
    oracle = _kt.OracleAdapter(objective=kt.Objective("score", "max"), max_epochs=max_epochs,
                               factor=factor, hyperband_iterations=1, seed=0)
    hp = kt.HyperParameters()
    hp.Float("x", 0.0, 1.0)
    oracle.hyperparameters = hp
    return oracle


def _broken(hook: _kt.Hook, problem: str) -> str:
    return (f"keras-tuner {kt.__version__}: {hook} {problem}. autoann.search._kt relies on it to {hook.use}; "
            "adapt autoann/search/_kt.py to this version or keep keras-tuner below it (pyproject.toml).")


@pytest.mark.parametrize("hook", _kt.HOOKS, ids=str)
def test_hook_exists_in_installed_keras_tuner(hook):
    if hook.params is None:
        module = not isinstance(hook.owner, type)
        owner = hook.owner if module else (_oracle() if issubclass(hook.owner, kt.Oracle) else None)
        assert owner is not None, f"{hook}: only oracle attributes can be checked on an instance"
        if not hasattr(owner, hook.name):
            pytest.fail(_broken(hook, "is no longer set on instances"))
        return
    method = getattr(hook.owner, hook.name, None)
    if not callable(method):
        pytest.fail(_broken(hook, "no longer exists"))
    params = tuple(inspect.signature(method).parameters)[1:]
    if params != hook.params:
        pytest.fail(_broken(hook, f"now takes {params}, not {hook.params}"))


def test_every_hook_is_used_by_the_adapter_and_by_no_other_module():
    adapter = Path(_kt.__file__).read_text()
    for hook in _kt.HOOKS:
        if hook.name.startswith("_"):
            assert f".{hook.name}" in adapter.replace(f'"{hook.name}"', ""), f"{hook} is listed but not used"
    private = re.compile("|".join(re.escape(f".{h.name}") for h in _kt.HOOKS if h.name.startswith("_")))
    outside = [f"{path.relative_to(PACKAGE.parent)}:{n}" for path in PACKAGE.rglob("*.py") if path.name != "_kt.py"
               for n, line in enumerate(path.read_text().splitlines(), 1) if private.search(line)]
    assert not outside, f"Keras Tuner private names outside autoann/search/_kt.py: {outside}"


def _run_trials(oracle, count: int) -> list:
    """Complete ``count`` trials, scored by ``x``."""
    trials = []
    while len(trials) < count:
        trial = oracle.create_trial("tuner0")
        oracle.update_trial(trial.trial_id, {"score": trial.hyperparameters.values["x"]})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
        trials.append(trial)
    return trials


def test_promotable_trials_cover_every_later_promotion(tmp_path):
    """What pruning relies on: autoann prunes when a trial ends, keeping the promotable trials; a
    checkpoint that a later promotion loads must be in every such set from its trial's end on."""
    oracle = _oracle()
    oracle._set_project_dir(str(tmp_path), "p")
    adapter = oracle
    kept_after = []  # kept_after[i]: the promotable set once trial i ended (ids are "0000", "0001", ...)
    while (trial := oracle.create_trial("tuner0")).status == "RUNNING":
        assert trial.trial_id in adapter.promotable_trial_ids()  # a running trial keeps its checkpoint
        parent = trial.hyperparameters.values.get("tuner/trial_id")
        if parent is not None:
            assert all(parent in kept for kept in kept_after[int(parent):]), f"{parent} pruned before promotion"
        oracle.update_trial(trial.trial_id, {"score": trial.hyperparameters.values["x"]})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
        kept_after.append(adapter.promotable_trial_ids())
    assert len(kept_after) == sum(r.models for r in hyperband_schedule(10, 3))
    assert kept_after[-1] == set()  # every bracket complete: nothing left to promote


def test_stop_creating_trials_makes_the_oracle_stop(tmp_path):
    oracle = _oracle()
    oracle._set_project_dir(str(tmp_path), "p")
    _run_trials(oracle, 2)
    oracle.stop_creating_trials()
    assert oracle.create_trial("tuner0").status == "STOPPED"


def test_the_quiet_conditions_silence_only_keras_tuners_debug_print(capsys):
    """Keras Tuner 1.4.8 prints a value each time a conditional hyperparameter goes over gRPC; the chief's
    terminal (its progress bar) and the workers' logs must not fill with them."""
    hp = kt.HyperParameters()
    hp.Choice("activation", ["elu", "selu"])
    with hp.conditional_scope("activation", ["elu"]):
        hp.Boolean("batchnorm")
    with _kt.quiet_conditions():
        hp.to_proto()
    assert capsys.readouterr().out == ""
    assert not hasattr(_kt.conditions, "print")  # the module is as it was


def test_the_oracle_server_refuses_a_port_in_use_with_a_clear_error():
    first = _kt.OracleServer(_oracle(), "127.0.0.1", 0)
    try:
        with pytest.raises(OSError, match="in use"):
            _kt.OracleServer(_oracle(), "127.0.0.1", first.port)
    finally:
        first.stop()
