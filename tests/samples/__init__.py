"""Tests of the sample-package generator."""
