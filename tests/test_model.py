"""The CNN ensemble: shapes, determinism, calibration, metrics, and the safetensors format."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from frbtriage.errors import InputError
from frbtriage.model.augment import AugmentConfig, augment
from frbtriage.model.calibration import binary_entropy, ensemble_stats, fit_temperature
from frbtriage.model.config import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    ModelConfig,
    load_model,
    save_model,
)
from frbtriage.model.metrics import expected_calibration_error, recall_at_fpr, roc_auc
from frbtriage.model.network import Architecture, EnsembleCNN
from frbtriage.model.predict import score_images
from frbtriage.model.train import TrainConfig, pool_images, train_ensemble, weighted_bce_loss

SMALL = Architecture(input_size=16, input_rows=8, channels=(4, 8), hidden=8, members=3,
                     zoom=64)


def toy_images(n: int, seed: int = 0, size: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noise images; label-1 ones get a vertical line in ft and a bow-tie in dmt."""
    rng = np.random.default_rng(seed)
    ft = rng.standard_normal((n, size, size), dtype=np.float32)
    dmt = rng.standard_normal((n, size, size), dtype=np.float32)
    y = (np.arange(n) % 2).astype(np.float32)
    c = size // 2
    for i in np.nonzero(y)[0]:
        ft[i, :, c - 2:c + 2] += 1.5
        for r in range(size):
            w = 1 + abs(r - c) // 4
            dmt[i, r, c - w:c + w] += 3.0 / w
    return ft, dmt, y


@pytest.mark.parametrize("zoom", [0, 32, 64])
def test_forward_shapes_full_and_pooled(zoom: int) -> None:
    net = EnsembleCNN(Architecture(zoom=zoom)).eval()
    views = 4 if zoom else 2
    ft = torch.randn(3, 256, 256)
    dmt = torch.randn(3, 256, 256)
    with torch.no_grad():
        z = net(ft, dmt)
        x = net.stack(ft, dmt)
        assert x.shape == (3, views, 32, 32)
        z2 = net.forward_stacked(x)
        z3 = net.forward_stacked(x[:, None].expand(3, 5, views, 32, 32))
    assert z.shape == (3, 5)
    torch.testing.assert_close(z, z2)
    torch.testing.assert_close(z, z3)
    # the numpy pooling used for training equals the network's own pooling
    pooled = pool_images(ft.numpy(), dmt.numpy(), net.arch)
    np.testing.assert_allclose(pooled, x.numpy(), atol=1e-5)
    if zoom:  # the zoom views are the central columns, pooled only in frequency / DM
        plain = pool_images(ft.numpy(), dmt.numpy(), Architecture(zoom=zoom, centre_rows=False))
        lo = 128 - zoom // 2
        crop = ft.numpy()[:, :, lo:lo + zoom].reshape(3, 32, 8, 32, zoom // 32).mean(axis=(2, 4))
        np.testing.assert_allclose(plain[:, 2], crop, atol=1e-6)


def test_zoom_view_keeps_a_narrow_pulse() -> None:
    """A one-sample pulse at the centre is 8x diluted in the full view, not in the zoom."""
    ft = np.zeros((1, 256, 256), dtype=np.float32)
    ft[:, :, 128] = 8.0
    x = pool_images(ft, ft, Architecture(zoom=32, centre_rows=False))
    assert x[0, 0].max() == pytest.approx(1.0) and x[0, 2].max() == pytest.approx(8.0)


def test_centre_rows_removes_bandpass_stripes() -> None:
    """Per-channel levels (what FETCH's whole-image normalisation leaves in ft) vanish; the
    burst, local in time, stays."""
    rng = np.random.default_rng(5)
    burst = rng.standard_normal((2, 256, 256)).astype(np.float32)
    burst[:, :, 126:130] += 2.0
    striped = burst + rng.uniform(-20, 20, (2, 256, 1)).astype(np.float32)
    arch = Architecture()
    np.testing.assert_allclose(pool_images(striped, striped, arch),
                               pool_images(burst, burst, arch), atol=1e-4)
    plain = Architecture(centre_rows=False)
    assert np.abs(pool_images(striped, striped, plain) - pool_images(burst, burst, plain)).max() > 1


def test_members_are_independent() -> None:
    """Changing one member's weights changes only that member's logits (block-diagonal)."""
    net = EnsembleCNN(SMALL).eval()
    ft, dmt = torch.randn(4, 64, 64), torch.randn(4, 64, 64)
    with torch.no_grad():
        before = net(ft, dmt)
        net.fc2.weight[1].mul_(3.0)
        net.features[0].weight[4:8].add_(0.5)  # member 1's first conv filters
        after = net(ft, dmt)
    torch.testing.assert_close(before[:, [0, 2]], after[:, [0, 2]])
    assert not torch.allclose(before[:, 1], after[:, 1])


def test_architecture_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError):
        Architecture(input_size=48).validate()
    with pytest.raises(ValueError):
        Architecture(input_rows=24).validate()
    with pytest.raises(ValueError):
        Architecture(members=0).validate()
    with pytest.raises(ValueError, match="positive"):
        Architecture(channels=(8, 0, 32)).validate()
    with pytest.raises(ValueError, match="zoom"):
        Architecture(zoom=16).validate()  # narrower than the pooled input
    with pytest.raises(ValueError, match="zoom"):
        Architecture(zoom=96).validate()  # does not divide 256


