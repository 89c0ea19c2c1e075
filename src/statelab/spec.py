"""The experiment spec: a handful of orthogonal settings, validated once, immutable.

The study's eleven experiments are presets of this one spec (see :data:`PRESETS`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Literal

from statelab.engine.profile import PROFILES, Profile
from statelab.errors import StatelabError

MAX_SEED = 2**31 - 1
# Adam's step is about the learning rate: above this, every repeat diverges (the study: 0.001).
MAX_LEARNING_RATE = 10.0
# Upper bounds that keep a typo from hanging the machine (the study uses 1000 epochs and
# 1 unit; the engine's cost grows with each of these).
LIMITS = {"epochs": 1_000_000, "neurons": 256, "lags": 64, "batch_size": 4096, "test_rows": 1000}
# Seed streams fold into a repeat's key as uint32 (statelab.engine.lstm.initial_weights).
MAX_SEED_STREAM = 2**32 - 1
# Settings an error names by another option than --their-name.
OPTIONS = {"test_rows": "--test-size"}


def check_seed(seed: object) -> int:
    """A master seed: a whole number in [0, 2**31 - 1]."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise StatelabError(f"--seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
    return seed


FORECASTS = ("one-step", "batched")


@dataclass(frozen=True)
class Spec:
    """How one experiment trains and forecasts. Every setting is data for the engine.

    ``train_window`` None trains on every row before the test; N on the last N.
    ``seed_stream`` picks an independent stream of initial weights (the A-vs-A twin).
    """

    stateful: bool = True
    batch_size: int = 1
    shuffle: bool = False
    epochs: int = 1000
    neurons: int = 1
    lags: int = 1
    learning_rate: float = 0.001
    profile: Literal["keras3", "keras2017"] = "keras3"
    train_window: int | None = None
    test_rows: int = 12
    reset_after_epoch: bool = True
    reset_after_prediction: bool = False
    seed_state: bool = False
    forecast: Literal["one-step", "batched"] = "one-step"
    seed_stream: int = 0

    def __post_init__(self) -> None:
        for name in ("batch_size", "epochs", "neurons", "lags", "test_rows"):
            value = getattr(self, name)
            option = OPTIONS.get(name, f"--{name.replace('_', '-')}")  # as the CLI names it
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise StatelabError(f"{option} must be a whole number >= 1, got {value!r}")
            if value > LIMITS[name]:
                raise StatelabError(f"{option} must be at most {LIMITS[name]}, got {value}")
        if (
            isinstance(self.seed_stream, bool)
            or not isinstance(self.seed_stream, int)
            or not 0 <= self.seed_stream <= MAX_SEED_STREAM
        ):
            raise StatelabError(
                f"seed_stream must be a whole number from 0 to {MAX_SEED_STREAM} (a key's "
                f"uint32), got {self.seed_stream!r}"
            )
        if self.train_window is not None and (
            not isinstance(self.train_window, int) or self.train_window < 2
        ):
            raise StatelabError(
                f"--train-window must be a whole number >= 2 (one row has nothing to learn), "
                f"got {self.train_window!r}"
            )
        if (
            isinstance(self.learning_rate, bool)
            or not isinstance(self.learning_rate, int | float)
            or not 0 < self.learning_rate <= MAX_LEARNING_RATE
        ):
            raise StatelabError(
                f"--learning-rate must be a number above 0 and at most {MAX_LEARNING_RATE:g} "
                f"(the study: 0.001), got {self.learning_rate!r}"
            )
        if self.profile not in PROFILES:
            raise StatelabError(
                f"unknown profile {self.profile!r}; choose one of {', '.join(PROFILES)}"
            )
        if self.forecast not in FORECASTS:
            raise StatelabError(
                f"unknown forecast {self.forecast!r}; choose one of {', '.join(FORECASTS)}"
            )
        if self.stateful and self.forecast == "one-step" and self.batch_size != 1:
            raise StatelabError(
                f"a stateful model with batch size {self.batch_size} predicts {self.batch_size} "
                "rows at a time: use --forecast batched, or --batch-size 1"
            )
        if self.stateful and self.forecast == "batched" and self.test_rows % self.batch_size:
            raise StatelabError(
                f"stateful batched forecasting needs the {self.test_rows} test rows to divide by "
                f"the batch size {self.batch_size}"
            )

    @property
    def keras(self) -> Profile:
        """The profile of Keras defaults this spec follows."""
        return PROFILES[self.profile]

    @property
    def forecast_batch(self) -> int:
        """Rows predicted at once: 1 one-step, the batch size when batched."""
        return self.batch_size if self.forecast == "batched" else 1

    def check_rows(self, train_rows: int) -> None:
        """Settings that depend on how many training rows the data gives."""
        if self.batch_size > train_rows:
            raise StatelabError(
                f"batch size {self.batch_size} exceeds the {train_rows} training rows: "
                f"use --batch-size {train_rows} or less"
            )
        if self.stateful and train_rows % self.batch_size:
            raise StatelabError(
                f"a stateful fit needs the {train_rows} training rows to divide by the batch size "
                f"{self.batch_size}: choose a divisor of {train_rows} or set --train-window"
            )
        if self.stateful and self.seed_state and train_rows % self.forecast_batch:
            raise StatelabError(
                f"seeding the state predicts the {train_rows} training rows in batches of "
                f"{self.forecast_batch}, which must divide them"
            )

    def replace(self, **changes: object) -> Spec:
        """A new spec with ``changes`` applied (validated again)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise StatelabError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """A short stable hash of the settings, for provenance and store keys."""
        return _digest(self)


@dataclass(frozen=True)
class Setup:
    """The set-up a study runs all its experiments at: the settings a user may vary without
    changing what an experiment is (None keeps each preset's own; the study's is 1000 epochs,
    1 neuron, 1 lag, learning rate 0.001, keras3). Statefulness, batch size, shuffling and the
    resets define the experiments, so they are not part of a set-up."""

    epochs: int | None = None
    neurons: int | None = None
    lags: int | None = None
    learning_rate: float | None = None
    profile: str | None = None

    def changes(self) -> dict[str, object]:
        """The settings this set-up changes, by Spec field."""
        return {
            name: value for name, value in dataclasses.asdict(self).items() if value is not None
        }

    def apply(self, spec: Spec) -> Spec:
        """``spec`` at this set-up (validated again)."""
        return spec.replace(**self.changes())


@functools.lru_cache(maxsize=4096)
def _digest(spec: Spec) -> str:
    # Cached: the store asks for it once a row, and a spec never changes.
    text = json.dumps(spec.to_dict(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    description: str
    spec: Spec


_STATEFUL = Spec()
_STATELESS = Spec(stateful=False)

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "stateful",
            "noseed_1",
            "stateful, batch 1, reset after every epoch; state carried "
            "across the 12 one-step predictions",
            _STATEFUL,
        ),
        Preset(
            "stateful2",
            "stateful2",
            "the same as stateful from an independent seed stream (the A-vs-A test)",
            _STATEFUL.replace(seed_stream=1),
        ),
        Preset(
            "stateless",
            "stateless",
            "stateless, batch 1, one fit, no shuffle; every prediction from zero state",
            _STATELESS,
        ),
        Preset(
            "stateless_shuffle",
            "stateless_shuffle",
            "as stateless, training rows shuffled anew every epoch",
            _STATELESS.replace(shuffle=True),
        ),
        Preset(
            "stateful_batch12",
            "stateful_batch12",
            "stateful, batch 12 on the last 12 "
            "training rows, reset after every epoch; one batched forecast",
            _STATEFUL.replace(batch_size=12, train_window=12, forecast="batched"),
        ),
        Preset(
            "stateless_batch12",
            "stateless_batch12",
            "stateless, batch 12 on the last 12 training rows; one batched forecast",
            _STATELESS.replace(batch_size=12, train_window=12, forecast="batched"),
        ),
        Preset(
            "stateful_reset_test",
            "noseed_2",
            "stateful, reset after every epoch and after every test prediction",
            _STATEFUL.replace(reset_after_prediction=True),
        ),
        Preset(
            "stateful_noreset",
            "noseed_3",
            "stateful, never reset: training state flows from epoch to epoch and into the test",
            _STATEFUL.replace(reset_after_epoch=False),
        ),
        Preset(
            "stateful_seed_train",
            "seed_1",
            "stateful, reset after every epoch; the state is "
            "seeded on the training rows before the test",
            _STATEFUL.replace(seed_state=True),
        ),
        Preset(
            "stateful_seed_train_resets",
            "seed_2",
            "stateful, seeded on the training rows, reset after every prediction (train and test)",
            _STATEFUL.replace(seed_state=True, reset_after_prediction=True),
        ),
        Preset(
            "stateful_seed_train_no_resets",
            "seed_3",
            "stateful, never reset; seeded on the training rows",
            _STATEFUL.replace(seed_state=True, reset_after_epoch=False),
        ),
    )
}


def preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise StatelabError(
            f"unknown preset {name!r}; `statelab presets` lists them: {', '.join(PRESETS)}"
        ) from None
