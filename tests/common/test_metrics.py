"""QA metrics: SQuAD normalisation, strict EM, cover EM and token F1 on tricky answers."""

from __future__ import annotations

import pytest

from zerosearch.common.metrics import QAScores, cover_em, normalize_answer, qa_scores, strict_em, token_f1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Beatles", "beatles"),
        ("  A   tale of   two cities ", "tale of two cities"),
        ("an apple, the pear; a plum!", "apple pear plum"),
        ("Theatre", "theatre"),  # "the" inside a word stays
        ("U.S.A.", "usa"),
        ("“Abbey Road” — 1969", "abbey road 1969"),  # Unicode quotes and dash are punctuation too
        ("Beyoncé", "beyoncé"),  # accents are letters, kept
        ("ＰＡＲＩＳ", "paris"),  # full-width letters fold (NFKC)
        ("", ""),
        ("the", ""),
    ],
)
def test_normalize_answer(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


def test_strict_em_ignores_case_articles_punctuation() -> None:
    assert strict_em("the Eiffel Tower.", ["Eiffel tower"]) == 1.0
    assert strict_em("Eiffel Tower in Paris", ["Eiffel Tower"]) == 0.0


def test_strict_em_takes_the_best_of_several_golds() -> None:
    assert strict_em("NYC", ["New York City", "NYC"]) == 1.0
    assert strict_em("Boston", ["New York City", "NYC"]) == 0.0


def test_a_single_gold_string_is_one_answer_not_characters() -> None:
    assert strict_em("paris", "Paris") == 1.0
    assert cover_em("p", "Paris") == 0.0


def test_numbers_compare_as_tokens() -> None:
    assert strict_em("1,000", ["1000"]) == 1.0  # the comma is punctuation
    assert strict_em("1969.", ["1969"]) == 1.0
    assert token_f1("in 1969", ["1969"]) == pytest.approx(2 * 0.5 * 1.0 / 1.5)


def test_cover_em_is_gold_inside_prediction() -> None:
    assert cover_em("It was written by Herman Melville in 1851", ["herman melville"]) == 1.0
    assert cover_em("Melville", ["Herman Melville"]) == 0.0  # the other way round is not cover
    # A plain substring test, as the reference code: "1" is inside "1945" (an upper bound).
    assert cover_em("1945", ["1"]) == 1.0


def test_cover_em_never_matches_an_empty_gold() -> None:
    assert cover_em("anything at all", ["The", "!!"]) == 0.0


def test_token_f1_partial_overlap_and_max_over_golds() -> None:
    # prediction tokens: herman melville wrote it (4); gold: herman melville (2); overlap 2.
    assert token_f1("Herman Melville wrote it", ["Herman Melville"]) == pytest.approx(2 * 0.5 * 1.0 / 1.5)
    assert token_f1("Herman Melville wrote it", ["Jane Austen", "Herman Melville wrote it"]) == 1.0
    assert token_f1("Jane Austen", ["Herman Melville"]) == 0.0


def test_token_f1_counts_repeated_tokens_once_each() -> None:
    # "new new york": 3 tokens; gold "new york": common = {new: 1, york: 1} -> p = 2/3, r = 1.
    assert token_f1("new new york", ["new york"]) == pytest.approx(2 * (2 / 3) / (2 / 3 + 1))


@pytest.mark.parametrize("prediction", [None, "", "   ", "the", "?!"])
def test_empty_or_missing_prediction_scores_zero(prediction: str | None) -> None:
    scores = qa_scores(prediction, ["Paris"])
    assert scores == QAScores(em=0.0, cover_em=0.0, f1=0.0)


def test_empty_prediction_matches_only_an_empty_gold_as_squad_does() -> None:
    assert token_f1("", ["the"]) == 1.0  # both normalise to nothing
    assert strict_em("", ["the"]) == 1.0
    assert cover_em("", ["the"]) == 0.0  # never a cover match on an empty gold


def test_unicode_answers() -> None:
    assert strict_em("Zürich", ["zürich"]) == 1.0
    assert strict_em("Zurich", ["Zürich"]) == 0.0  # accents are not folded: a different string
    assert strict_em("北京", ["北京"]) == 1.0
    assert cover_em("Die Stadt heißt Zürich.", ["Zürich"]) == 1.0


def test_qa_scores_bundles_the_three_metrics() -> None:
    scores = qa_scores("The Eiffel Tower!", ["Eiffel Tower", "La tour Eiffel"])
    assert scores == QAScores(em=1.0, cover_em=1.0, f1=1.0)
    assert qa_scores("no answer here", []) == QAScores(0.0, 0.0, 0.0)
