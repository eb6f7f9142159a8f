"""The sample-package generator: realistic Discord data packages and what they hold, counted
independently of the parsers (the oracle of the tests, the demo's package, the benchmark's input).

Standard library only: it must never share a table with `parsers`.
"""

from samples.generate import FOLDER_NAMES, LAYOUTS, WRAPPER, SampleSpec, generate_package
from samples.truth import SampleTruth

__all__ = ["FOLDER_NAMES", "LAYOUTS", "WRAPPER", "SampleSpec", "SampleTruth", "generate_package"]
