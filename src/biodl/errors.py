"""Errors that are the user's to fix (a missing file, column or config key).

The CLI turns a :class:`UserError` into one line on stderr and exit code 2, with no traceback.
A bad *row* is never an error: it becomes a reject record with its reason.
"""


class UserError(Exception):
    """A structural fault in the user's input: one clear line naming the file / column / key."""

    exit_code = 2


def settings_from_dict(cls, values, section: str):
    """``cls(**values)`` for a settings dataclass, after rejecting unknown keys by name, so a
    misspelt setting in a config block is one line naming it (``section`` names the block)."""
    from dataclasses import fields

    values = dict(values or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise UserError(f"{section}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return cls(**values)
