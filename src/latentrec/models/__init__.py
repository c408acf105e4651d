"""Recommender algorithms; every factorisation produces a :class:`FactorModel`."""

from .als import ALS
from .base import FactorModel, NotFittedError, Recommendations, Recommender, UserVector
from .baselines import Biases, GlobalMean, Popularity
from .bayesian import BayesianMF
from .bpr import BPR, WARP
from .gd import GradientDescentMF
from .hybrid import FeatureEncoder, HybridMF
from .implicit_als import ImplicitALS
from .knn import ItemKNN
from .mf import BiasedMF
from .nmf import NMF
from .svd import TruncatedSVD
from .svdpp import SVDpp

__all__ = [
    "BPR",
    "WARP",
    "ALS",
    "BayesianMF",
    "BiasedMF",
    "Biases",
    "FactorModel",
    "GlobalMean",
    "FeatureEncoder",
    "GradientDescentMF",
    "HybridMF",
    "ImplicitALS",
    "ItemKNN",
    "NMF",
    "NotFittedError",
    "Popularity",
    "Recommendations",
    "Recommender",
    "SVDpp",
    "TruncatedSVD",
    "UserVector",
]
