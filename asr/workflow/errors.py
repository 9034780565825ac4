"""The errors of asr.workflow (a module of its own: it imports nothing heavy)."""


class WorkflowError(Exception):
    """A workflow asked for something that cannot work (see the message)."""


class MissingResultError(WorkflowError):
    """A task needs the result of another task, which has no Record."""
