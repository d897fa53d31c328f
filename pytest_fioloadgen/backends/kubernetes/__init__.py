"""The kubernetes backend, split by responsibility (as kopf splits its client by verb):

* ``api``: connection, retries with backoff, one-line errors (KubeApiError);
* ``watching``: the one watch helper (list, watch, re-list on 410) every wait uses;
* ``settings``: KubernetesSettings, every option of this backend in one frozen object
  (``Settings.kubernetes``), handed to the backend whole;
* ``manifests``, ``options``, ``patching``: the objects, pure (no client), and the parsing
  of the options that shape them;
* ``namespace``: namespace ownership, the deploy lock, the leak check;
* ``readiness``: why pods are not Ready, and the wait until they are;
* ``client_job``, ``logframe``: one run as a Job, faults of workers during it, and fio's
  time-series logs back through the Job's log;
* ``backend``: the Backend protocol class over these (backend_factory builds it);
  ``facts``: cluster and storage-class facts for the fingerprint.

Nothing here imports the ``kubernetes`` package until a connection is made (``api``).
"""
