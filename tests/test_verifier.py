"""The shipped verifier (qa/models): its file, hand-made cases the old rule gets wrong, the
engine's use of it (a sentence dropped, an abstention) and a clear error for a corrupt file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from index.chunking import SentenceChunker
from index.ingest import Ingester
from index.keyword import BM25Index
from index.model import PartialDate
from index.parse import make_article
from index.retrieval import HybridRetriever
from index.store import ChromaStore
from qa.crossencoder import MANIFEST, MODEL_DIR, CrossEncoder, sha256_of
from qa.engine import Engine
from qa.errors import VerifierUnavailable
from qa.options import EngineOptions
from qa.settings import Settings
from qa.similarity import TextSimilarity
from qa.verifier import COMBINER, RuleVerifier, load_model_verifier
from qa.wiring import Components, check_verifier
from tests.conftest import ROOT, free_port

RYBAKINA = (
    "Elena Rybakina, who has represented Kazakhstan since 2018, won Wimbledon in 2022"
    " by beating Ons Jabeur in the final."
)
DERBY = "Chelsea beat Arsenal 2-1 on Saturday at Stamford Bridge, with two goals from Palmer."
RESIGN = "The health minister resigned on Tuesday after the report was published."

# (claim, evidence): unsupported claims the old rule accepts
CASES = [
    ("Rybakina won Wimbledon in 2018.", RYBAKINA),  # a figure of another clause
    ("Arsenal beat Chelsea 2-1 on Saturday.", DERBY),  # the sides swapped
    ("Jabeur beat Rybakina in the Wimbledon final.", RYBAKINA),  # the roles swapped
]
# the faithful twin of each case above
TWINS = [
    "Rybakina won Wimbledon in 2022.",
    "Chelsea beat Arsenal 2-1 on Saturday.",
    "Rybakina beat Jabeur in the Wimbledon final.",
]


@pytest.fixture(scope="module")
def similarity(onnx_embedder) -> TextSimilarity:
    return TextSimilarity(onnx_embedder)


@pytest.fixture(scope="module")
def shipped(similarity):
    return load_model_verifier(similarity)


def test_the_shipped_model_is_the_one_its_manifest_and_card_name() -> None:
    manifest = json.loads((MODEL_DIR / MANIFEST).read_text())
    model = MODEL_DIR / manifest["file"]
    assert sha256_of(model) == manifest["sha256"]
    assert model.stat().st_size == manifest["bytes"] <= 30_000_000
    card = (MODEL_DIR / "VERIFIER.md").read_text()
    assert manifest["sha256"] in card and "qa train verifier" in card


@pytest.mark.parametrize(
    ("claim", "evidence", "twin"),
    [(*c, t) for c, t in zip(CASES, TWINS, strict=True)],
    ids=lambda v: str(v)[:24],
)
def test_cases_the_old_rule_gets_wrong(shipped, similarity, claim, evidence, twin) -> None:
    rule = RuleVerifier(similarity)
    old = float(rule.support([claim], [evidence])[0])
    new, faithful = (float(s) for s in shipped.support([claim, twin], [evidence, evidence]))
    assert old >= rule.threshold, f"the rule now rejects it: {old:.2f}"
    assert new < shipped.threshold, f"support {new:.2f}"
    assert faithful > new, (faithful, new)  # the twin ranks above it


def test_negations_and_plain_restatements(shipped) -> None:
    claims = [
        "The health minister did not resign.",
        "The health minister resigned on Tuesday.",
        "Chelsea beat Arsenal 2-1 on Saturday.",
    ]
    no, yes, derby = shipped.support(claims, [RESIGN, RESIGN, DERBY])
    assert no < shipped.threshold <= min(yes, derby), (no, yes, derby)


def test_a_pair_scores_the_same_whatever_is_read_beside_it(shipped) -> None:
    """int8 activations are scaled over the whole input: in a padded batch, a pair's score
    moved with its companions, and so could a claim's verdict."""
    pair = ("The health minister resigned on Tuesday.", RESIGN)
    company = [(c, e) for c, e in CASES] + [(DERBY, f"{RYBAKINA} {RESIGN} {DERBY}")]
    alone = shipped.model.logits([pair])[0]
    for others in (company[:1], company, company[::-1]):
        together = shipped.model.logits([*others, pair])[-1]
        assert np.abs(together - alone).max() < 1e-5, (together, alone)


def test_early_stops_decide_as_reading_every_window(shipped, similarity) -> None:
    """The staged reading stops at the first window that supports the claim, and skips the
    windows that cannot reach the threshold whatever the model says: the verdict is the one
    reading all the windows gives, for supported and unsupported claims alike."""
    from qa.similarity import passage_sentences
    from qa.verifier import ModelVerifier

    texts = [RYBAKINA, DERBY, f"{RESIGN} {DERBY.replace('Chelsea', 'Leeds')} {RYBAKINA}"]
    spans = passage_sentences([_passage(text) for text in texts])
    every = ModelVerifier(similarity, shipped.model, shipped.combiner, stages=(), prune=False)
    stopped = 0
    claims = [*TWINS, *(c for c, _ in CASES), "The health minister did not resign."]
    for claim in [*claims, "The health minister resigned on Tuesday."]:
        shipped.forget()
        staged = shipped.best(claim, spans)
        read = len(shipped._probs)  # the (claim, window) pairs the model read
        every.forget()
        full = every.best(claim, spans)
        assert (staged[1] >= shipped.threshold) == (full[1] >= shipped.threshold), claim
        assert staged[1] <= full[1] + 1e-6  # the best of the windows read: at most the best
        stopped += read < len(every._probs)
    assert stopped >= 2, "supported claims stop at their first windows"


