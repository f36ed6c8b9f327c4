"""The one module that reaches into Keras Tuner's undocumented API.

Keras Tuner documents its hooks (``run_trial``, ``on_trial_begin/end``,
``pre_create_trial``, ``HyperModel.build/fit``, the oracle's ``create_trial`` and
``end_trial``) but not the ones autoann needs to write one checkpoint per trial,
stop on a deadline, prune checkpoints Hyperband can no longer promote, and serve
the oracle to worker processes without Keras Tuner's own server loop (it polls
every second and, once stopped, waits in steps of 20 s: a minute-long budget
cannot afford that). Keras Tuner is in maintenance mode, so autoann relies on
them, here only, behind public-named methods, with ``keras-tuner`` pinned to the
minor version they were read from (pyproject.toml). :data:`HOOKS` lists every
such name; tests/test_kt_adapter.py checks each against the installed Keras
Tuner and names the one an upgrade removed or changed.
"""

from __future__ import annotations

import contextlib
import warnings
from concurrent import futures
from dataclasses import dataclass
from typing import Any, Iterator

import keras
import keras_tuner as kt
from keras_tuner.src import protos
from keras_tuner.src.distribute import oracle_chief, oracle_client
from keras_tuner.src.engine import conditions


@dataclass(frozen=True)
class Hook:
    """An undocumented Keras Tuner name autoann uses: a method (with its parameters after ``self``),
    an attribute set on instances, or a module's name, and what autoann needs it for."""

    owner: Any  # a class, or a module for module-level names
    name: str
    params: tuple[str, ...] | None  # None: an attribute (of instances, or of the module), not a method
    use: str

    def __str__(self) -> str:
        return f"{self.owner.__name__}.{self.name}"


HOOKS: tuple[Hook, ...] = (
    Hook(kt.Tuner, "_get_checkpoint_fname", ("trial_id",),
         "write, load and prune a trial's best-epoch weights"),
    Hook(kt.Oracle, "_get_trial_dir", ("trial_id",),
         "read the record a worker wrote beside the trial's checkpoint"),
    Hook(kt.oracles.HyperbandOracle, "_get_size", ("bracket_num", "round_num"),
         "know whether a Hyperband round may still promote trials of the round before it"),
    Hook(kt.oracles.HyperbandOracle, "_brackets", None,
         "list the open brackets and their rounds ({'bracket_num', 'rounds': [[{'id', 'past_id'}]]})"),
    Hook(kt.oracles.HyperbandOracle, "ongoing_trials", None,
         "keep the checkpoints of running trials; know which worker runs which trial"),
    Hook(kt.oracles.HyperbandOracle, "tuner_ids", None,
         "forget a worker that died"),
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
    Hook(oracle_chief, "OracleServicer", None,
         "answer the workers' gRPC calls with the chief's oracle, in autoann's own server loop"),
    Hook(protos, "get_service_grpc", (),
         "register that servicer on a gRPC server"),
    Hook(oracle_client, "TIMEOUT", None,
         "give up on a chief that is gone after seconds, not Keras Tuner's hour"),
    Hook(conditions.Parent, "to_proto", (),
         "silence the debugging print it was released with (1.4.8 prints a value per conditional hyperparameter "
         "each time a trial goes over gRPC)"),
)


@contextlib.contextmanager
def quiet_conditions() -> Iterator[None]:
    """While inside, sending a trial over gRPC prints nothing (see the last of :data:`HOOKS`).

    A module-level ``print`` in ``conditions`` shadows the builtin for that module alone; it is removed after.
    """
    conditions.print = lambda *args, **kwargs: None
    try:
        yield
    finally:
        del conditions.print


class HyperbandAdapter(kt.Tuner):
    """A ``kt.Tuner`` with the undocumented operations a Hyperband worker needs, under public names."""

    def build_promoted(self, hp: kt.HyperParameters) -> keras.Model:
        """Build the trial's network; a promoted trial also gets its parent's best-epoch weights."""
        model = self.hypermodel.build(hp)
        parent = hp.values.get("tuner/trial_id")
        if parent is not None:
            with warnings.catch_warnings():
                # The parent's checkpoint holds optimizer slots the fresh model does not need.
                warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
                model.load_weights(self.checkpoint_path(parent))
        return model

    def checkpoint_path(self, trial_id: str) -> str:
        """Where Keras Tuner keeps (and a promotion loads) the trial's best-epoch weights."""
        return self._get_checkpoint_fname(trial_id)


