"""Recommender algorithms; every factorisation produces a :class:`FactorModel`."""

from .base import FactorModel, NotFittedError, Recommendations, Recommender
from .baselines import Biases, GlobalMean, Popularity
from .gd import GradientDescentMF
from .mf import BiasedMF

__all__ = [
    "BiasedMF",
    "Biases",
    "FactorModel",
    "GlobalMean",
    "GradientDescentMF",
    "NotFittedError",
    "Popularity",
    "Recommendations",
    "Recommender",
]
