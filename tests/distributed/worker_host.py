"""Test-only ``[core] hostname_callable`` for the loopback topology's Celery workers.

Both workers run on this one machine, so ``socket.getfqdn()`` would name them alike; in the
compose stack every worker container has a hostname of its own. Each worker of
``tests/distributed`` gets ``PIAK_TEST_WORKER`` (its name), and its task instances show it as
their ``hostname`` in the REST API and the UI.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    """The worker's name, or the machine's FQDN outside the test topology."""
    return os.environ.get("PIAK_TEST_WORKER") or socket.getfqdn()
