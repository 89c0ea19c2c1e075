import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from statelab.data import transforms

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@given(arrays(float, st.integers(2, 60), elements=finite))
def test_difference_round_trip(values):
    rebuilt = transforms.undifference(values[0], transforms.difference(values))
    np.testing.assert_allclose(rebuilt, values, rtol=1e-9, atol=1e-6)
    previous = values[:-1]
    np.testing.assert_allclose(
        transforms.inverse_difference(previous, transforms.difference(values)),
        values[1:],
        rtol=1e-9,
        atol=1e-6,
    )


@given(
    st.integers(1, 5).flatmap(
        lambda lags: st.tuples(
            st.just(lags), arrays(float, st.integers(lags + 1, 40), elements=finite)
        )
    )
)
def test_framing_round_trip(case):
    lags, values = case
    inputs, targets = transforms.frame_supervised(values, lags)
    assert inputs.shape == (len(values) - lags, lags)
    # column k holds lag k + 1: the value k + 1 steps before the target
    for k in range(lags):
        np.testing.assert_array_equal(inputs[:, k], values[lags - k - 1 : len(values) - k - 1])
    np.testing.assert_array_equal(transforms.unframe_supervised(inputs, targets), values)


@given(arrays(float, st.tuples(st.integers(1, 30), st.integers(1, 4)), elements=finite))
def test_scaling_round_trip_and_range(table):
    scaler = transforms.fit_scaler(table)
    scaled = transforms.scale(scaler, table)
    assert scaled.min() >= -1 - 1e-9 and scaled.max() <= 1 + 1e-9
    np.testing.assert_allclose(transforms.unscale(scaler, scaled), table, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(
        transforms.unscale_column(scaler, -1, scaled[:, -1]), table[:, -1], rtol=1e-9, atol=1e-6
    )


def test_scaling_matches_the_formula():
    table = np.array([[0.0, 10.0], [5.0, 20.0], [10.0, 30.0]])
    scaled = transforms.scale(transforms.fit_scaler(table), table)
    np.testing.assert_allclose(scaled, [[-1, -1], [0, 0], [1, 1]])
