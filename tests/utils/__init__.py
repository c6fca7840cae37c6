"""Shared test helpers and fakes: import from here instead of writing another copy in a test module."""
