"""Dawid-Skene and majority-vote aggregation of volunteer votes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frbtriage.crowd import (
    ASTRO,
    CANT_TELL,
    NOT_ASTRO,
    RFI,
    DawidSkeneConfig,
    dawid_skene,
    majority_vote,
)
from frbtriage.crowd.simulated import SimulatedCrowd
from frbtriage.errors import InputError


@pytest.fixture(scope="module")
def crowd_votes():
    """40 simulated volunteers (20 % careless, 15 % rfi-biased), 2000 items x 5 votes."""
    crowd = SimulatedCrowd(seed=3)
    return crowd, crowd.simulate(2000, 5)


def _accuracy(label, truth) -> float:
    return float((np.asarray(label) == truth).mean())


# --------------------------------------------------------------------------- quality
def test_dawid_skene_beats_majority_vote_with_careless_and_biased_volunteers(crowd_votes):
    crowd, sim = crowd_votes
    ds = dawid_skene(sim.item, sim.worker, sim.answer)
    mv = majority_vote(sim.item, sim.answer)
    acc_ds, acc_mv = _accuracy(ds.items.label, sim.truth), _accuracy(mv.label, sim.truth)
    astro = sim.truth == ASTRO
    rec_ds = _accuracy(ds.items.label[astro], ASTRO)
    rec_mv = _accuracy(mv.label[astro], ASTRO)
    msg = (f"accuracy DS {acc_ds:.3f} vs majority {acc_mv:.3f}; astro recall DS {rec_ds:.3f} "
           f"vs majority {rec_mv:.3f} ({ds.n_iter} EM iterations)")
    assert ds.converged, msg
    assert acc_ds >= acc_mv + 0.01, msg
    assert rec_ds >= rec_mv + 0.05, msg


def test_dawid_skene_recovers_volunteer_reliability(crowd_votes):
    crowd, sim = crowd_votes
    ds = dawid_skene(sim.item, sim.worker, sim.answer)
    true_conf = crowd.expected_confusion(sim.difficulty)
    true_rel = 0.5 * (true_conf[:, ASTRO, ASTRO] + true_conf[:, NOT_ASTRO, RFI])
    err = np.abs(ds.workers.reliability - true_rel)
    msg = (f"balanced accuracy error mean {err.mean():.3f} max {err.max():.3f} over "
           f"{err.size} volunteers with ~{sim.item.size // err.size} votes each")
    assert err.mean() < 0.05 and err.max() < 0.15, msg
    # the careless are told apart from the rest
    careless = crowd.kind == 1
    assert ds.workers.reliability[careless].max() < ds.workers.reliability[~careless].min(), msg
    np.testing.assert_allclose(ds.workers.confusion.sum(axis=2), 1.0)
    assert ds.workers.n_votes.sum() == sim.item.size


def test_gold_does_not_hurt_and_is_counted(crowd_votes):
    crowd, sim = crowd_votes
    gold_ids = np.random.default_rng(0).choice(sim.truth.size, 200, replace=False)
    gold = {int(i): int(sim.truth[i]) for i in gold_ids}
    plain = dawid_skene(sim.item, sim.worker, sim.answer)
    anchored = dawid_skene(sim.item, sim.worker, sim.answer, gold)
    np.testing.assert_array_equal(anchored.items.p_astro[gold_ids], sim.truth[gold_ids] == ASTRO)
    true_conf = crowd.expected_confusion(sim.difficulty)
    true_rel = 0.5 * (true_conf[:, ASTRO, ASTRO] + true_conf[:, NOT_ASTRO, RFI])
    err_plain = np.abs(plain.workers.reliability - true_rel).mean()
    err_gold = np.abs(anchored.workers.reliability - true_rel).mean()
    assert err_gold <= err_plain + 0.005, f"reliability error gold {err_gold:.4f} " \
                                          f"vs none {err_plain:.4f}"
    on_gold = np.isin(sim.item, gold_ids)
    assert anchored.workers.n_gold.sum() == on_gold.sum()
    correct = on_gold & (sim.answer == sim.truth[sim.item])
    assert anchored.workers.n_gold_correct.sum() == correct.sum()
    assert np.all(np.isnan(plain.workers.gold_accuracy))


def test_gold_anchoring_rescues_a_crowd_that_answers_backwards():
    """14 of 20 volunteers swap the answers (85 % of the time), 6 answer right (85 %).
    Without gold, EM settles on the majority's mirror image; 30 gold items identify the
    swappers, and their votes become as useful as anyone's."""
    rng = np.random.default_rng(5)
    n_items, k, n_workers = 300, 5, 20
    truth = rng.integers(0, 2, n_items)
    swapper = np.arange(n_workers) < 14
    item = np.repeat(np.arange(n_items), k)
    worker = rng.random((n_items, n_workers)).argsort(axis=1)[:, :k].ravel()
    right = rng.random(item.size) < 0.85
    says_truth = right != swapper[worker]
    answer = np.where(says_truth, truth[item], 1 - truth[item])
    gold = {int(i): int(truth[i]) for i in range(30)}
    rest = slice(30, None)
    plain = dawid_skene(item, worker, answer)
    anchored = dawid_skene(item, worker, answer, gold)
    acc_plain = _accuracy(plain.items.label[rest], truth[rest])
    acc_gold = _accuracy(anchored.items.label[rest], truth[rest])
    msg = f"accuracy on non-gold items: no gold {acc_plain:.3f}, 30 gold {acc_gold:.3f}"
    assert acc_plain < 0.2 and acc_gold > 0.9, msg
    assert np.all(anchored.workers.reliability[swapper] < 0.3), msg
    assert np.all(anchored.workers.reliability[~swapper] > 0.7), msg


