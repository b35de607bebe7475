"""``python -m recommender.cli``: the same CLI as the ``recommender`` command."""

import sys

from recommender.cli import main

sys.exit(main())
