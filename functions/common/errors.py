"""Small domain exceptions. Their messages are one line and name what is wrong."""


class SluiceError(Exception):
    """Base class of every error the functions raise on purpose."""


class ConfigError(SluiceError):
    """An environment variable is missing or invalid; raised at import so the function fails fast."""


class EnvelopeError(SluiceError):
    """A queue message body is not a valid Sluice envelope."""


class InvalidEventError(SluiceError):
    """The Lambda event does not have the shape its trigger sends; Lambda retries the whole event."""
