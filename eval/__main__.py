"""``python -m eval eval|bench|train ...``: the evaluation commands alone (``qa`` has them too)."""

import argparse
import sys

from eval.cli import register

parser = argparse.ArgumentParser(prog="python -m eval")
register(parser.add_subparsers(dest="command", required=True))
args = parser.parse_args(sys.argv[1:])
raise SystemExit(int(args.func(args)))
