"""``python -m nasbench_mt.cli``."""

import sys

from nasbench_mt.cli.main import main

sys.exit(main())
