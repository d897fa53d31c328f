"""The results browser, REST API and job executor (imported as ``fioloadgen_server``).

It imports the ``pytest_fioloadgen`` package, never the reverse.
"""
