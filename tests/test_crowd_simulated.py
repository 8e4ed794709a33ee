"""Simulated volunteers."""

from __future__ import annotations

import numpy as np
import pytest

from frbtriage.crowd import ASTRO, CANT_TELL, NOT_ASTRO, RFI
from frbtriage.crowd.simulated import (
    CARELESS,
    DILIGENT,
    RFI_BIASED,
    CrowdConfig,
    SimulatedCrowd,
)
from frbtriage.errors import InputError


def test_population_mix_follows_the_config():
    crowd = SimulatedCrowd(CrowdConfig(n_volunteers=50), seed=1)
    assert (crowd.kind == CARELESS).sum() == 10          # 20 % by default
    assert (crowd.kind == RFI_BIASED).sum() == 8         # round(15 % of 50)
    assert np.all(crowd.cant_tell_rate[crowd.kind == CARELESS] == 0)
    assert np.all((crowd.sensitivity > 0) & (crowd.sensitivity < 1))


def test_same_seed_same_answers_other_seed_other_answers():
    def run(seed):
        crowd = SimulatedCrowd(seed=seed)
        sim = crowd.simulate(200, 3)
        return sim.answer, crowd.answer(0, ASTRO, 0.5)

    a, b, c = run(4), run(4), run(5)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1] and a[1] in (ASTRO, RFI, CANT_TELL)
    assert not np.array_equal(a[0], c[0])


def test_answer_model():
    crowd = SimulatedCrowd(seed=2)
    kinds = {k: int(np.flatnonzero(crowd.kind == k)[0]) for k in (DILIGENT, CARELESS,
                                                                 RFI_BIASED)}
    p = crowd.probabilities(list(kinds.values()), ASTRO, 0.0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    d, c, b = p
    assert d[ASTRO] == pytest.approx(crowd.sensitivity[kinds[DILIGENT]])
    np.testing.assert_allclose(c, 1 / 3)
    assert b[RFI] >= crowd.config.rfi_bias
    # skill fades to a coin flip on the hardest items; the cautious answer cant_tell there
    cautious = int(np.flatnonzero(crowd.cant_tell_rate > 0)[0])
    hard = crowd.probabilities(cautious, NOT_ASTRO, 1.0)[0]
    assert hard[CANT_TELL] == pytest.approx(crowd.config.cant_tell_hard)
    assert hard[ASTRO] == pytest.approx(hard[RFI])
    assert crowd.probabilities(cautious, NOT_ASTRO, 0.0)[0, CANT_TELL] == 0


def test_answers_follow_the_probabilities():
    crowd = SimulatedCrowd(seed=3)
    n = 20000
    volunteer = np.full(n, int(np.flatnonzero(crowd.kind == RFI_BIASED)[0]))
    got = np.bincount(crowd.answers(volunteer, ASTRO, 0.3), minlength=3) / n
    np.testing.assert_allclose(got, crowd.probabilities(volunteer[0], ASTRO, 0.3)[0],
                               atol=0.015)


def test_simulate_shapes_and_distinct_volunteers_per_item():
    crowd = SimulatedCrowd(seed=0)
    sim = crowd.simulate(100, 7, astro_fraction=0.5)
    assert sim.item.shape == sim.worker.shape == sim.answer.shape == (700,)
    assert sim.truth.shape == sim.difficulty.shape == (100,)
    pairs = sim.item * crowd.n_volunteers + sim.worker
    assert np.unique(pairs).size == 700
    assert set(np.unique(sim.truth)) <= {ASTRO, NOT_ASTRO}
    assert np.all((sim.difficulty >= 0) & (sim.difficulty <= 1))


@pytest.mark.parametrize("config", [
    CrowdConfig(n_volunteers=0), CrowdConfig(careless_fraction=1.2),
    CrowdConfig(careless_fraction=0.6, rfi_biased_fraction=0.6),
    CrowdConfig(sensitivity=(0.0, 1.0)),
])
def test_bad_config_raises_input_error(config):
    with pytest.raises(InputError):
        SimulatedCrowd(config)


def test_bad_queries_raise_input_error():
    crowd = SimulatedCrowd(CrowdConfig(n_volunteers=5))
    with pytest.raises(InputError, match="volunteer index"):
        crowd.answer(5, ASTRO, 0.0)
    with pytest.raises(InputError, match="true class"):
        crowd.answer(0, 2, 0.0)
    with pytest.raises(InputError, match="difficulty"):
        crowd.answer(0, ASTRO, 1.5)
    with pytest.raises(InputError, match="votes_per_item"):
        crowd.simulate(10, 6)
