"""case-api's refusals beyond service_kit.errors' common ones."""

from http import HTTPStatus

from service_kit.errors import DomainError


class Gone(DomainError):
    """410: the case exists, but its personal data was erased at the end of its retention period (R18)."""

    status = HTTPStatus.GONE
    code = "gone"


class PreconditionFailed(DomainError):
    """412: the `If-Match` of a change names a version of the resource that is no longer current."""

    status = HTTPStatus.PRECONDITION_FAILED
    code = "precondition-failed"
