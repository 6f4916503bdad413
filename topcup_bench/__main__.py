"""``python -m topcup_bench``: the same as the ``topcup-bench`` command."""

from topcup_bench.cli import entry_point

if __name__ == "__main__":
    entry_point()
