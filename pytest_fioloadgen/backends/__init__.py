"""Backends deploy fio workers: local processes, existing hosts, Kubernetes pods."""

from .base import Backend, Environment, Worker

# The kubernetes backend is imported only when chosen (its client is an optional extra).
BACKEND_NAMES = ("local", "static", "kubernetes")

__all__ = ["BACKEND_NAMES", "Backend", "Environment", "Worker"]
