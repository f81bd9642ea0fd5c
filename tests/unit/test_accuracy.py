import pandas as pd
import pytest

from bitrix_omni.accuracy import pairwise_scores


def frame(**columns):
    return pd.DataFrame(columns)


def test_perfect_resolution():
    predicted = frame(record_key=["a", "b", "c"], customer_uuid=["u1", "u1", "u2"])
    truth = frame(record_key=["a", "b", "c"], person_id=["p1", "p1", "p2"])
    scores = pairwise_scores(predicted, truth)
    assert (scores.precision, scores.recall) == (1.0, 1.0)


def test_over_merge_lowers_precision_only():
    predicted = frame(record_key=["a", "b", "c"], customer_uuid=["u1", "u1", "u1"])
    truth = frame(record_key=["a", "b", "c"], person_id=["p1", "p1", "p2"])
    scores = pairwise_scores(predicted, truth)
    assert scores.precision == pytest.approx(1 / 3)
    assert scores.recall == 1.0


def test_missed_link_lowers_recall_only():
    predicted = frame(record_key=["a", "b", "c"], customer_uuid=["u1", "u2", "u3"])
    truth = frame(record_key=["a", "b", "c"], person_id=["p1", "p1", "p2"])
    scores = pairwise_scores(predicted, truth)
    assert scores.precision == 1.0
    assert scores.recall == 0.0


def test_only_records_in_both_count():
    predicted = frame(record_key=["a", "b", "x"], customer_uuid=["u1", "u1", "u1"])
    truth = frame(record_key=["a", "b", "y"], person_id=["p1", "p1", "p1"])
    assert pairwise_scores(predicted, truth).records == 2