class OracleAdapter(kt.oracles.HyperbandOracle):
    """Keras Tuner's Hyperband oracle with the undocumented operations autoann needs, under public names."""

    def trial_dir(self, trial_id: str) -> str:
        """The folder of the trial's ``trial.json`` and checkpoint."""
        return self._get_trial_dir(trial_id)

    def stop_creating_trials(self) -> None:
        """Let running trials finish and create no new one: every tuner's ``search()`` then returns normally.

        ``max_trials`` is not saved in ``oracle.json``, so a resumed search is unaffected.
        """
        self.max_trials = len(self.trials)

    def running(self) -> dict[str, Any]:
        """The trial each tuner (worker) is running now, by tuner id."""
        return dict(self.ongoing_trials)

    def forget_tuner(self, tuner_id: str) -> None:
        """A worker that is gone no longer counts as connected."""
        self.tuner_ids.discard(tuner_id)

    def limit_brackets(self, brackets: int) -> None:
        """Run only the ``brackets`` least aggressive brackets of every Hyperband iteration.

        Keras Tuner counts brackets down to ``min_epochs`` (always 1); raising it drops
        the brackets that start many configurations at a few epochs each. Before the
        first trial the first bracket is reopened; a resumed oracle keeps its own.
        """
        self.min_epochs = self.max_epochs / self.factor ** (brackets - 1) * (1 - 1e-9)
        if not self.trials:
            self._current_bracket = self._get_num_brackets() - 1
            self._brackets = []
            self._start_new_bracket()

    def promotable_trial_ids(self) -> set[str]:
        """Trials that Hyperband may still promote or is running: their checkpoints must stay."""
        keep = {trial.trial_id for trial in self.ongoing_trials.values()}
        for bracket in self._brackets:
            rounds = bracket["rounds"]
            for r in range(len(rounds) - 1):
                if len(rounds[r + 1]) < self._get_size(bracket["bracket_num"], r + 1):
                    keep |= {info["id"] for info in rounds[r]}
        return keep


class OracleServer:
    """The chief's oracle served over gRPC (Keras Tuner's protocol, so its ``OracleClient`` workers connect).

    The channel is unauthenticated and unencrypted, as Keras Tuner's is: bind it to
    127.0.0.1 or to a trusted private network only.
    """

    def __init__(self, oracle: kt.Oracle, host: str, port: int):
        import grpc

        # One thread, as Keras Tuner's own server: the oracle's calls are serialized anyway. No SO_REUSEPORT
        # (gRPC's default): a second search on the same port must fail, not split the workers' calls with this one.
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=1), options=[("grpc.so_reuseport", 0)])
        protos.get_service_grpc().add_OracleServicer_to_server(oracle_chief.OracleServicer(oracle), self._server)
        try:
            self.port = self._server.add_insecure_port(f"{host}:{port}")
        except RuntimeError:  # grpcio raises when it cannot bind; older releases returned 0
            self.port = 0
        if not self.port:
            raise OSError(f"cannot listen on {host}:{port}: the port is in use or the address is not this machine's")
        self._server.start()

    def stop(self) -> None:
        self._server.stop(grace=None)


def connect_as_worker(tuner_id: str, host: str, port: int, timeout_seconds: float) -> dict[str, str]:
    """The environment that makes a Keras Tuner ``Tuner`` built in this process a worker of the chief at
    ``host:port`` (Keras Tuner reads it when the tuner is built), and a bound on each call to the chief.

    Returns the variables to set; the caller sets and later restores them.
    """
    oracle_client.TIMEOUT = timeout_seconds
    return {"KERASTUNER_TUNER_ID": tuner_id, "KERASTUNER_ORACLE_IP": host, "KERASTUNER_ORACLE_PORT": str(port)}

