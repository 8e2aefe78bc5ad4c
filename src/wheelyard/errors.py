"""Errors every layer may raise and catch: storage, config, the client, the builder, the yard.

Each kind is a class, never a substring of a message. The HTTP surface maps each class to a
status (web/errors.py); the CLI prints the message on one line and exits with ``exit_code``:

| exit | meaning |
|---|---|
| 0 | done |
| 1 | refused or failed: any error below (invalid input, not found, conflict, locked, |
|   | authentication, permission, throttled, storage, the yard unreachable or refusing), a |
|   | database error, or a command that ran and found problems (check, import, build) |
| 2 | usage: unknown command or option, missing argument (argparse) |
| 130 | interrupted (Ctrl-C) |
"""


class YardError(Exception):
    """Base of every error whose message is safe and meant for the user."""

    exit_code = 1

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class InvalidInput(YardError):
    """The request or file is malformed or breaks a rule."""


class NotFound(YardError):
    """The owner, label, package, release, file or token does not exist (or is not visible)."""


class Conflict(YardError):
    """The change clashes with something already stored."""


class Locked(YardError):
    """The label is locked against changes."""


class Unauthenticated(YardError):
    """Credentials were required but missing, invalid or expired."""


class Forbidden(YardError):
    """Credentials are valid but do not allow this action."""


class TooLarge(YardError):
    """The upload is larger than the configured limit."""


class TooManyRequests(YardError):
    """Too many failed authentications from this client or for this user; retry later."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class EngineFailed(YardError):
    """No container engine answers, or it failed to start or run a container."""


class StorageError(YardError):
    """The blob store failed (I/O error, read-only or missing volume); nothing was stored."""


class InsufficientStorage(StorageError):
    """The blob store is full (ENOSPC) or over its quota (EDQUOT); nothing was stored."""


class DamagedBlob(StorageError):
    """A stored file no longer matches its recorded size or digest; it is not served."""
