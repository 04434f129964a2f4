"""Independently written protocol peers used to test the client library."""
