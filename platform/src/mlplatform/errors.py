"""Errors a user can act on: each names the problem and the fix, and the CLI prints it without a trace."""


class PlatformError(Exception):
    """A problem the user can fix; the message says how."""


class ToolMissing(PlatformError):
    pass


class PortInUse(PlatformError):
    pass


class ServiceFailed(PlatformError):
    pass
