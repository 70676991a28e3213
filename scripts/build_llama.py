"""Build and install llama-cpp-python so that it runs on any x86-64 CPU with AVX2 (set-up only).

    python scripts/build_llama.py [--flavour portable|native] [--wheels DIR] [--check]

llama-cpp-python compiles llama.cpp from source, and by default with ``-march=native``: the
library then holds whatever the build host has (AVX-512, AMX tile code) and traps with SIGILL on
a host that lacks it, or on a virtual machine whose CPU flags list AMX without the hypervisor
enabling it (seen here: ``tileloadd`` in ``ggml_backend_amx_mul_mat``). So, by default
(``portable``):

* llama.cpp is built with ``GGML_NATIVE=OFF`` and ``GGML_BACKEND_DL=ON``: its CPU code is one
  shared library per instruction-set variant, and the one the running CPU supports best is
  chosen at load time (llama.cpp's own scoring of CPUID features). The variants built are an
  AVX2/FMA/F16C/BMI2 baseline (``haswell``) and three AVX-512 ones (``skylakex``, ``icelake``
  with VBMI and VNNI, ``zen4`` adding BF16). A CPU without AVX2 gets no CPU backend: the
  self-check at set-up says so.
* llama.cpp's list of variants is patched so that its AMX variant (``sapphirerapids``) is never
  built: no AMX tile code exists in the installed library (``tests/test_llama_build.py``
  disassembles it to make sure).
* The wheel is built once into ``<wheels>/llama-cpp-python-<version>-<flavour>-<key>/``, where
  ``key`` hashes the version, the source's SHA-256, the CMake arguments, the patch and the
  compiler; pip's own cache is never used for it (``--no-cache-dir``), so a wheel built with other
  flags can never be picked up in its place. The venv records which key it holds and is
  reinstalled when the key changes.

``native`` is the opt-in for a machine of one's own: ``-march=native``, every variant of this
CPU, AMX included where the compiler enables it (not portable to any other machine).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "0.3.36"
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
COMMON = ["-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DGGML_OPENMP=ON"]
FLAVOURS = {
    "portable": ["-DGGML_NATIVE=OFF", "-DGGML_BACKEND_DL=ON", "-DGGML_CPU_ALL_VARIANTS=ON"],
    "native": ["-DGGML_NATIVE=ON"],
}
# Source patches for the portable build: (file, text that must occur once, its replacement).
VARIANTS = """\
        # newsqa: an AVX2 baseline and AVX-512 variants chosen at load time; never AMX
        ggml_add_cpu_backend_variant(haswell    SSE42 AVX F16C FMA AVX2 BMI2)
        ggml_add_cpu_backend_variant(skylakex   SSE42 AVX F16C FMA AVX2 BMI2 AVX512)
        ggml_add_cpu_backend_variant(icelake    SSE42 AVX F16C FMA AVX2 BMI2 AVX512 AVX512_VBMI AVX512_VNNI)
        ggml_add_cpu_backend_variant(zen4       SSE42 AVX F16C FMA AVX2 BMI2 AVX512 AVX512_VBMI AVX512_VNNI AVX512_BF16)
"""
VARIANT_NAMES = ("haswell", "skylakex", "icelake", "zen4")
SEARCH_HERE = """\
#if !defined(_WIN32)
        // newsqa: also the folder of libggml itself (llama-cpp-python keeps the backends there)
        {
            Dl_info self;
            if (dladdr((const void *) &ggml_backend_load_all, &self) && self.dli_fname) {
                search_paths.push_back(fs::u8path(self.dli_fname).parent_path());
            }
        }
#endif
        search_paths.push_back(get_executable_path());
