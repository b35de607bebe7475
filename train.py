"""Monthly retrain entry point: ``python train.py`` (same as ``recommender train``)."""

import sys

from recommender.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
