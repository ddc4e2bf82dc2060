"""The ``cloudoptim`` command: the very same Rust command line as the standalone binary."""

import sys

from . import _native


def main() -> None:
    """Runs ``cloudoptim`` with ``sys.argv`` and exits with its exit code."""
    sys.exit(_native.cli_main(sys.argv))
