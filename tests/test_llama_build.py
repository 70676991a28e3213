"""The installed llama.cpp build: portable variants chosen at run time, never AMX tile code, and
a wheel folder keyed by every input of the build (so a wheel built with other flags is never
reused)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("build_llama", ROOT / "scripts" / "build_llama.py")
assert spec is not None and spec.loader is not None
build_llama = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_llama)

LIB = Path(__import__("llama_cpp").__file__).parent / "lib"
# AMX: tile loads/stores/config and the tile dot products, or any tmm register
AMX = re.compile(
    r"\b(tileloadd|tileloaddt1|tilestored|ldtilecfg|sttilecfg|tdpb\w+|tdpfp16ps)\b|%tmm"
)


def marker() -> dict[str, str]:
    return dict(json.loads((Path(sys.prefix) / build_llama.MARKER).read_text()))


def test_the_venv_holds_the_portable_build_of_the_pinned_version() -> None:
    import llama_cpp

    assert llama_cpp.__version__ == build_llama.VERSION
    installed = marker()
    assert installed["flavour"] == "portable", "make test must run on the portable build"
    assert installed["key"] == build_llama.build_key("portable")
    cpu = sorted(p.name for p in LIB.glob("libggml-cpu-*.so"))
    assert cpu == [f"libggml-cpu-{v}.so" for v in sorted(build_llama.VARIANT_NAMES)], cpu
    assert not list(LIB.glob("*sapphirerapids*"))  # llama.cpp's AMX variant


@pytest.mark.slow  # disassembles the whole library
@pytest.mark.skipif(shutil.which("objdump") is None, reason="needs binutils' objdump")
def test_no_amx_tile_instruction_is_in_the_installed_library() -> None:
    libs = sorted(p for p in LIB.glob("*.so") if not p.is_symlink())
    assert any("cpu" in p.name for p in libs)
    for lib in libs:
        out = subprocess.run(
            ["objdump", "-d", "--no-show-raw-insn", str(lib)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert len(out) > 10_000, lib  # it did disassemble
        hits = [line for line in out.splitlines() if AMX.search(line)]
        assert not hits, f"{lib.name}: {hits[:3]}"


def test_the_wheel_folder_changes_with_any_build_input(monkeypatch: pytest.MonkeyPatch) -> None:
    portable, native = build_llama.build_key("portable"), build_llama.build_key("native")
    assert portable != native
    monkeypatch.setattr(build_llama, "FLAVOURS", {**build_llama.FLAVOURS, "portable": ["-DX=1"]})
    assert build_llama.build_key("portable") != portable  # other flags, another folder
    monkeypatch.setattr(build_llama, "compiler", lambda: "another compiler")
    assert build_llama.build_key("native") != native
