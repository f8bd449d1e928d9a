"""CLI command groups; `edgeprompt.cli` registers them and turns their errors into exit codes."""

from __future__ import annotations

import argparse
from typing import Any, TypeAlias

# argparse's subparsers object: the class is private and, at run time, not subscriptable
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_group(sub: Subparsers, name: str, help: str, common: argparse.ArgumentParser) -> Subparsers:
    """A command group (`edgeprompt NAME …`) whose bare form prints its help; returns its subparsers."""
    p = sub.add_parser(name, help=help, description=help, parents=[common])
    p.set_defaults(parser=p, func=None)
    return p.add_subparsers(dest=f"{name}_command", metavar="COMMAND")


def add_command(
    sub: Subparsers, name: str, help: str, common: argparse.ArgumentParser, func: Any
) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help, description=help, parents=[common])
    p.set_defaults(func=func, parser=p)
    return p
