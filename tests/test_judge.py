"""The LLM-judge backend against a real llama_cpp.server on 127.0.0.1 serving SmolLM2: the
plumbing and the parsing (the meta-evaluation reports how good a judge it is)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest

from eval.faithfulness import LLMJudge, parse_judgement
from tests.test_openai_mode import model_server  # noqa: F401  (the fixture)


def _completion(content: str, top: list[tuple[str, float]] | None = None) -> NS:
    logprobs = None
    if top is not None:
        alts = [NS(token=t, logprob=lp) for t, lp in top]
        logprobs = NS(content=[NS(token=top[0][0], logprob=top[0][1], top_logprobs=alts)])
    return NS(choices=[NS(message=NS(content=content), logprobs=logprobs)])


def test_parse_judgement() -> None:
    p = parse_judgement(
        _completion("Yes", [("Yes", np.log(0.6)), ("No", np.log(0.2)), ("The", -3)])
    )
    assert p == pytest.approx(0.75)
    assert parse_judgement(_completion("No.")) == 0.0
    assert parse_judgement(_completion(" yes, it does")) == 1.0
    assert parse_judgement(_completion("Maybe")) == 0.5
    assert parse_judgement(NS(choices=[])) == 0.5


@pytest.mark.integration
@pytest.mark.slow
def test_judge_against_a_real_server(model_server, minilm) -> None:  # noqa: F811
    _, base = model_server
    judge = LLMJudge(base, "smollm2", minilm, timeout_s=120)
    evidence = (
        "China and Russia on Tuesday proposed to establish a regional security dialogue platform."
        " The foreign ministers met in Guilin. Lavrov called for moving away from the US dollar."
    )
    claims = [
        "China and Russia proposed a regional security dialogue platform.",
        "The ministers met in Paris and agreed to adopt the euro.",
    ]
    scores = judge.score(claims, [evidence, evidence])
    assert scores.shape == (2,) and all(0.0 <= s <= 1.0 for s in scores)
    # the judge's second opinion goes the right way on a plain case (greedy, deterministic)
    assert scores[0] > scores[1], scores
    assert judge.prompt_id.startswith("judge@")
    # long evidence is cut to the sentences most similar to the claim, in document order
    long_ev = (
        " ".join(f"Filler sentence number {i} about nothing." for i in range(30)) + " " + evidence
    )
    picked = judge.evidence_for(claims[0], long_ev)
    assert "regional security dialogue platform" in picked and len(picked) < len(long_ev) / 3
