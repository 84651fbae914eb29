"""Thin shim: all metadata lives in pyproject.toml.

The one thing declared here is the optional C kernel that counts Arrow strings in place
(ddtrack/profile/_strcount.c): without a C compiler ddtrack still installs, and counts
strings with Arrow's own hash kernels instead.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("ddtrack.profile._strcount", ["ddtrack/profile/_strcount.c"], optional=True)])