# --------------------------------------------------------------------------- degenerate input
def test_no_votes():
    for result in (dawid_skene([], [], []).items, majority_vote([], [])):
        assert result.items.size == 0 and result.counts.shape == (0, 3)
    ds = dawid_skene(np.array([], dtype=np.int64), [], [], gold={4: ASTRO})
    assert ds.converged and ds.n_iter == 0 and ds.workers.confusion.shape == (0, 2, 3)


def test_one_worker():
    ds = dawid_skene([1, 2, 3, 4], [7, 7, 7, 7], [ASTRO, RFI, RFI, CANT_TELL])
    assert ds.workers.workers.tolist() == [7] and ds.workers.n_votes.tolist() == [4]
    assert np.all(np.isfinite(ds.items.p_astro))
    assert ds.items.p_astro[0] > 0.5 > ds.items.p_astro[1]
    np.testing.assert_allclose(ds.workers.confusion.sum(axis=2), 1.0)


def test_only_cant_tell_votes_give_one_half():
    item, worker = [0, 0, 1, 2, 2, 2], [0, 1, 0, 1, 2, 0]
    answer = [CANT_TELL] * 6
    for items in (dawid_skene(item, worker, answer).items, majority_vote(item, answer)):
        np.testing.assert_allclose(items.p_astro, 0.5)
        np.testing.assert_allclose(items.uncertainty, 1.0)
        np.testing.assert_array_equal(items.agreement, 0.0)
        np.testing.assert_array_equal(items.label, NOT_ASTRO)


def test_majority_vote_fraction_and_ties():
    mv = majority_vote([5, 5, 5, 9, 9, 9, 9, 3], [ASTRO, ASTRO, RFI, ASTRO, RFI, CANT_TELL,
                                                  CANT_TELL, CANT_TELL])
    assert mv.items.tolist() == [3, 5, 9]
    np.testing.assert_allclose(mv.p_astro, [0.5, 2 / 3, 0.5])
    np.testing.assert_allclose(mv.agreement, [0.0, 2 / 3, 0.5])
    assert mv.label.tolist() == [NOT_ASTRO, ASTRO, NOT_ASTRO]
    assert mv.counts.tolist() == [[0, 0, 1], [2, 1, 0], [1, 1, 2]]
    assert mv.n_votes.tolist() == [1, 3, 4] and mv.n_decisive.tolist() == [0, 3, 2]


