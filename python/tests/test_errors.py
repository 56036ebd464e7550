"""Remote tracebacks read where the source is."""

import inspect
import unittest

from gale.errors import RemoteError, with_local_source


def _a_line_here():
    return inspect.currentframe().f_lineno


class LocalSourceTest(unittest.TestCase):

    def test_a_frame_without_its_line_gets_it_from_the_local_file(self):
        line = _a_line_here()
        remote = ("Traceback (most recent call last):\n"
                  f'  File "{__file__}", line {line}, in _a_line_here\n'
                  "ZeroDivisionError: division by zero\n")

        error = RemoteError("ZeroDivisionError: division by zero", remote)

        self.assertIn(f'line {line}, in _a_line_here\n    return inspect.currentframe().f_lineno', error.traceback)
        self.assertTrue(error.traceback.endswith("ZeroDivisionError: division by zero\n"))

    def test_frames_that_have_their_line_or_whose_file_is_not_here_are_left_alone(self):
        remote = ("Traceback (most recent call last):\n"
                  '  File "/srv/bundle/main.py", line 3, in handler\n'
                  "    return 1 / 0\n"
                  '  File "/nowhere/notebook.py", line 7, in f\n'
                  "ValueError: x\n")

        self.assertEqual(with_local_source(remote), remote)
        self.assertEqual(with_local_source("no frames at all"), "no frames at all")


if __name__ == "__main__":
    unittest.main()
