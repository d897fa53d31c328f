"""A small Kubernetes API emulator for testing the kubernetes backend (not shipped).

Start it by hand from the checkout root::

    sudo .venv/bin/python -m tests.k8s_emulator --kubeconfig /tmp/emulator.kubeconfig

then ``KUBECONFIG=/tmp/emulator.kubeconfig kubectl get storageclasses`` or
``fioloadgen deploy --kubeconfig /tmp/emulator.kubeconfig --storageclass standard``.
"""
