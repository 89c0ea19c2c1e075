"""The one exception type users see: a one-line message naming the problem and its fix."""


class StatelabError(ValueError):
    """Bad input or an impossible setting. The CLI prints it on one line and exits with 2."""
