"""Builds the C loop of the activity fast path in place: `python setup.py build_ext --inplace`.

`make venv` runs it. Without the built module the scanner runs the same loop in Python.
"""

from setuptools import Extension, setup

setup(
    name="dumpus-native",
    version="1.0",
    packages=[],
    py_modules=[],
    ext_modules=[
        Extension(
            "parsers.activity._linescan",
            ["parsers/activity/_linescan.c"],
            extra_compile_args=["-O2"],
        )
    ],
)
