"""The fio job files shipped with pytest-fioloadgen.

Installed as the package ``pytest_fioloadgen.shipped_profiles``.
"""
