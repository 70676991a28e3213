"""Typed answers: the question's wording says what the answer names, and sentences naming
such a thing (not one the question names itself) rank as answers."""

from __future__ import annotations

import pytest

from index.embedder import HashEmbedder
from index.model import Passage
from qa.answertypes import expected
from qa.extractive import ExtractiveSelector
from qa.similarity import TextSimilarity


@pytest.mark.parametrize(
    ("question", "label"),
    [
        ("In which European country is Andrew Tate being held?", "country"),
        ("Which US state's governor wants to ban vaccine mandates?", "state"),
        ("Title 42 is set to expire in which month?", "month"),
        ("In what year did Robert Burns publish his first collection?", "year"),
        ("McCarthy was elected speaker after how many rounds of voting?", "count of rounds"),
        ("Who won the Australian Open?", None),
        ("How many did they sell?", None),
    ],
)
def test_the_question_names_the_type_of_its_answer(question: str, label: str | None) -> None:
    typed = expected(question)
    assert (typed.label if typed else None) == label


def test_a_country_the_question_names_is_not_an_answer() -> None:
    typed = expected("In addition to the US, which country will send tanks to Ukraine?")
    assert typed is not None
    assert not typed.found_in("The U.S. will send 31 Abrams tanks to Ukraine.")
    assert typed.found_in("Germany has approved plans to send Leopard 2 tanks.")
    assert not typed.found_in("Officials met on Tuesday to discuss the tanks.")


def test_a_count_must_count_the_thing_asked_about() -> None:
    typed = expected("McCarthy was elected speaker after how many rounds of voting?")
    assert typed is not None
    assert typed.found_in("He won after a marathon 15 rounds of voting.")
    assert not typed.found_in("McCarthy won at least 214 votes on Friday.")
    centuries = expected("She was the first pope to resign in how many centuries?")
    assert centuries is not None and centuries.found_in("the first pope to do so in six centuries")


def test_the_sentence_naming_the_asked_type_is_chosen_first() -> None:
    question = "Kevin McCarthy was elected speaker of the House after how many rounds of voting?"
    text = (
        "Kevin McCarthy was elected House speaker with 216 votes after days of voting."
        " McCarthy became speaker after a marathon 15 rounds of voting in the House."
    )
    p = Passage("c", "a", "Speaker vote", text, 0, len(text))
    selector = ExtractiveSelector(TextSimilarity(HashEmbedder()), max_sentences=1)
    assert [x.span.text for x in selector.select(question, [p])] == [
        "McCarthy became speaker after a marathon 15 rounds of voting in the House."
    ]
    selector.weights["typed"] = 0.0  # the test fails without the typed-answer feature
    assert "15 rounds" not in selector.select(question, [p])[0].span.text
