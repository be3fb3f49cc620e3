"""The one exception type that reaches a user as a one-line message."""


class DnalmError(Exception):
    """Bad input or an impossible request.

    The CLI prints ``dnalm <command>: error: <message>`` on stderr and exits 1,
    so the message must name the record, column or file and say what is wrong.
    """
