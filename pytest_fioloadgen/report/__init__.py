"""Presenting results: terminal tables, pytest-html extras, exports."""
