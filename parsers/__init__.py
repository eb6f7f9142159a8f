"""Pure, streaming parsers that turn a Discord data package zip into statistics views."""

from parsers.errors import InvalidPackage
from parsers.limits import ParseLimits
from parsers.package import PackageAnalysis, analyze_package

__all__ = ["InvalidPackage", "PackageAnalysis", "ParseLimits", "analyze_package"]
