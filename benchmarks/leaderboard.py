"""Regenerate benchmarks/LEADERBOARD.md and leaderboard.json: the same as `zoo leaderboard` (same flags).

    python benchmarks/leaderboard.py --n-samples 10000
"""

import sys

from zoo.cli import main

if __name__ == "__main__":
    sys.exit(main(["leaderboard", *sys.argv[1:]]))
