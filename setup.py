"""Marks the wheel as platform-specific: it carries a prebuilt native module.

Everything else is in pyproject.toml. The native module is built by Bazel
(phase 1), not by setuptools.
"""

from setuptools import setup
from setuptools.dist import Distribution


class BinaryDistribution(Distribution):
    def has_ext_modules(self) -> bool:
        return True


setup(distclass=BinaryDistribution)
