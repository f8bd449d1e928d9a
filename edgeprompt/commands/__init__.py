"""CLI command groups; `edgeprompt.cli` registers them and turns their errors into exit codes."""

from __future__ import annotations

import argparse
from typing import Any


def add_group(sub: Any, name: str, help: str, common: argparse.ArgumentParser) -> Any:
    """A command group (`edgeprompt NAME …`) whose bare form prints its help; returns its subparsers."""
    p = sub.add_parser(name, help=help, description=help, parents=[common])
    p.set_defaults(parser=p, func=None)
    return p.add_subparsers(dest=f"{name}_command", metavar="COMMAND")


def add_command(sub: Any, name: str, help: str, common: argparse.ArgumentParser, func: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help, description=help, parents=[common])
    p.set_defaults(func=func, parser=p)
    return p
