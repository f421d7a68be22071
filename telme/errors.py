"""The root of telme's typed errors: a `UserError` is something the user can fix.

Every error a person can act on (a bad file, a missing checkpoint, too much input) derives from
`UserError(ValueError)`; only the app turns them into UI messages and only the CLI into
`error: ...` lines. Anything else is a bug and surfaces as one.
"""


class UserError(ValueError):
    """Base class: the input, the files or the settings prevent the job; the message says why."""
