"""What every command-line entry point shares: an argument parser whose help text is the module's docstring."""

from __future__ import annotations

import argparse

__all__ = ["doc_parser"]


def doc_parser(prog: str, doc: str) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` for ``prog`` whose description is ``doc`` up to its "Examples:" paragraph and whose
    epilog is that paragraph onwards (examples, exit status), both printed as written."""
    head, marker, tail = doc.partition("Examples:")
    return argparse.ArgumentParser(
        prog=prog,
        description=head.strip(),
        epilog=(marker + tail).strip() or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
