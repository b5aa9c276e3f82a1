"""The two kinds of failure a user meets, and the exit codes they map to (DESIGN.md, Contracts)."""


class TandemInputError(ValueError):
    """Bad input from the user: an unknown algorithm, env, flag or file, or a value out of range.

    Raised before anything is compiled or written. The CLI exits with code 2 and prints the message,
    which names the offending field and what is allowed.
    """


class TandemRuntimeError(RuntimeError):
    """A failure while running (a broken environment, a non-finite loss, an unreadable checkpoint).

    The CLI exits with code 1 and prints the message as one paragraph.
    """


class Interrupted(Exception):
    """SIGINT/SIGTERM asked the run to stop (exit 128 + signal).

    The first signal lets the current update finish, writes a checkpoint (``checkpoint``) and stops;
    a second one stops at once (``immediate``), leaving the checkpoints already complete as they were.
    """

    def __init__(self, signum: int, checkpoint=None, immediate: bool = False):
        self.exit_code = 128 + signum
        self.signum, self.checkpoint, self.immediate = signum, checkpoint, immediate
        super().__init__(f"interrupted by signal {signum}" + ("" if immediate else f"; checkpoint {checkpoint}"))


class UnsupportedSpace(TandemInputError):
    """A known environment whose observation or action space tandem cannot drive (exit 2 from ``train``;
    a reported problem in ``check-env``)."""
