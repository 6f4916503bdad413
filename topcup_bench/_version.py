"""The installed package version (``0+unknown`` in an uninstalled source tree)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("topcup-bench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
