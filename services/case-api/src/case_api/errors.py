"""case-api's refusals beyond service_kit.errors' common ones."""

from http import HTTPStatus

from service_kit.errors import DomainError


class Gone(DomainError):
    """410: the case exists, but its personal data was erased at the end of its retention period (R18)."""

    status = HTTPStatus.GONE
    code = "gone"
    title = "The case's personal data was erased"
    fix = (
        "The case ended more than its retention period ago and its personal data is gone (R18); only what is not "
        "personal (stage, dates, outcome) can still be read. Nothing can be added to it; open a new case."
    )


class PreconditionFailed(DomainError):
    """412: the `If-Match` of a change names a version of the resource that is no longer current."""

    status = HTTPStatus.PRECONDITION_FAILED
    code = "precondition-failed"
    title = "Someone changed this since you read it"
    fix = (
        "The `If-Match` you sent is not the current version (`etag` in the answer). Read the resource again, "
        "apply your change to what is there now, and send it with the new ETag."
    )
