"""The schemas of the JSON files statelab writes and reads back (study.json,
generalise.json, vary.json, moderators.json, the advice model), declared once (pydantic): the writers check
each record against its model before writing it, and the report reads it back through the
same model. The tables' schemas are in statelab.layout.

A record keeps every field it holds (``extra="allow"``); a model lists those a reader relies
on. Types are strict: JSON's true is not an integer, "3" is not a number.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from statelab.errors import StatelabError


class RecordMismatch(StatelabError):
    """A record does not match its model: one line naming the first field at fault."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


Number = Annotated[float, Field(strict=True)]  # an int or a float, never a bool or text


class _Pool(_Record):
    repeats: int


class _Series(_Record):
    index: list
    values: list

    @field_validator("index")
    @classmethod
    def _dated(cls, index: list) -> list:
        if not index:
            raise ValueError("is empty")
        return index

    @field_validator("values")
    @classmethod
    def _finite(cls, values: list, info) -> list:
        index = info.data.get("index")
        if index is not None and len(values) != len(index):
            raise ValueError(f"holds {len(values)} values for {len(index)} dates")
        if not all(_finite(v) for v in values):
            raise ValueError("must hold finite numbers only")
        return values


class _Experiment(_Record):
    settings: dict
    versions: list


class StudyRecord(_Record):
    """study.json: what produced a study on one series (statelab.outputs.study.provenance)."""

    seed: int
    repeats: int
    persistence_rmse: Number
    pool: _Pool
    versions: dict
    series: _Series
    experiments: dict[str, _Experiment]

    @field_validator("persistence_rmse")
    @classmethod
    def _finite_rmse(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("experiments")
    @classmethod
    def _some(cls, experiments: dict) -> dict:
        if not experiments:
            raise ValueError("is empty")
        return experiments


class _Friedman(_Record):
    statistic: Number
    p: Number
    critical_difference: Number


class GeneraliseRecord(_Record):
    """generalise.json: what produced a generalisation, and its answer in words
    (statelab.outputs.generalise.record)."""

    data: str
    seed: int
    repeats: int
    margin: Number
    series: int
    horizon_note: str
    answer: list[str]
    skipped: list
    experiments_on_first_series: dict
    versions: list
    devices: list
    friedman: _Friedman | None = None  # None: fewer than two complete series to rank


class VaryRecord(_Record):
    """vary.json and vary_study.json: what produced a set-up study (across a collection, or
    on one series), its levels, and its answer in words (statelab.outputs.setup.record,
    statelab.outputs.setup_one.record)."""

    data: str
    seed: int
    repeats: int
    margin: Number
    base_setup: dict
    factors: dict
    levels: list
    notes: list[str]
    answer: list[str]
    grid: bool


class _OutOfSample(_Record):
    fitted: int
    held_out: int
    coverage: Number
    rmse: Number
    baseline_coverage: Number
    baseline_rmse: Number


class _Model(_Record):
    expectation: str
    frequency: int | None
    moderators: list[str]
    dropped: list[str]
    series: int
    left_out: int
    k: int | None  # None: too few series for a model
    tau2: Number | None
    r2: Number | None
    out_of_sample: _OutOfSample | None
    words: str


class ModeratorsRecord(_Record):
    """moderators.json: which series does state help, per expectation and frequency
    (statelab.outputs.moderators.record); the coefficients are in moderators.csv."""

    data: str
    seed: int
    moderators: list[str]
    models: list[_Model]
    answer: list[str]


class _AdviceFit(_Record):
    expectation: str
    frequency: int | None
    moderators: list[str]
    mean: list[Number]  # of each moderator over the series fitted: the standardisation
    sd: list[Number]
    low: list[Number]  # each moderator's range over them: advice outside it extrapolates
    high: list[Number]
    estimate: list[Number]  # the coefficients on the standardised moderators, intercept first
    covariance: list[list[Number]]
    tau2: Number
    df: int
    k: int
    words: str

    @field_validator("mean", "sd", "low", "high", "estimate", "tau2")
    @classmethod
    def _finite_values(cls, value):
        if not all(_finite(v) for v in (value if isinstance(value, list) else [value])):
            raise ValueError("must hold finite numbers only")
        return value


class AdviceModelRecord(_Record):
    """The advice model (statelab advise): per expectation and frequency, a meta-regression
    fitted on a generalisation's series, with what made it (statelab.studies.advice)."""

    kind: str
    format: int
    statelab: str  # the version that made it
    engine_revision: int  # the engine whose results it was fitted on
    command: str  # the command that remakes it
    data: str
    series: int
    repeats: int
    seed: int
    setup: dict  # epochs, neurons, lags, learning rate, profile of the experiments
    versions: list
    identical: list[str]  # expectations identical on every series fitted
    fits: list[_AdviceFit]
    fingerprints: list[str]  # of the series fitted (statelab.studies.advice.fingerprint)
    checksum: str  # BLAKE2b of the record without it (statelab.studies.advice.checksum)


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


_KINDS = {
    "int_type": "an integer",
    "float_type": "a number",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "list_type": "a list",
    "string_type": "a string",
    "bool_type": "true or false",
}


def check(model: type[_Record], record: object) -> dict:
    """``record`` as ``model`` reads it (the record itself, every field kept); raises
    :class:`RecordMismatch` in one line naming the first field at fault."""
    if not isinstance(record, dict):
        raise RecordMismatch(f"must be a JSON object, not {_json_kind(record)}")
    try:
        model.model_validate(record)
    except ValidationError as error:
        first = error.errors()[0]
        where = "'" + ".".join(str(part) for part in first["loc"]) + "'"
        kind = first["type"]
        if kind == "missing":
            raise RecordMismatch(f"{where} is missing") from None
        if kind in _KINDS:
            found = _json_kind(first["input"])
            raise RecordMismatch(f"{where} must be {_KINDS[kind]}, not {found}") from None
        message = str(first["msg"]).removeprefix("Value error, ")
        raise RecordMismatch(f"{where} {message}") from None
    return record


def _json_kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
