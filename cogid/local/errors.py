"""Service errors, named and coded like the AWS error shapes they stand for."""

from __future__ import annotations


class ServiceError(Exception):
    """An error the service answers with: `code` is the AWS error code on the wire."""

    code = "InternalErrorException"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class FetchNeeded(Exception):
    """Not an answer: the service needs the document at `url` and its transport fetches it
    (cogid serve does, off its event loop) and sends the request again."""

    def __init__(self, url: str):
        super().__init__(url)
        self.url = url


# Cognito Identity (JSON protocol)
class InvalidParameter(ServiceError):
    code = "InvalidParameterException"


class Validation(ServiceError):
    code = "ValidationException"


class Serialization(ServiceError):
    code = "SerializationException"


class UnknownOperation(ServiceError):
    code = "UnknownOperationException"


class NotAuthorized(ServiceError):
    code = "NotAuthorizedException"


class ResourceNotFound(ServiceError):
    code = "ResourceNotFoundException"


class ResourceConflict(ServiceError):
    code = "ResourceConflictException"


class DeveloperUserAlreadyRegistered(ServiceError):
    code = "DeveloperUserAlreadyRegisteredException"


class LimitExceeded(ServiceError):
    code = "LimitExceededException"


class InvalidIdentityPoolConfiguration(ServiceError):
    code = "InvalidIdentityPoolConfigurationException"


class ExternalService(ServiceError):
    code = "ExternalServiceException"


class InternalError(ServiceError):
    code = "InternalErrorException"
    status = 500


# Cognito Sync (REST-JSON); it shares the codes above that Cognito Identity has too
class InvalidConfiguration(ServiceError):
    code = "InvalidConfigurationException"


class InvalidLambdaFunctionOutput(ServiceError):
    code = "InvalidLambdaFunctionOutputException"


class DuplicateRequest(ServiceError):
    code = "DuplicateRequestException"


class AlreadyStreamed(ServiceError):
    code = "AlreadyStreamedException"


# STS and IAM (query protocol)
class InvalidIdentityToken(ServiceError):
    code = "InvalidIdentityToken"


class ExpiredToken(ServiceError):
    code = "ExpiredTokenException"


class AccessDenied(ServiceError):
    code = "AccessDenied"
    status = 403


class ValidationError(ServiceError):
    code = "ValidationError"


class NoSuchEntity(ServiceError):
    code = "NoSuchEntity"
    status = 404


class EntityAlreadyExists(ServiceError):
    code = "EntityAlreadyExists"
    status = 409


class MalformedPolicyDocument(ServiceError):
    code = "MalformedPolicyDocument"


class DeleteConflict(ServiceError):
    code = "DeleteConflict"
    status = 409


class AuthFailure(ServiceError):
    """A request that cannot be tied to a valid signer. JSON and Query services name the
    same failure differently (spec §3.3, §4), so it carries both names."""

    def __init__(self, message: str, kind: str):
        code, self.query_code, self.query_status = _AUTH_FAILURES[kind]
        super().__init__(message, code=code)


_AUTH_FAILURES = {
    "unrecognized": ("UnrecognizedClientException", "InvalidClientTokenId", 403),
    "expired": ("ExpiredTokenException", "ExpiredToken", 403),
    "signature": ("InvalidSignatureException", "SignatureDoesNotMatch", 403),
    "incomplete": ("IncompleteSignatureException", "IncompleteSignature", 400),
    "missing": ("MissingAuthenticationTokenException", "MissingAuthenticationToken", 403),
    "denied": ("AccessDeniedException", "AccessDenied", 403),
}
