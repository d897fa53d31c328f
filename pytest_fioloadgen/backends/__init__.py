"""Backends deploy fio workers: local processes, existing hosts, Kubernetes pods."""

from .base import Backend, Environment, Worker

# The kubernetes backend joins this list with its own issue.
BACKEND_NAMES = ("local", "static")

__all__ = ["BACKEND_NAMES", "Backend", "Environment", "Worker"]