def _passage(text: str):
    from index.model import Passage

    return Passage(f"c{len(text)}", f"a{len(text)}", "Sport", text, 0, len(text))


def _engine(embedder, verifier, gen, *articles):
    store = ChromaStore.ephemeral(f"v-{uuid.uuid4().hex[:8]}")
    keyword = BM25Index(None)
    Ingester(store, keyword, embedder, SentenceChunker()).ingest_articles(list(articles))
    retriever = HybridRetriever(store, keyword, embedder)
    factories = {"local": (lambda: gen)} if gen is not None else {}
    return Engine(retriever, verifier, factories, "local", EngineOptions())


def _article(title: str, text: str):
    return make_article(title=title, text=text, source="Wire", published=PartialDate(2022, 7, 10))


def test_the_engine_drops_a_model_sentence_the_rule_accepted(
    onnx_embedder, similarity, shipped, scripted
) -> None:
    article = _article("Rybakina wins Wimbledon", RYBAKINA)
    question = "When did Rybakina win Wimbledon?"
    wrong = "Rybakina won Wimbledon in 2018."
    by_rule = _engine(onnx_embedder, RuleVerifier(similarity), scripted(wrong), article)
    old = by_rule.answer(question)
    assert old.mode == "local" and [s.text for s in old.sentences] == [wrong]
    new = _engine(onnx_embedder, shipped, scripted(wrong), article).answer(question)
    assert wrong not in [s.text for s in new.sentences]
    assert new.mode == "extractive" and "won Wimbledon in 2022" in new.text  # the source
    assert new.trace is not None and new.trace.dropped_claims[0]["sentence"] == wrong


def test_an_on_topic_passage_without_the_answer_is_an_abstention(onnx_embedder, shipped) -> None:
    article = _article(
        "Djokovic beats Thiem in Melbourne",
        "Novak Djokovic beat Dominic Thiem in the 2020 Australian Open final in five sets. "
        "It was his eighth title at Melbourne Park, where the tournament is played each January. "
        "Thiem said he was proud of his run to the final.",
    )
    engine = _engine(onnx_embedder, shipped, None, article)
    missing = engine.answer("Who won the 2021 Australian Open men's final?", mode="extractive")
    assert missing.status == "insufficient_evidence", missing.text
    assert "none mentions 2021" in missing.reason and not missing.citations
    held = engine.answer("Who won the 2020 Australian Open men's final?", mode="extractive")
    assert held.status == "answered" and "Djokovic" in held.text


def test_the_answerability_head_separates_answering_from_other_passages(shipped) -> None:
    passage = "Novak Djokovic beat Dominic Thiem in the 2020 Australian Open final in five sets."
    questions = [
        "Who won the 2020 Australian Open men's final?",
        "Who did Djokovic beat in the Australian Open final?",
        "Who won the 2019 French Open?",
        "What is the capital of Peru?",
    ]
    p = [float(shipped.answerable(q, [passage])[0]) for q in questions]
    assert min(p[:2]) >= shipped.answer_threshold > max(p[2:]), p


@pytest.fixture
def corrupt_models(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    shutil.copytree(MODEL_DIR, folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    model = folder / manifest["file"]
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    return folder


def test_a_corrupt_model_file_is_a_clear_error(corrupt_models: Path) -> None:
    with pytest.raises(VerifierUnavailable, match="is corrupt: SHA-256"):
        CrossEncoder(corrupt_models)
    settings = Settings(answer={"verifier_dir": corrupt_models})
    with pytest.raises(VerifierUnavailable, match="corrupt"):
        check_verifier(settings)
    with pytest.raises(VerifierUnavailable):
        _ = Components(settings).verifier  # never a silent switch to the rule


def test_a_combiner_fitted_on_other_features_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    shutil.copytree(MODEL_DIR, folder)
    data = json.loads((folder / COMBINER).read_text())
    data["features"] = data["features"][:-1]
    (folder / COMBINER).write_text(json.dumps(data))
    with pytest.raises(VerifierUnavailable, match="other features"):
        check_verifier(Settings(answer={"verifier_dir": folder}))


def test_serve_refuses_to_start_with_a_corrupt_model(corrupt_models: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "QA_DATA_DIR": str(tmp_path / "data"),
        "QA_ANSWER__VERIFIER_DIR": str(corrupt_models),
    }
    port = str(free_port())
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "serve", "--port", port],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "is corrupt: SHA-256" in proc.stderr and "Traceback" not in proc.stderr


def test_the_cache_computes_each_miss_once_in_one_call_and_evicts_the_least_recent() -> None:
    from qa.similarity import LRU

    calls: list[list[str]] = []

    def upper(keys: list[str]) -> list[str]:
        calls.append(keys)
        return [k.upper() for k in keys]

    cache: LRU[str, str] = LRU(3)
    assert cache.get_many(["a", "b", "a"], upper) == ["A", "B", "A"] and calls == [["a", "b"]]
    assert cache.get_many(["b", "c"], upper) == ["B", "C"] and calls[-1] == ["c"]
    cache.get_many(["a"], upper)  # 'a' used again: 'b' is now the least recent
    cache.get_many(["d"], upper)
    assert len(cache) == 3
    cache.get_many(["a", "b"], upper)
    assert calls[-1] == ["b"]  # 'b' was evicted and recomputed, 'a' was kept
