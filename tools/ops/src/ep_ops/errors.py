"""The one error of the operator's CLI."""


class OpsError(Exception):
    """A command cannot do what it was asked; the message says why and what to do."""
