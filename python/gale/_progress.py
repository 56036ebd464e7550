"""Progress bars for map jobs, fed from the job's counts (GET /v1/jobs/{id}).

tqdm draws the bar when it is installed; otherwise a one-line text bar with
done/total, rate and ETA is redrawn in place with a carriage return.
"""

import sys
import time


def format_seconds(seconds):
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def format_line(label, done, total, failed=0, rate=None, eta_seconds=None, width=20):
    """'job-7f3a [########------------] 1200/3000  40%  95.0 tasks/s  ETA 0:19  2 failed'"""
    fraction = min(1.0, done / total) if total else 1.0
    filled = int(width * fraction)
    parts = [f"{label} [{'#' * filled}{'-' * (width - filled)}] {done}/{total} {fraction:4.0%}"]
    if rate is not None:
        parts.append(f"{rate:.1f} tasks/s")
    if eta_seconds is not None and done < total:
        parts.append(f"ETA {format_seconds(eta_seconds)}")
    if failed:
        parts.append(f"{failed} failed")
    return "  ".join(parts)


class TextProgress:
    """The bar without tqdm: one line, rewritten in place."""

    def __init__(self, total, label, file=None):
        self.total = total
        self.label = label
        self.file = file or sys.stderr
        self.started = time.monotonic()
        self._width = 0
        self.line = ""

    def update(self, done, failed=0, rate=None, eta_seconds=None):
        elapsed = time.monotonic() - self.started
        if rate is None and elapsed > 0 and done:
            rate = done / elapsed
        if eta_seconds is None and rate:
            eta_seconds = (self.total - done) / rate
        self.line = format_line(self.label, done, self.total, failed, rate, eta_seconds)
        padding = " " * max(0, self._width - len(self.line))  # wipe the tail of a longer previous line
        self._width = len(self.line)
        self.file.write("\r" + self.line + padding)
        self.file.flush()

    def close(self):
        if self.line:
            self.file.write("\n")
            self.file.flush()


class TqdmProgress:
    def __init__(self, tqdm, total, label, file=None):
        self.bar = tqdm(total=total, desc=label, unit="task", file=file or sys.stderr, dynamic_ncols=True)

    def update(self, done, failed=0, rate=None, eta_seconds=None):
        if failed:
            self.bar.set_postfix(failed=failed, refresh=False)
        self.bar.update(done - self.bar.n)

    def close(self):
        self.bar.close()


def progress_bar(total, label, file=None, use_tqdm=None):
    """A bar with update(done, failed, rate, eta_seconds) and close(); tqdm's when installed
    (``use_tqdm=None``), unless ``use_tqdm`` is False."""
    if use_tqdm is not False:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            if use_tqdm:
                raise
        else:
            return TqdmProgress(tqdm, total, label, file)
    return TextProgress(total, label, file)
