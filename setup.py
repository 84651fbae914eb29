"""Thin shim: all metadata lives in pyproject.toml.

The one thing declared here: the profiler's optional C kernels, counting Arrow
strings in place (ddtrack/profile/_strcount.c), the distinct-count sketch of numeric
columns (ddtrack/profile/_hll.c) and the radix sort of numeric columns
(ddtrack/profile/_sort.c).  Without a C compiler ddtrack still installs, and counts
strings with Arrow's own hash kernels, builds the sketch with numpy and sorts with numpy.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("ddtrack.profile._strcount", ["ddtrack/profile/_strcount.c"], optional=True),
        Extension("ddtrack.profile._hll", ["ddtrack/profile/_hll.c"], optional=True),
        Extension("ddtrack.profile._sort", ["ddtrack/profile/_sort.c"], optional=True),
    ]
)
