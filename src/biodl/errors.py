"""Errors that are the user's to fix (a missing file, column or config key).

The CLI turns a :class:`UserError` into one line on stderr and exit code 2, with no traceback.
A bad *row* is never an error: it becomes a reject record with its reason.
"""


class UserError(Exception):
    """A structural fault in the user's input: one clear line naming the file / column / key."""

    exit_code = 2