def test_ensemble_stats_and_bald() -> None:
    agree = np.array([[4.0, 4.0, 4.0]])
    disagree = np.array([[6.0, -6.0, 0.0]])
    s1, s2 = ensemble_stats(agree), ensemble_stats(disagree)
    assert s1["p_std"][0] == pytest.approx(0.0, abs=1e-12)
    assert s1["bald"][0] == pytest.approx(0.0, abs=1e-9)
    assert s2["p_astro"][0] == pytest.approx(0.5, abs=1e-9)
    assert s2["bald"][0] > 0.3
    assert s2["bald"][0] <= np.log(2) + 1e-9
    assert binary_entropy(np.array([0.5]))[0] == pytest.approx(np.log(2))
    # temperature flattens probabilities
    assert ensemble_stats(agree, 4.0)["p_astro"][0] < s1["p_astro"][0]


def test_fit_temperature_recovers_overconfidence() -> None:
    rng = np.random.default_rng(1)
    true_z = rng.normal(0, 2, 4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-true_z))).astype(float)
    logits = np.repeat((3.0 * true_z)[:, None], 3, axis=1)  # 3x overconfident
    t = fit_temperature(logits, y)
    assert t == pytest.approx(3.0, rel=0.15)
    p_raw = ensemble_stats(logits)["p_astro"]
    p_cal = ensemble_stats(logits, t)["p_astro"]
    assert expected_calibration_error(p_cal, y) < expected_calibration_error(p_raw, y)


def test_metrics_known_values() -> None:
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    labels = np.array([0, 0, 1, 1])
    assert roc_auc(scores, labels) == pytest.approx(0.75)
    assert roc_auc(np.array([0.2, 0.9]), np.array([0, 1])) == 1.0
    r = recall_at_fpr(scores, labels, 0.01)
    assert r["recall"] == pytest.approx(0.5) and r["fpr"] == 0.0
    assert expected_calibration_error(np.array([1.0, 0.0]), np.array([1, 0])) == 0.0
    assert expected_calibration_error(np.full(10, 0.9), np.zeros(10)) == pytest.approx(0.9)


def test_weighted_loss_soft_targets_and_votes() -> None:
    z = torch.zeros(2, 3)
    y = torch.tensor([0.7, 0.0])
    # one candidate with zero weight contributes nothing
    w = torch.tensor([[1.0] * 3, [0.0] * 3])
    loss = weighted_bce_loss(z, y, w)
    assert float(loss) == pytest.approx(3 * np.log(2), rel=1e-5)
    # the soft target's optimum is at sigmoid(z) = 0.7
    zz = torch.zeros(1, 1, requires_grad=True)
    opt = torch.optim.SGD([zz], lr=1.0)
    for _ in range(300):
        opt.zero_grad()
        weighted_bce_loss(zz, torch.tensor([0.7]), torch.ones(1, 1)).backward()
        opt.step()
    assert float(torch.sigmoid(zz.detach())) == pytest.approx(0.7, abs=1e-3)


