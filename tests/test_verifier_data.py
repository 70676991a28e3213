"""The verifier's training draw: each source and the held-out sample from a stream of its own,
so that a change to one generator leaves the other draws (and the metrics' pairs) as they were."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from eval import verifier_data
from eval.verifier_data import Pair, build_pairs
from tests.conftest import SHARED_DATA


def _fake_bbc(draws: int):
    def synthetic(folder: Path, n: int, rng: random.Random) -> list[Pair]:
        for _ in range(draws):  # another generator consumes its stream differently
            rng.random()
        return [
            Pair("support", f"claim {i} {rng.random()}", "window", i % 2, "bbc-copy", "train")
            for i in range(n)
        ] + [Pair("support", "held claim", "window", 1, "bbc-copy", "test")]

    return synthetic


def test_a_change_to_the_bbc_generator_leaves_every_other_draw_alone(monkeypatch) -> None:
    training = SHARED_DATA / "training"
    if not training.is_dir():
        pytest.fail(f"the training data is not at {training}")
    per_source = {"mnli": 300, "fever": 300, "snli": 200, "squad": 300, "bbc": 50}
    drawn = []
    for draws in (0, 7):
        monkeypatch.setattr(verifier_data, "synthetic_pairs", _fake_bbc(draws))
        train, test = build_pairs(training, Path("unused"), per_source, seed=13)
        drawn.append(
            (
                sorted((p.source, p.a, p.b) for p in train if not p.source.startswith("bbc")),
                [(p.source, p.a, p.b) for p in test if not p.source.startswith("bbc")],
                [p.a for p in train if p.source.startswith("bbc")],
            )
        )
    (train_a, test_a, bbc_a), (train_b, test_b, bbc_b) = drawn
    assert bbc_a != bbc_b  # the generator did change
    assert train_a == train_b and test_a == test_b
    counts = {s: sum(1 for t in train_a if t[0] == s) for s in per_source if s != "bbc"}
    assert counts == {k: v for k, v in per_source.items() if k != "bbc"}
