"""Evaluation: metrics as plain functions over arrays."""

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

__all__ = [
    "catalog_coverage",
    "hit_rate_at_k",
    "mae",
    "map_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
    "rmse",
]