def test_augment_is_seeded_and_keeps_shape() -> None:
    x = torch.randn(6, 2, 16, 16)
    a = augment(x, torch.Generator().manual_seed(3), AugmentConfig())
    b = augment(x, torch.Generator().manual_seed(3), AugmentConfig())
    c = augment(x, torch.Generator().manual_seed(4), AugmentConfig())
    assert a.shape == x.shape
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    none = AugmentConfig(p_shift=0, p_noise=0, p_mask=0, p_bandpass=0)
    torch.testing.assert_close(augment(x, torch.Generator().manual_seed(3), none), x)


def _tiny_train(seed: int) -> EnsembleCNN:
    ft, dmt, y = toy_images(48, seed=0)
    x = pool_images(ft, dmt, SMALL)
    net, hist = train_ensemble(x, y, np.ones_like(y), TrainConfig(epochs=2, batch_size=16,
                                                                  seed=seed), SMALL)
    assert len(hist) == 2
    return net


def test_training_is_deterministic() -> None:
    a, b, c = _tiny_train(7), _tiny_train(7), _tiny_train(8)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    assert any(not torch.equal(sa[k], sc[k]) for k in sa if sa[k].is_floating_point())


def test_training_learns_toy_problem() -> None:
    ft, dmt, y = toy_images(160, seed=1)
    x = pool_images(ft, dmt, SMALL)
    net, _ = train_ensemble(x, y, np.ones_like(y), TrainConfig(epochs=6, batch_size=16), SMALL)
    ft2, dmt2, y2 = toy_images(60, seed=2)
    with torch.no_grad():
        z = net(torch.from_numpy(ft2), torch.from_numpy(dmt2)).numpy()
    assert roc_auc(ensemble_stats(z)["p_astro"], y2) > 0.95


def test_save_load_round_trip(tmp_path) -> None:
    torch.manual_seed(0)
    net = EnsembleCNN(SMALL).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics
        net.features[1].running_mean.uniform_(-1, 1)
    cfg = ModelConfig(temperature=1.7, training={"data": "toy"}, metrics={"roc_auc": 0.5})
    save_model(net, cfg, tmp_path / "m")
    m = load_model(tmp_path / "m")
    assert m.config.temperature == pytest.approx(1.7)
    assert m.config.architecture == SMALL
    assert m.version == cfg.version and len(m.version.split("-")[-1]) == 12
    for k, v in net.state_dict().items():
        assert torch.equal(v, m.network.state_dict()[k])
    ft, dmt, _ = toy_images(5)
    s = score_images(m, ft, dmt, batch_size=2)
    with torch.no_grad():
        z = net(torch.from_numpy(ft), torch.from_numpy(dmt)).numpy()
    np.testing.assert_allclose(s.p_astro, ensemble_stats(z, 1.7)["p_astro"], rtol=1e-5)
    s_idx = score_images(m, ft, dmt, indices=[4, 1])
    np.testing.assert_allclose(s_idx.p_astro, s.p_astro[[4, 1]], rtol=1e-5)


@pytest.fixture()
def saved(tmp_path):
    net = EnsembleCNN(SMALL)
    save_model(net, ModelConfig(), tmp_path / "m")
    return tmp_path / "m"


def test_refuses_truncated_weights(saved) -> None:
    w = saved / WEIGHTS_NAME
    w.write_bytes(w.read_bytes()[:-100])
    with pytest.raises(InputError, match="SHA-256"):
        load_model(saved)


def test_refuses_tampered_weights(saved) -> None:
    w = saved / WEIGHTS_NAME
    data = bytearray(w.read_bytes())
    data[-5] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(InputError, match="tampered"):
        load_model(saved)


