"""pytest-fioloadgen: storage benchmarking with fio as ordinary pytest tests."""

__version__ = "0.1.0"
