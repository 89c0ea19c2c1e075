"""The two profiles of Keras defaults the engine can follow, each one object: the recurrent
activation, Adam's epsilon and moment form, and Adam's betas."""

from __future__ import annotations

from typing import NamedTuple


class Profile(NamedTuple):
    name: str
    hard_sigmoid: bool  # recurrent activation: Keras 2's clip(0.2 x + 0.5, 0, 1), else sigmoid
    epsilon: float  # Adam's epsilon, added outside the square root
    keras2_moments: bool  # Adam's moments as Keras 2 wrote them (see optim.keras_adam)
    beta_1: float = 0.9
    beta_2: float = 0.999


PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        # Keras 3: sigmoid, epsilon 1e-7.
        Profile("keras3", hard_sigmoid=False, epsilon=1e-7, keras2_moments=False),
        # The Keras 2 the study ran on: hard_sigmoid, epsilon 1e-8.
        Profile("keras2017", hard_sigmoid=True, epsilon=1e-8, keras2_moments=True),
    )
}
