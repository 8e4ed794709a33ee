"""Training data read from a workspace: labels, soft labels with vote weights, pooling."""

from __future__ import annotations

import numpy as np
import pytest

from frbtriage.model.data import load_labelled
from frbtriage.model.network import Architecture
from frbtriage.model.train import pool_images
from frbtriage.workspace import NewCandidate, Workspace


@pytest.fixture()
def ws(tmp_path):
    rng = np.random.default_rng(0)
    ft = rng.standard_normal((7, 256, 256), dtype=np.float32)
    dmt = rng.standard_normal((7, 256, 256), dtype=np.float32)
    labels = [1, 0, None, 1, None, 0, 1]
    w = Workspace.create(tmp_path / "ws")
    w.append([NewCandidate(file="/d/a.fil", tcand=float(i), dm=50.0 + i, width=2, snr=7.0,
                           label=lab) for i, lab in enumerate(labels)], ft, dmt)
    yield w, ft, dmt, labels
    w.close()


def test_load_labelled_uses_label_column(ws) -> None:
    w, ft, dmt, labels = ws
    d = load_labelled(w, Architecture())
    keep = [i for i, lab in enumerate(labels) if lab is not None]
    assert len(d) == len(keep)
    np.testing.assert_array_equal(d.targets, [labels[i] for i in keep])
    np.testing.assert_array_equal(d.weights, np.ones(len(keep)))
    np.testing.assert_allclose(d.x, pool_images(ft[keep], dmt[keep], Architecture()),
                               atol=1e-6)
    rows = {r.id: r.row for r in w.candidates()}
    assert [rows[int(i)] for i in d.ids] == keep


def test_soft_labels_override_and_add(ws) -> None:
    w, _, _, labels = ws
    ids = [r.id for r in w.candidates()]
    soft = {ids[2]: (0.7, 10.0), ids[0]: (0.2, 3.0)}  # an unlabelled one voted 7:3; a relabel
    d = load_labelled(w, Architecture(input_rows=16), soft_labels=soft, chunk=2)
    got = dict(zip(d.ids.tolist(), zip(d.targets.tolist(), d.weights.tolist(), strict=True),
                   strict=True))
    assert got[ids[2]] == pytest.approx((0.7, 10.0))
    assert got[ids[0]] == pytest.approx((0.2, 3.0))
    assert got[ids[1]] == (0.0, 1.0)
    assert ids[4] not in got
    assert d.x.shape == (len(got), 4, 16, 32)
    with pytest.raises(ValueError):
        load_labelled(w, Architecture(), soft_labels={ids[1]: (1.5, 1.0)})
