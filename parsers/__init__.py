"""Pure, streaming parsers that turn a Discord data package zip into statistics views.

`parsers.package.analyze_package` is the entry point. This file imports nothing, so that the
activity process, which imports `parsers.activity.child`, starts without the rest.
"""
