"""Exit codes, cogid's errors, and how AWS error codes map onto them."""

from __future__ import annotations

import errno
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    CONFIG = 3
    NOT_FOUND = 4
    DENIED = 5
    UNAVAILABLE = 6
    CONFLICT = 7  # a stale Cognito Sync write: someone else synced first
    INTERRUPTED = 130
    BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a writer whose reader went away
    TERMINATED = 143  # 128 + SIGTERM: bulk issuing stopped by SIGTERM, its workers with it


class CogidError(Exception):
    """An error cogid reports as one line, `<what>: <why>`, with an exit code."""

    exit_code = ExitCode.ERROR


class UsageError(CogidError):
    exit_code = ExitCode.USAGE


class ConfigError(CogidError):
    exit_code = ExitCode.CONFIG


class NotFound(CogidError):
    exit_code = ExitCode.NOT_FOUND


class Denied(CogidError):
    exit_code = ExitCode.DENIED


class Unavailable(CogidError):
    exit_code = ExitCode.UNAVAILABLE


class Conflict(CogidError):
    """A Cognito Sync write refused because the records moved since they were read. Raised by
    the sync commands only: Cognito Identity's ResourceConflictException means other things
    (a developer provider name taken...) and keeps exit code 1."""

    exit_code = ExitCode.CONFLICT


# AWS error codes (Cognito Identity, STS, IAM, SigV4) -> exit code; anything else is ERROR.
AWS_EXIT_CODES = {
    "ResourceNotFoundException": ExitCode.NOT_FOUND,
    "NoSuchEntity": ExitCode.NOT_FOUND,
    "NotAuthorizedException": ExitCode.DENIED,
    "AccessDenied": ExitCode.DENIED,
    "AccessDeniedException": ExitCode.DENIED,
    "InvalidIdentityToken": ExitCode.DENIED,
    "ExpiredTokenException": ExitCode.DENIED,
    "ExpiredToken": ExitCode.DENIED,
    "IDPRejectedClaim": ExitCode.DENIED,
    "UnrecognizedClientException": ExitCode.DENIED,
    "InvalidClientTokenId": ExitCode.DENIED,
    "InvalidSignatureException": ExitCode.DENIED,
    "SignatureDoesNotMatch": ExitCode.DENIED,
    "MissingAuthenticationTokenException": ExitCode.DENIED,
    "TooManyRequestsException": ExitCode.UNAVAILABLE,
    "Throttling": ExitCode.UNAVAILABLE,
    "ThrottlingException": ExitCode.UNAVAILABLE,
    "InternalErrorException": ExitCode.UNAVAILABLE,
    "InternalFailure": ExitCode.UNAVAILABLE,
    "ServiceFailure": ExitCode.UNAVAILABLE,
    "ServiceUnavailable": ExitCode.UNAVAILABLE,
    "ServiceUnavailableException": ExitCode.UNAVAILABLE,
    "ExternalServiceException": ExitCode.UNAVAILABLE,
    "IDPCommunicationError": ExitCode.UNAVAILABLE,
}


def from_client_error(error: Any) -> CogidError:
    """A cogid error for a botocore ClientError: `<Code>: <message>` with its exit code."""
    details = error.response.get("Error", {})
    code = details.get("Code", "Error")
    failure = CogidError(f"{code}: {details.get('Message') or 'no message'}")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    # A fault with no code AWS names (a proxy's 502, a 503 page) is the service's, not the caller's.
    failure.exit_code = AWS_EXIT_CODES.get(code, ExitCode.UNAVAILABLE if status >= 500 else ExitCode.ERROR)
    return failure


def from_exception(error: BaseException) -> CogidError | None:
    """cogid's error for `error` if it is ours or one of boto3/botocore's we understand."""
    if isinstance(error, CogidError):
        return error
    if isinstance(error, OSError) and error.filename is not None and error.errno == errno.ENOSPC:
        return Unavailable(f"{error.filename}: disk full")  # 6: it may work once space is freed
    if isinstance(error, OSError) and error.filename is not None:  # a file or directory cogid needs
        return ConfigError(f"{error.filename}: {error.strerror or error}")
    if type(error).__module__ == "cogid.local.store.core":  # loaded already: it raised `error`
        from cogid.local.store.core import StoreBusy, StoreTimeoutError, StoreUnwritable

        if isinstance(error, StoreUnwritable):  # nothing was written: retry once that is mended
            return Unavailable(f"local store {error}")

        if isinstance(error, StoreBusy):  # another process holds the store: retry later
            return Unavailable(f"local store busy: {error}")
        if isinstance(error, StoreTimeoutError):
            return ConfigError(str(error))
    if type(error).__module__ == "sqlite3":  # the local store, which names its file
        return ConfigError(f"local store: {error}")
    if not type(error).__module__.startswith("botocore"):
        return None
    from botocore import exceptions

    if isinstance(error, exceptions.ClientError):
        return from_client_error(error)
    if isinstance(error, exceptions.ParamValidationError):
        return UsageError(" ".join(str(error).split()))
    if isinstance(
        error,
        (
            exceptions.NoCredentialsError,
            exceptions.PartialCredentialsError,
            exceptions.ProfileNotFound,
            exceptions.NoRegionError,
        ),
    ):
        return ConfigError(f"AWS credentials: {error}")
    if isinstance(
        error,
        (
            exceptions.EndpointConnectionError,
            exceptions.ConnectionError,
            exceptions.ReadTimeoutError,
            exceptions.ConnectTimeoutError,
        ),
    ):
        return Unavailable(str(error))
    if isinstance(error, exceptions.BotoCoreError):
        return CogidError(str(error))
    return None
