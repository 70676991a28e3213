"""Where the evaluation data lives (``QA_EVAL_DATA``, default ``../shared/data``: read, never
copied) and the data sets by name. Not part of the product's settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from eval.datasets import Dataset, load_jsonl_dataset, load_realtimeqa, load_rgb

ANSWER_SETS = "realtimeqa, rgb, rgb-counterfactual, rgb-negatives, or a .jsonl file"


class EvalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_EVAL_", extra="ignore", env_file=None)

    data: Path = Field(
        Path(__file__).resolve().parent.parent.parent / "shared" / "data",
        description="the shared evaluation data sets (QA_EVAL_DATA)",
    )


def data_root(required: bool = True) -> Path | None:
    """The evaluation data folder; FileNotFoundError (or None) when it is not there."""
    root = EvalSettings().data
    if root.is_dir():
        return root
    if not required:
        return None
    raise FileNotFoundError(
        f"evaluation data not found at {root}: set QA_EVAL_DATA to the folder holding "
        "realtimeqa/, rgb/, bbc-news/ ..."
    )


def eval_root() -> Path:
    root = data_root()
    assert root is not None
    return root


def load_dataset(name: str, root: Path | None) -> Dataset:
    if name.endswith((".jsonl", ".json")) and Path(name).is_file():
        return load_jsonl_dataset(Path(name))
    if root is None:
        raise FileNotFoundError("evaluation data not found: set QA_EVAL_DATA")
    rgb = root / "rgb" / "data" / "en_fact.json"
    match name:
        case "realtimeqa":
            return load_realtimeqa(root / "realtimeqa")
        case "rgb":
            return load_rgb(rgb)
        case "rgb-counterfactual":
            return load_rgb(rgb, counterfactual=True)
        case "rgb-negatives":
            return load_rgb(rgb, negatives_only=True)
    raise ValueError(f"unknown data set {name!r} (known: {ANSWER_SETS})")
