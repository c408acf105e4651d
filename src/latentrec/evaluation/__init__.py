"""Evaluation: accuracy and beyond-accuracy metrics as plain functions over arrays, model
evaluation, cross-validation, the nested time slices of a two-stage system."""

from ..models.blend import Blend, blend  # public here too: blending is fitted on held-out data
from .beyond import (
    average_popularity,
    gini_exposure,
    intra_list_diversity,
    miscalibration,
    novelty,
)
from .evaluate import (
    CrossValidation,
    check_heldout,
    cross_validate,
    evaluate_ranking,
    evaluate_ratings,
)
from .metrics import (
    catalog_coverage,
    hit_rate_at_k,
    mae,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    rmse,
)
from .splits import TimeSlices, time_slices
from .tuning import TuningResult, TuningWarning, tune

__all__ = [
    "Blend",
    "CrossValidation",
    "TimeSlices",
    "TuningResult",
    "TuningWarning",
    "average_popularity",
    "catalog_coverage",
    "check_heldout",
    "cross_validate",
    "evaluate_ranking",
    "evaluate_ratings",
    "blend",
    "gini_exposure",
    "hit_rate_at_k",
    "intra_list_diversity",
    "mae",
    "map_at_k",
    "miscalibration",
    "ndcg_at_k",
    "novelty",
    "precision_at_k",
    "recall_at_k",
    "rmse",
    "time_slices",
    "tune",
]