@pytest.mark.parametrize("args, problem", [
    (([0, 1], [0, 1], [0, 3]), "answer code 3 at vote 1"),
    (([0, 1], [0, 1], [-1, 0]), "answer code -1 at vote 0"),
    (([0, 1], [0, 1], [0.0, 1.0]), "must be integers"),
    (([0, 1], [0], [0, 1]), "worker ids have shape"),
    (([0.5, 1], [0, 1], [0, 1]), "item ids must be integers"),
    (([[0, 1]], [[0, 1]], [[0, 1]]), "1-D"),
])
def test_bad_votes_raise_input_error(args, problem):
    with pytest.raises(InputError, match=problem) as err:
        dawid_skene(*args, where="votes.csv")
    assert str(err.value).startswith("votes.csv: ")


def test_bad_gold_and_config_raise_input_error():
    for gold in ({1: 2}, {1: "astro"}, {"1": 0}, {1: True}):
        with pytest.raises(InputError, match="gold class .* of item"):
            dawid_skene([0, 1], [0, 1], [0, 1], gold=gold)
    with pytest.raises(InputError, match="gold class"):
        dawid_skene([], [], [], gold={3: -1})
    for config in (DawidSkeneConfig(smoothing=-1), DawidSkeneConfig(tol=0),
                   DawidSkeneConfig(max_iter=0)):
        with pytest.raises(InputError):
            dawid_skene([0], [0], [0], config=config)


def test_results_are_read_only():
    ds = dawid_skene([0, 1], [0, 0], [ASTRO, RFI])
    for array in (ds.items.p_astro, ds.items.counts, ds.workers.confusion, ds.prior):
        with pytest.raises(ValueError):
            array[0] = 0


# --------------------------------------------------------------------------- properties
@st.composite
def votes(draw):
    """Random votes on a few items (ids anywhere in 0..1e9) by a few workers, some gold."""
    n = draw(st.integers(0, 40))
    item_ids = draw(st.lists(st.integers(0, 10**9), min_size=1, max_size=8, unique=True))
    worker_ids = draw(st.lists(st.integers(0, 10**9), min_size=1, max_size=6, unique=True))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    item = rng.choice(item_ids, n)
    worker = rng.choice(worker_ids, n)
    answer = rng.integers(0, 3, n)
    gold = {int(i): int(rng.integers(0, 2)) for i in item_ids if rng.random() < 0.3}
    return item, worker, answer, gold, rng.permutation(n)


@settings(max_examples=60, deadline=None)
@given(votes())
def test_aggregation_properties(case):
    item, worker, answer, gold, perm = case
    ds = dawid_skene(item, worker, answer, gold)
    mv = majority_vote(item, answer)
    for items in (ds.items, mv):
        assert items.counts.sum() == item.size
        np.testing.assert_array_equal(items.items, np.unique(item))
        assert np.all((items.p_astro >= 0) & (items.p_astro <= 1))
        assert np.all((items.uncertainty >= 0) & (items.uncertainty <= 1))
        assert np.all((items.agreement == 0) | ((items.agreement >= 0.5)
                                                & (items.agreement <= 1)))
        np.testing.assert_array_equal(items.label == ASTRO, items.p_astro > 0.5)
    np.testing.assert_allclose(ds.workers.confusion.sum(axis=2), 1.0)
    assert np.all((ds.workers.reliability >= 0) & (ds.workers.reliability <= 1))
    assert ds.workers.n_votes.sum() == item.size
    assert np.all(ds.workers.n_gold_correct <= ds.workers.n_gold)
    for i, cls in gold.items():
        if i in ds.items.items:
            assert ds.items.p_astro[np.searchsorted(ds.items.items, i)] == (cls == ASTRO)
    # the order of the votes does not matter
    shuffled = dawid_skene(item[perm], worker[perm], answer[perm], gold)
    np.testing.assert_allclose(shuffled.items.p_astro, ds.items.p_astro, atol=1e-8)
    np.testing.assert_allclose(shuffled.workers.confusion, ds.workers.confusion, atol=1e-8)
    np.testing.assert_array_equal(shuffled.items.counts, ds.items.counts)