def test_refuses_wrong_shapes_even_with_matching_digest(saved, tmp_path) -> None:
    """A consistent config + weights of another architecture is still refused."""
    other = EnsembleCNN(Architecture(input_size=16, input_rows=8, channels=(4, 8), hidden=8,
                                     members=2))
    save_model(other, ModelConfig(), tmp_path / "other")
    cfg = json.loads((saved / CONFIG_NAME).read_text())
    cfg["weights_sha256"] = json.loads((tmp_path / "other" / CONFIG_NAME).read_text())[
        "weights_sha256"]
    (saved / CONFIG_NAME).write_text(json.dumps(cfg))
    (saved / WEIGHTS_NAME).write_bytes((tmp_path / "other" / WEIGHTS_NAME).read_bytes())
    with pytest.raises(InputError, match="shape"):
        load_model(saved)


def test_refuses_bad_config(saved) -> None:
    (saved / CONFIG_NAME).write_text("{not json")
    with pytest.raises(InputError, match="JSON"):
        load_model(saved)
    (saved / CONFIG_NAME).write_text(json.dumps({"format": "something else"}))
    with pytest.raises(InputError, match="not an frbtriage model"):
        load_model(saved)
    with pytest.raises(InputError, match="does not exist"):
        load_model(saved / "nope")


@pytest.mark.slow
def test_train_command_end_to_end(tmp_path) -> None:
    """``frbtriage train`` simulates, prepares into the workspace, trains, evaluates and saves;
    a second run re-uses the prepared simulations."""
    from frbtriage.cli import main
    from frbtriage.model.data import load_labelled

    ws, out = tmp_path / "ws", tmp_path / "model"
    argv = ["train", "--workspace", str(ws), "-o", str(out), "--simulate", "2",
            "--sim-minutes", "0.25", "--epochs", "2", "--eval-simulate", "1",
            "--channels", "8", "16", "--hidden", "16", "--input-size", "64", "--members", "2"]
    assert main(argv) == 0
    m = load_model(out)
    assert m.config.architecture.members == 2
    assert m.config.architecture.channels == (8, 16) and m.config.architecture.hidden == 16
    assert m.config.architecture.input_shape == (32, 64)
    for name in ("evaluation.json", "roc.png", "reliability.png", "unseen_roc.png"):
        assert (out / name).is_file(), name
    ev = json.loads((out / "evaluation.json").read_text())
    assert set(ev["metrics"]) == {"held_out", "unseen_simulation"}
    assert not list(ws.glob("simulations/*/obs.fil")), "filterbanks removed once prepared"
    from frbtriage.workspace import Workspace

    with Workspace.open(ws) as w:
        n = len(w)
        d = load_labelled(w, m.config.architecture)
        assert len(d) == n and set(np.unique(d.targets)) == {0.0, 1.0}
    assert main(argv[:-2] + ["--members", "2", "-o", str(tmp_path / "m2")]) == 0
    with Workspace.open(ws) as w:
        assert len(w) == n
    assert load_model(tmp_path / "m2").version == m.version, "same seed, same model"


@pytest.mark.parametrize("opt", [["--input-size", "30"], ["--input-rows", "-4"],
                                 ["--input-size", "512"], ["--zoom", "16"], ["--zoom", "96"],
                                 ["--channels", "8", "0"], ["--hidden", "0"],
                                 ["--channels", "4", "4", "4", "4", "4", "4"]])
def test_train_command_bad_input_shape(tmp_path, opt, capsys) -> None:
    """An input size that does not divide the 256-pixel images: one line, exit 2, nothing made."""
    from frbtriage.cli import main

    ws, out = tmp_path / "ws", tmp_path / "model"
    assert main(["train", "-w", str(ws), "-o", str(out), *opt]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("frbtriage: error: --input-size/--input-rows")
    assert not ws.exists() and not out.exists()


def test_train_command_unknown_family(tmp_path, capsys) -> None:
    """`train --families` takes the simulator's family names (or `all`): a misspelt one is
    named in one line with the known ones, exit 2, nothing made."""
    from frbtriage.cli import main

    ws, out = tmp_path / "ws", tmp_path / "model"
    assert main(["train", "-w", str(ws), "-o", str(out), "--families", "peryton", "perytons"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown family perytons; known: band_limited" in err[0]
    assert not ws.exists() and not out.exists()
