"""Tests of the parsers: tiny zips built in the test, generated packages, hostile input."""
