from __future__ import annotations

import sys

from piak.cli import main

sys.exit(main())
