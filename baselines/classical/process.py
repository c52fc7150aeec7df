"""Run an external command under a time limit; past it, kill the command's whole process group.

A codec's command may start helpers of its own (a shell script, a front end that calls the real coder);
killing only the process we started would leave them running and holding our pipes open. So every
command starts in a session of its own (``start_new_session``) and a timeout kills that group
(``os.killpg``), as does an interrupt (a second Ctrl-C) while the command runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

FILE_NOTE = " (killed with every process it started; --timeout SECONDS sets the limit for each file)"
MIN_SECONDS = 60.0  # the default limit of a file: at least a minute,
SECONDS_PER_AUDIO_SECOND = 20.0  # and 20 seconds of coding for each second of audio


class CommandTimeout(RuntimeError):
    """An external command ran past its time limit and was killed (with every process it started)."""


def default_limit(audio_seconds: float) -> float:
    """The default time limit for coding one file: max(60 s, 20 x its duration), whole seconds."""
    return float(max(MIN_SECONDS, round(SECONDS_PER_AUDIO_SECOND * audio_seconds)))


def _stop(process: subprocess.Popen) -> None:
    """Kill the command's process group and reap it (its pipes' last output is dropped)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    try:
        process.communicate(timeout=10)
    except subprocess.TimeoutExpired:  # a helper that left the group still holds a pipe: stop waiting for it
        process.wait()


def run_limited(argv: list[str], seconds: float, what: str, data: bytes | None = None,
                limit: float | None = None, note: str = "") -> subprocess.CompletedProcess:
    """Run ``argv`` (bytes ``data`` on stdin, else none), its output captured, for at most ``seconds``.

    Raises :class:`CommandTimeout` "``what`` timed out after ``limit`` s``note``" when the time runs out
    (``limit``: the figure to name, the file's whole limit when ``seconds`` is what remains of it; default
    ``seconds``). Raises ``OSError`` when the program cannot be started.
    """
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL if data is None else subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        stdout, stderr = process.communicate(data, timeout=max(seconds, 0.001))
    except subprocess.TimeoutExpired:
        _stop(process)
        raise CommandTimeout(f"{what} timed out after {limit if limit is not None else seconds:g} s{note}") from None
    except BaseException:  # an interrupt while the command runs: it must not outlive us
        _stop(process)
        raise
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)
