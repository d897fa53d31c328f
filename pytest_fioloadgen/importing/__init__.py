"""Runs made elsewhere brought into the history store: FIOLoadGen's database and plain fio
output (a file or a directory of files, client/server or standalone, json or json+).
The command is ``fioloadgen db import --from fioloadgen-db|fio-json`` (cli/db_sources.py).

The flow, one module each:

* ``sources``: what a reader yields per source run: a SourceRun (fio's document(s) and
  what the source says about them), or a Skipped (a failed or unfinished job) or Refused
  (a row or file that is not a run) line naming it and its position;
* ``fioloadgen_db`` and ``fio_output``: the readers, one source run in memory at a time;
* ``builder``: a SourceRun to a RunRecord, merged by the package's own result parser like
  our own runs (never an average of percentiles), marked imported (``marks``);
* ``ids``: the run id, a UUID5 of the source's content, so importing twice adds nothing;
* ``same_as``: ``--same-as``, filing imported runs under an existing history key;
* ``importer``: the loop (skip what the store has, record one run at a time);
* ``profiles_out``: FIOLoadGen's profiles written to a directory after the safety policy.
"""
