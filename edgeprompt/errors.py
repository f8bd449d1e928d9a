"""The few domain errors. Each docstring is the user-facing message; `cli.py` turns them into exit codes."""

from __future__ import annotations


class EdgepromptError(Exception):
    """{detail}"""

    exit_code = 2

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        super().__init__(self.message())

    def message(self) -> str:
        """The docstring's first line; `{detail}` in it is filled in, else the detail follows a colon."""
        head = (self.__doc__ or "error").strip().splitlines()[0].rstrip(".")
        if "{detail}" in head:
            return head.replace("{detail}", self.detail)
        return f"{head}: {self.detail}" if self.detail else head


class UsageError(EdgepromptError):
    """{detail}"""


class ConfigError(EdgepromptError):
    """The settings file is invalid."""


class SettingError(EdgepromptError):
    """Setting not changed: {detail}"""


class DatabaseLockedError(EdgepromptError):
    """The database is locked by another edgeprompt process; close it and try again."""


class NewerDatabaseError(EdgepromptError):
    """The database was written by a newer edgeprompt; upgrade edgeprompt to open it."""


class CorruptDatabaseError(EdgepromptError):
    """The database file is not a valid edgeprompt database."""


class DiskFullError(EdgepromptError):
    """The disk is full; nothing was written. Free some space and try again."""


class ModelNotFoundError(EdgepromptError):
    """Unknown model '{detail}'; see `edgeprompt models list`."""


class ModelLoadError(EdgepromptError):
    """The model could not be loaded."""


class BackendUnavailableError(EdgepromptError):
    """This backend is not available on this machine."""


class NotFoundError(EdgepromptError):
    """Not found."""


class OfflineError(EdgepromptError):
    """This needs the network, and edgeprompt is offline."""


class Cancelled(EdgepromptError):
    """Cancelled."""

    exit_code = 130


class SignatureError(EdgepromptError):
    """The pack's signature does not verify; it was not installed"""


class UntrustedKeyError(EdgepromptError):
    """The pack is signed by a key this laptop does not trust ({detail}); trust it first with --trust-key"""


class TemplateError(EdgepromptError):
    """Prompt template error: {detail}"""


class PromotionRefusedError(EdgepromptError):
    """Promotion refused: {detail}"""


class ProtectedLabelError(EdgepromptError):
    """Label {detail} is protected; confirm with --yes or import a pack signed by a trusted coordinator"""


class PrivacyBudgetError(EdgepromptError):
    """Training refused: it would exceed this laptop's privacy budget ({detail})"""


class FederationError(EdgepromptError):
    """Federation: {detail}"""


class ToolError(EdgepromptError):
    """{detail}"""


class ChecksumError(EdgepromptError):
    """A downloaded file does not match the hub's checksum; it was deleted and nothing was installed"""


class NoSpaceError(EdgepromptError):
    """Not enough free disk space: {detail}"""
