"""Pairwise precision and recall of an identity resolution against known true persons.

A pair of records is *predicted* together when they share a customer_uuid and *truly*
together when they share a person. Precision = correct pairs / predicted pairs (merging
two strangers lowers it), recall = correct pairs / true pairs (missing a link lowers it).
Counting pairs through group sizes (n * (n - 1) / 2) keeps it linear in records.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class PairwiseScores:
    records: int
    predicted_pairs: int
    true_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0


def _pairs(group_sizes: pd.Series) -> int:
    sizes = group_sizes.astype("int64")
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise_scores(predicted: pd.DataFrame, truth: pd.DataFrame) -> PairwiseScores:
    """Scores over the records present in both frames.

    ``predicted``: record_key, customer_uuid. ``truth``: record_key, person_id.
    """
    joined = predicted[["record_key", "customer_uuid"]].merge(
        truth[["record_key", "person_id"]], on="record_key", how="inner"
    )
    return PairwiseScores(
        records=len(joined),
        predicted_pairs=_pairs(joined.groupby("customer_uuid").size()),
        true_pairs=_pairs(joined.groupby("person_id").size()),
        correct_pairs=_pairs(joined.groupby(["customer_uuid", "person_id"]).size()),
    )


def read_truth(path: str) -> pd.DataFrame:
    """The generator's ``_truth_persons.csv`` as record_key, person_id."""
    truth = pd.read_csv(path, dtype=str, keep_default_na=False)
    return pd.DataFrame(
        {
            "record_key": truth["source_table"] + ":" + truth["source_id"],
            "person_id": truth["person_id"],
        }
    )
