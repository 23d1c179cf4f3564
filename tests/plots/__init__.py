"""Tests of the figures (a package, so that test module names may repeat across folders)."""
