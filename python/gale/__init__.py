"""Gale's Python package.

``gale._bootstrap`` runs inside every function instance and speaks the instance
protocol (docs/protocol.md); ``gale._requirements`` checks a bundle's
requirements.txt against the installed packages. Both are stdlib-only and run
as plain scripts, so importing this package must stay cheap.
"""

__version__ = "0.1.0"
