"""CHIME-like observation simulator: bursts, RFI, noise, and a truth table."""
