"""CHIME-like observation simulator: bursts, RFI, noise, and a truth table.

Entry point :func:`simulate_observation` (also ``frbtriage simulate``); the pieces are reusable
on arrays: :mod:`~frbtriage.simulate.profiles` (pulse rendering, injection, boxcar S/N),
:mod:`~frbtriage.simulate.bursts`, :mod:`~frbtriage.simulate.rfi`,
:mod:`~frbtriage.simulate.noise` (bandpass, quantisation), :mod:`~frbtriage.simulate.search`
(expected S/N, search emulation), :mod:`~frbtriage.simulate.truth` (CSV files).
"""

from frbtriage.simulate.bursts import Burst, draw_burst, inject_burst
from frbtriage.simulate.layout import Layout, make_layout
from frbtriage.simulate.observation import SimulationConfig, SimulationResult, simulate_observation
from frbtriage.simulate.profiles import Pulse, PulseBlock, inject_block, render_pulse
from frbtriage.simulate.rfi import PersistentChannel, TransientRFI
from frbtriage.simulate.truth import TruthRow, read_truth_csv

__all__ = [
    "Burst",
    "Layout",
    "PersistentChannel",
    "Pulse",
    "PulseBlock",
    "SimulationConfig",
    "SimulationResult",
    "TransientRFI",
    "TruthRow",
    "draw_burst",
    "inject_block",
    "inject_burst",
    "make_layout",
    "read_truth_csv",
    "render_pulse",
    "simulate_observation",
]
