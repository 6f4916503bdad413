"""Reports: tables (and later figures) rendered from computed results."""

from topcup_bench.reports.score_table import class_table, render_markdown, render_rich

__all__ = ["class_table", "render_markdown", "render_rich"]
