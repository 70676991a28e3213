import sys

from qa.cli import main

raise SystemExit(main(["eval", *sys.argv[1:]] if sys.argv[1:2] != ["bench"] else sys.argv[1:]))