"""
INSTALL = "".join(f"    llama_cpp_python_install_target(ggml-cpu-{v})\n" for v in VARIANT_NAMES)


def _x86_variants(text: str) -> str:
    start = text.find("        ggml_add_cpu_backend_variant(x64)\n")
    end = text.find('    elseif(GGML_SYSTEM_ARCH STREQUAL "ARM")\n')
    if start < 0 or end < start or "sapphirerapids" not in text[start:end]:
        raise SystemExit("llama.cpp's x86 variant list is not where expected; update the patch")
    return text[:start] + VARIANTS + text[end:]


def _once(old: str, new: str):  # type: ignore[no-untyped-def]
    def apply(text: str) -> str:
        if text.count(old) != 1:
            raise SystemExit(f"patch anchor not found exactly once: {old.strip()[:60]!r}")
        return text.replace(old, new)

    return apply


PATCHES = [
    ("vendor/llama.cpp/ggml/src/CMakeLists.txt", _x86_variants),
    (
        "vendor/llama.cpp/ggml/src/ggml-backend-reg.cpp",
        _once("        search_paths.push_back(get_executable_path());\n", SEARCH_HERE),
    ),
    (
        "CMakeLists.txt",
        _once(
            "    llama_cpp_python_install_target(ggml-cpu)\n",
            "    llama_cpp_python_install_target(ggml-cpu)\n" + INSTALL,
        ),
    ),
]
MARKER = ".llama-build.json"  # in the venv: which build is installed


def run(cmd: list[str], **kw: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]


def compiler() -> str:
    try:
        out = subprocess.run(["c++", "--version"], capture_output=True, text=True, check=True)
        return out.stdout.splitlines()[0]
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def build_key(flavour: str) -> str:
    parts = [VERSION, SDIST_SHA256, flavour, *COMMON, *FLAVOURS[flavour], compiler()]
    if flavour == "portable":
        parts += [VARIANTS, SEARCH_HERE, INSTALL]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def patch_source(src: Path) -> None:
    """Apply ``PATCHES``; each fails loudly if the pinned source is not as expected."""
    for name, apply in PATCHES:
        path = src / name
        path.write_text(apply(path.read_text()))


def build_wheel(flavour: str, out: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="llama-build-") as tmp:
        work = Path(tmp)
        run(
            [
                *(sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"),
                *("--no-cache-dir", "-d", str(work), f"llama-cpp-python=={VERSION}"),
            ]
        )
        sdist = next(work.glob("llama_cpp_python-*.tar.gz"))
        digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
        if digest != SDIST_SHA256:
            raise SystemExit(f"{sdist.name}: SHA-256 {digest} is not the pinned {SDIST_SHA256}")
        with tarfile.open(sdist) as tar:
            tar.extractall(work, filter="data")
        src = work / sdist.name.removesuffix(".tar.gz")
        if flavour == "portable":
            patch_source(src)
        env = {**os.environ, "CMAKE_ARGS": " ".join(COMMON + FLAVOURS[flavour])}
        env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        staging = work / "wheel"
        pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir"]
        run([*pip_wheel, "-w", str(staging), str(src)], env=env)
        wheel = next(staging.glob("*.whl"))
        out.mkdir(parents=True, exist_ok=True)
        final = out / wheel.name
        shutil.move(str(wheel), final)
        return final


def installed_key() -> str | None:
    marker = Path(sys.prefix) / MARKER
    try:
        return str(json.loads(marker.read_text())["key"])
    except (OSError, ValueError, KeyError):
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--flavour", choices=sorted(FLAVOURS), default="portable")
    ap.add_argument("--wheels", type=Path, default=Path(".wheels"))
    ap.add_argument("--print-key", action="store_true", help="print the build key and exit")
    ap.add_argument("--no-install", action="store_true", help="build the wheel, print its path")
    args = ap.parse_args()
    key = build_key(args.flavour)
    if args.print_key:
        print(key)
        return 0
    if installed_key() == key and not args.no_install:
        print(f"llama-cpp-python {VERSION} ({args.flavour}, {key}) already installed")
        return 0
    folder = args.wheels / f"llama-cpp-python-{VERSION}-{args.flavour}-{key}"
    wheels = sorted(folder.glob("*.whl")) if folder.is_dir() else []
    if wheels:
        wheel = wheels[0]
        print(f"using {wheel} (built earlier with exactly these flags)")
    else:
        print(f"building llama-cpp-python {VERSION} ({args.flavour}; a few minutes, once)")
        wheel = build_wheel(args.flavour, folder)
    if args.no_install:
        print(wheel)
        return 0
    run([sys.executable, "-m", "pip", "install", "--no-deps", "--force-reinstall", str(wheel)])
    (Path(sys.prefix) / MARKER).write_text(
        json.dumps({"version": VERSION, "flavour": args.flavour, "key": key, "wheel": wheel.name})
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
