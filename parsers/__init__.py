"""Pure, streaming parsers that turn a Discord data package zip into statistics views."""

from parsers.errors import InvalidPackage
from parsers.limits import ParseLimits
from parsers.package import PackageAnalysis, analyze_package
from parsers.views.app_database import AppDatabaseWriter, MissingOwner

__all__ = [
    "AppDatabaseWriter",
    "InvalidPackage",
    "MissingOwner",
    "PackageAnalysis",
    "ParseLimits",
    "analyze_package",
]
