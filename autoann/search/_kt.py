"""The one module that reaches into Keras Tuner's undocumented API.

Keras Tuner documents its hooks (``run_trial``, ``on_trial_begin/end``,
``pre_create_trial``, ``HyperModel.build/fit``) but not the ones autoann needs
to write one checkpoint per trial, load a promoted trial's parent weights,
stop on a deadline and prune checkpoints Hyperband can no longer promote.
Keras Tuner is in maintenance mode, so autoann relies on them, here only,
behind public-named methods, with ``keras-tuner`` pinned to the minor version
they were read from (pyproject.toml). :data:`HOOKS` lists every such name;
tests/test_kt_adapter.py checks each against the installed Keras Tuner and
names the one an upgrade removed or changed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import keras
import keras_tuner as kt


@dataclass(frozen=True)
class Hook:
    """An undocumented Keras Tuner name autoann uses: a method (with its parameters after ``self``)
    or an attribute set on instances, and what autoann needs it for."""

    owner: type
    name: str
    params: tuple[str, ...] | None  # None: an instance attribute, not a method
    use: str

    def __str__(self) -> str:
        return f"{self.owner.__name__}.{self.name}"


HOOKS: tuple[Hook, ...] = (
    Hook(kt.Hyperband, "_build_hypermodel", ("hp",),
         "build a trial's network and, for a promoted trial, load its parent's checkpoint"),
    Hook(kt.Tuner, "_get_checkpoint_fname", ("trial_id",),
         "write, load and prune a trial's best-epoch weights"),
    Hook(kt.Tuner, "_get_build_config_fname", ("trial_id",),
         "write the build config a promoted trial's rebuild reads"),
    Hook(kt.oracles.HyperbandOracle, "_get_size", ("bracket_num", "round_num"),
         "know whether a Hyperband round may still promote trials of the round before it"),
    Hook(kt.oracles.HyperbandOracle, "_brackets", None,
         "list the open brackets and their rounds ({'bracket_num', 'rounds': [[{'id', 'past_id'}]]})"),
    Hook(kt.oracles.HyperbandOracle, "ongoing_trials", None,
         "keep the checkpoints of running trials"),
    Hook(kt.oracles.HyperbandOracle, "max_trials", None,
         "stop creating trials at the deadline (create_trial returns STOPPED once len(trials) >= max_trials)"),
    Hook(kt.oracles.HyperbandOracle, "min_epochs", None,
         "run fewer, less aggressive brackets on a short budget (_get_num_brackets counts down to it)"),
    Hook(kt.oracles.HyperbandOracle, "_get_num_brackets", (),
         "restart the first iteration at the most aggressive bracket left"),
    Hook(kt.oracles.HyperbandOracle, "_current_bracket", None,
         "restart the first iteration at the most aggressive bracket left"),
    Hook(kt.oracles.HyperbandOracle, "_start_new_bracket", (),
         "open that bracket"),
)


class HyperbandAdapter(kt.Hyperband):
    """``kt.Hyperband`` with the undocumented operations autoann needs, under public names."""

    def build_promoted(self, hp: kt.HyperParameters) -> keras.Model:
        """Build the trial's network; a promoted trial also gets its parent's best-epoch weights."""
        with warnings.catch_warnings():
            # The parent's checkpoint holds optimizer slots the fresh model does not need.
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            return self._build_hypermodel(hp)

    def checkpoint_path(self, trial_id: str) -> str:
        """Where Keras Tuner keeps (and a promotion loads) the trial's best-epoch weights."""
        return self._get_checkpoint_fname(trial_id)

    def build_config_path(self, trial_id: str) -> str:
        """Where a promotion reads the build config of its parent."""
        return self._get_build_config_fname(trial_id)

    def stop_creating_trials(self) -> None:
        """Let running trials finish and create no new one: ``search()`` then returns normally.

        ``max_trials`` is not saved in ``oracle.json``, so a resumed search is unaffected.
        """
        self.oracle.max_trials = len(self.oracle.trials)

    def limit_brackets(self, brackets: int) -> None:
        """Run only the ``brackets`` least aggressive brackets of every Hyperband iteration.

        Keras Tuner counts brackets down to ``min_epochs`` (always 1); raising it drops
        the brackets that start many configurations at a few epochs each. Before the
        first trial the first bracket is reopened; a resumed oracle keeps its own.
        """
        oracle: Any = self.oracle
        oracle.min_epochs = oracle.max_epochs / oracle.factor ** (brackets - 1) * (1 - 1e-9)
        if not oracle.trials:
            oracle._current_bracket = oracle._get_num_brackets() - 1
            oracle._brackets = []
            oracle._start_new_bracket()

    def promotable_trial_ids(self) -> set[str]:
        """Trials that Hyperband may still promote or is running: their checkpoints must stay."""
        oracle: Any = self.oracle
        keep = {trial.trial_id for trial in oracle.ongoing_trials.values()}
        for bracket in oracle._brackets:
            rounds = bracket["rounds"]
            for r in range(len(rounds) - 1):
                if len(rounds[r + 1]) < oracle._get_size(bracket["bracket_num"], r + 1):
                    keep |= {info["id"] for info in rounds[r]}
        return keep
