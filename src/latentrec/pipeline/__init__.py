"""Two-stage recommendations: re-rankers over one user's candidates (MMR, calibration)."""

from .rerank import calibrate, mmr

__all__ = ["calibrate", "mmr"]
