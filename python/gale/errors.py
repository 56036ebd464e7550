"""The exceptions the Gale client raises. Stdlib-only: the runner function ships this file."""

import re


class GaleError(Exception):
    """Base class of every error the Gale client raises."""


class GaleUnreachableError(GaleError):
    """No Gale server answered at the URL the client resolved."""


class ApiError(GaleError):
    """The admin API (/v1) or a function answered with an error status."""

    def __init__(self, message, status=None, method=None, path=None):
        super().__init__(message)
        self.status = status
        self.method = method
        self.path = path

    def __reduce__(self):
        return type(self), (str(self), self.status, self.method, self.path)


class SerializationError(GaleError, TypeError):
    """A callable, an argument or a result cannot be pickled (raised locally, at submit time)."""


class VersionMismatchError(GaleError):
    """The gale-runner function runs other code than this client would ship."""


class RemoteError(GaleError):
    """A task failed on the server.

    Raised as is when the remote exception cannot be re-created locally (a call to a
    deployed function that raised, a crash, a timeout); otherwise it is the
    ``__cause__`` of the re-raised original exception and carries the remote traceback.
    """

    def __init__(self, error, traceback="", status=None, job_id=None, index=None, attempts=None,
                 exception_type=None):
        self.error = error
        self.traceback = with_local_source(traceback or "")
        self.status = status
        self.job_id = job_id
        self.index = index
        self.attempts = attempts
        self.exception_type = exception_type
        super().__init__(self._message())

    def _message(self):
        where = []
        if self.index is not None:
            where.append(f"input {self.index}")
        if self.job_id:
            where.append(f"job {self.job_id}")
        if self.status:
            where.append(f"status {self.status}")
        if self.attempts and self.attempts > 1:
            where.append(f"{self.attempts} attempts")
        head = f"{self.error} ({', '.join(where)})" if where else str(self.error)
        if self.traceback.strip():
            return f"{head}\n\nRemote traceback:\n{self.traceback.rstrip()}"
        return head

    def __reduce__(self):
        return type(self), (self.error, self.traceback, self.status, self.job_id, self.index,
                            self.attempts, self.exception_type)


_FRAME_LINE = re.compile(r'^(\s*)File "([^"]+)", line (\d+), in ')


def with_local_source(traceback_text):
    """Fills in the source lines a remote traceback lacks from this machine's files.

    The sandbox on the server shows a function its bundle, not the notebook or script
    its callable came from, so Python there prints the frame without its line; the file
    is usually right here, where the traceback is read."""
    if "File \"" not in traceback_text:
        return traceback_text
    import linecache
    lines = traceback_text.split("\n")
    out = []
    for i, line in enumerate(lines):
        out.append(line)
        frame = _FRAME_LINE.match(line)
        if not frame:
            continue
        following = lines[i + 1] if i + 1 < len(lines) else ""
        indent = frame.group(1)
        if following.startswith(indent + "  ") and not _FRAME_LINE.match(following):
            continue  # the server had the source
        source = linecache.getline(frame.group(2), int(frame.group(3))).strip()
        if source:
            out.append(f"{indent}  {source}")  # where Python puts it: two columns in from "File"
    return "\n".join(out)


class ResultTooLargeError(GaleError):
    """A task's pickled result is over the runner's limit (raised on the server, per task)."""


class ConflictError(ApiError):
    """A conditional state write did not hold: the key was not at the version given.

    ``current_version`` is the version the key is at (0: it does not exist); ``failed_check``
    is the index of the check that failed in a transaction (None for a single write)."""

    def __init__(self, message, status=None, method=None, path=None, current_version=None, failed_check=None):
        super().__init__(message, status, method, path)
        self.current_version = current_version
        self.failed_check = failed_check

    def __reduce__(self):
        return type(self), (str(self), self.status, self.method, self.path, self.current_version, self.failed_check)
