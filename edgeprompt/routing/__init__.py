"""Routing: a request's task tag picks the installed model that answers it.

`router` (the Router and its decisions), `rules` (tags and keyword rules), `policy` (which model for a
tag), `head` (the trained classifier head), `log` (decisions recorded), `evaluation` (the routing set),
`schema` (its table).
"""

from edgeprompt.routing.router import RouteDecision, Router

__all__ = ["RouteDecision", "Router"]
