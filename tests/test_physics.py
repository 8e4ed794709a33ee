"""Dispersion delays: the fast table equals the plain numpy formula bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from frbtriage.physics import delay_samples, delay_table


@settings(max_examples=60, deadline=None)
@given(nchan=st.integers(1, 300), ndm=st.integers(1, 40),
       dm_max=st.floats(0.0, 5000.0), f_lo=st.floats(100.0, 1500.0),
       bw=st.floats(1.0, 800.0), descending=st.booleans(),
       tsamp=st.floats(1e-5, 1e-2))
def test_delay_table_equals_delay_samples(nchan, ndm, dm_max, f_lo, bw, descending, tsamp):
    freqs = f_lo + bw * np.arange(nchan) / nchan
    if descending:
        freqs = freqs[::-1]
    dms = np.linspace(0.0, dm_max, ndm)
    got = delay_table(dms, freqs, tsamp)
    assert got.dtype == np.int64 and got.shape == (ndm, nchan)
    np.testing.assert_array_equal(got, delay_samples(dms[:, None], freqs, tsamp))
    assert (got >= 0).all()


def test_delay_table_chime_values():
    """400-800 MHz at DM 100: the bottom channel lags the top by 4.148808e3 * 100 *
    (400^-2 - 800^-2) s = 1.9448 s = 1978 samples of 0.98304 ms; 600 MHz: 0.5042 s = 513."""
    freqs = np.array([800.0, 600.0, 400.0])
    np.testing.assert_array_equal(delay_table([0.0, 100.0], freqs, 0.98304e-3),
                                  [[0, 0, 0], [0, 513, 1978]])
