"""The two messages between the driver and a Ray worker: the job sent, the report returned.

Both are dataclasses whose field names are the record's names (``trials.record``), and both
are checked where they are built and where they are read: a field missing, renamed or of the
wrong type raises ``ProtocolError`` at once, instead of a ``result.get(name)`` writing ``None``
into the storage that a report finds a year later.  Ray Tune carries them as plain dicts
(``to_dict``/``from_dict``): Tune adds bookkeeping keys of its own to every result
(``training_iteration``, ``time_this_iter_s``, ...), which ``from_result`` leaves aside.
Imports neither torch nor Ray, so the driver, the worker and the tests share it.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Union

from trials import record


class ProtocolError(TypeError):
    """A job or report does not have the fields and types the other end expects: a bug, not bad input."""


def _fits(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (Union, types.UnionType):
        return any(_fits(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        args = typing.get_args(hint)
        inner = args[0] if args and (origin is list or (len(args) == 2 and args[1] is Ellipsis)) else Any
        return all(_fits(v, inner) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    return isinstance(value, origin or hint)


class _Message:
    """Type checks on construction, and a strict reading from a dict."""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if not _fits(value, hints[f.name]):
                raise ProtocolError(f"{type(self).__name__}.{f.name}={value!r:.80}: expected {hints[f.name]}")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, raw: dict[str, Any], strict: bool = True):
        """Read a message; every field without a default must be there.  ``strict``: no other
        key either (a job); a result also carries Tune's own keys, so reports read non-strict."""
        names = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        required = [n for n, f in names.items()
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        missing = [n for n in required if n not in raw]
        if missing:
            raise ProtocolError(f"{cls.__name__}: missing field(s) {', '.join(missing)}; got keys {sorted(raw)}")
        if strict and set(raw) - set(names):
            raise ProtocolError(f"{cls.__name__}: unknown field(s) {', '.join(sorted(set(raw) - set(names)))}")
        return cls(**{n: raw[n] for n in names if n in raw})


@dataclasses.dataclass(frozen=True)
class TrialJob(_Message):
    """What the driver's searcher sends a worker for one trial (Tune's trial config)."""

    number: int  # the Optuna trial number
    params: dict[str, Any]  # the flattened ArchSpec, exactly the trial's Optuna params
    training: dict[str, Any]  # dataclasses.asdict(TrainingConfig)
    epochs: int
    cpus_per_trial: float
    gpus_per_trial: float
    latency_batch: int
    weights_dir: str | None
    cost: dict[str, Any] | None = None  # params and MACs, known before training (MOASHA ranks by them)
    # the epochs before the last after which the worker reports (see ``search.report_epochs``); None: every one
    report_epochs: list[int] | None = None


#: the fields of a report that are not stored as trial user attrs, and why
NOT_RECORDED = {
    "accuracy": "an objective value (study.tell), not a user attr",
    "final": "protocol only: True on the last report of a trial",
    "pid": "protocol only: which worker process trained it (Ray's result.json keeps it)",
    "cost": "already recorded as params/macs when the trial was asked",
}


@dataclasses.dataclass(frozen=True)
class TrialReport(_Message):
    """What a worker reports: after the epochs in ``TrialJob.report_epochs`` (``final`` False), and once at the end.

    ``epochs_done`` is the scheduler's time attribute and ``accuracy`` its metric; a final
    report carries either the whole training result or ``error`` (a failed candidate).
    """

    epochs_done: int
    accuracy: float
    node_id: str
    hostname: str
    device: str
    pid: int
    latency_ms: float | None = None
    final: bool = False
    error: str | None = None
    accuracy_replicates: list[float] | None = None
    val_accuracy_history: list[float] | None = None
    val_accuracy_by_replicate: list[list[float]] | None = None
    train_time_s: float | None = None
    images_per_s: float | None = None
    train_timeline: list[list[float]] | None = None
    weights_path: str | None = None
    hcnn_base_seeds: list[list[int]] | None = None
    hcnn_base_accuracies: list[list[float]] | None = None
    test_accuracy_replicates: list[float] | None = None  # None unless the data carry the test split

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> TrialReport:
        return cls.from_dict(result, strict=False)


#: the report fields written as user attrs on a trial that trained to its end
FINAL_RECORDED = (record.ACCURACY_REPLICATES, record.VAL_ACCURACY_HISTORY, record.VAL_ACCURACY_BY_REPLICATE,
                  record.TRAIN_TIME_S, record.IMAGES_PER_S, record.TRAIN_TIMELINE, record.WEIGHTS_PATH,
                  record.HCNN_BASE_SEEDS, record.HCNN_BASE_ACCURACIES, record.TEST_ACCURACY_REPLICATES)
#: where the trial ran, written as soon as the first report arrives
WHERE_RECORDED = (record.LATENCY_MS, record.NODE_ID, record.HOSTNAME, record.DEVICE)
