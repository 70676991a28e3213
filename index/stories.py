"""Near-duplicate articles (the same wire story on several sites) share a ``story`` key.

Each article's text gets a MinHash signature over word 5-shingles (64 hashes); 16 bands of 4
are kept on its article record, so that candidates are found with one Chroma query, and a
candidate is the same story when the estimated Jaccard similarity of the shingles is at least
``THRESHOLD``. The story key is the id of the first copy stored.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

PERMS, BANDS = 64, 16
ROWS = PERMS // BANDS
THRESHOLD = 0.6
_PRIME = (1 << 61) - 1
_rng = np.random.default_rng(20240501)
_A = _rng.integers(1, _PRIME, PERMS, dtype=np.uint64) | np.uint64(1)  # odd multipliers
_B = _rng.integers(0, _PRIME, PERMS, dtype=np.uint64)
_WORD = re.compile(r"\w+")


def shingles(text: str, n: int = 5) -> set[int]:
    words = _WORD.findall(text.lower())
    if len(words) < n:
        words = words + [""] * (n - len(words))
    out = set()
    for i in range(len(words) - n + 1):
        digest = hashlib.blake2b(" ".join(words[i : i + n]).encode(), digest_size=8).digest()
        out.add(int.from_bytes(digest, "big") % _PRIME)
    return out


def signature(text: str) -> np.ndarray:
    """The MinHash signature (PERMS unsigned ints) of a text's 5-shingles."""
    values = np.array(sorted(shingles(text)), dtype=np.uint64)
    # (a * x + b) mod 2**64: multiply-add hashing, wrapping on purpose
    with np.errstate(over="ignore"):
        hashed = values[:, None] * _A[None, :] + _B[None, :]
    return np.asarray(hashed.min(axis=0), dtype=np.uint64)


def encode(sig: np.ndarray) -> str:
    return sig.astype(">u8").tobytes().hex()


def decode(text: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(text), dtype=">u8").astype(np.uint64)


def bands(sig: np.ndarray) -> list[str]:
    """The band keys a candidate must share (16 hex strings)."""
    return [
        hashlib.blake2b(sig[i * ROWS : (i + 1) * ROWS].tobytes(), digest_size=6).hexdigest()
        for i in range(BANDS)
    ]


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.mean(a == b))


def record_fields(sig: np.ndarray) -> dict[str, str]:
    """What an article record keeps of its signature."""
    return {"mh": encode(sig), **{f"b{i}": key for i, key in enumerate(bands(sig))}}


def same_story(sig: np.ndarray, candidates: Sequence[tuple[str, str, str]]) -> str | None:
    """The story of the most similar candidate (id, story, encoded signature) at or above
    ``THRESHOLD``, or None."""
    best, best_sim = None, THRESHOLD
    for cid, story, mh in candidates:
        sim = similarity(sig, decode(mh))
        if sim >= best_sim:
            best, best_sim = story or cid, sim
    return best
