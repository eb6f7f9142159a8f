"""The statistics documents built from the aggregates: package-wide and per entity."""
