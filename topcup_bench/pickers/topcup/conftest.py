"""Skip the doctests of this sub-package when PyTorch or MONAI is not installed."""

from importlib.util import find_spec

collect_ignore_glob = [] if find_spec("torch") and find_spec("monai") else ["*.py"]
