"""The one exception the load tests raise for a user's mistake or an unreachable stack."""


class LoadTestError(Exception):
    """Something the person running the test can fix; the message is one readable line."""
