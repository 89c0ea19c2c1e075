"""The exceptions users see: a one-line message naming the problem and its fix."""


class StatelabError(ValueError):
    """Bad input or an impossible setting. The CLI prints it on one line and exits with 2."""


class Interrupted(Exception):
    """Ctrl-C while a study ran: every chunk stored so far is whole, and running the same
    command again resumes. The CLI prints how many repeats are stored and exits with 130."""

    def __init__(self, stored: int) -> None:
        super().__init__(stored)
        self.stored = stored
