"""Recommender algorithms; every factorisation produces a :class:`FactorModel`.

Importing this package imports (and so registers) every algorithm.
"""

from ..errors import CannotRankError, NotFittedError
from .als import ALS
from .base import PredictsNoRatingsError, Recommender
from .baselines import Biases, GlobalMean, Popularity
from .bayesian import BayesianMF
from .blend import Blend, blend
from .bpr import BPR, WARP
from .catalog import Catalog, Fitted
from .factor import FactorModel
from .gd import GradientDescentMF
from .hybrid import FeatureEncoder, HybridMF, UnusedFeatures
from .implicit_als import ImplicitALS
from .knn import ItemKNN
from .mf import BiasedMF
from .nmf import NMF
from .results import Explanation, Recommendations, UserVector
from .svd import TruncatedSVD
from .svdpp import SVDpp

__all__ = [
    "CannotRankError",
    "BPR",
    "WARP",
    "ALS",
    "BayesianMF",
    "BiasedMF",
    "Biases",
    "Blend",
    "Catalog",
    "Explanation",
    "FactorModel",
    "Fitted",
    "GlobalMean",
    "FeatureEncoder",
    "GradientDescentMF",
    "HybridMF",
    "ImplicitALS",
    "ItemKNN",
    "NMF",
    "NotFittedError",
    "Popularity",
    "PredictsNoRatingsError",
    "Recommendations",
    "Recommender",
    "SVDpp",
    "TruncatedSVD",
    "UnusedFeatures",
    "UserVector",
    "blend",
]
