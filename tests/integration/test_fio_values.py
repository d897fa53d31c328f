"""The policy judges the value fio uses: a property test against fio's own parser.

Option lines are generated over fio's evaluation rules (its keywords, the characters that
send a line to bc, quotes, backslashes, control characters, units, ``;`` and ``#``). What
the policy accepts is run through ``fio --parse-only --debug=parse`` in the sandbox, and
the value fio reports for each option (``handle_option=KEY, ptr=VALUE``) must be the one
the policy judged (fio_values.substituted). Lines the policy refuses because fio would
hand them to bc are run too: fio must indeed try bc for each (inside the sandbox there is
none: "bc is needed for performing math").
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_fioloadgen.backends.sandbox import choose_sandbox
from pytest_fioloadgen.exceptions import ProfileError
from pytest_fioloadgen.fio.process import fio_environment
from pytest_fioloadgen.profiles import check_safety, parse_profile
from pytest_fioloadgen.profiles.fio_values import sends_to_bc, substituted

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("fio") is None, reason="needs fio"),
]

#: Options whose values fio only parses (nothing is opened at --parse-only).
_KEYS = st.sampled_from(
    ["bs", "size", "iodepth", "numjobs", "offset", "description", "runtime", "rate_iops"]
)
#: What fio's evaluation is about: its keywords (and near misses), the characters that
#: send a line to bc and those bc would see, numbers and units.
_ARITHMETIC = st.sampled_from(
    [
        *("$ncpus", "$pagesize", "$mb_memory", "$ncpu", "$NCPUS", "$", "$$ncpus"),
        *("+", "-", "*", "/", "%", "^", "(", ")", " "),
        *("0", "1", "7", "42", "0x1f", "1.5", "k", "m", "g", "kib", "s", "ms", "z", "q"),
    ]
)
#: What the policy refuses on sight, and fio's own line syntax.
_HOSTILE = st.sampled_from(
    ["'", '"', "\\", "\\n", "\\0047", "\t", "\x00", "\x1b", ";", "#", "=", ":", ",", "${", "x="]
)
_VALUES = st.one_of(
    st.lists(_ARITHMETIC, min_size=1, max_size=8),
    st.lists(st.one_of(_ARITHMETIC, _HOSTILE), min_size=1, max_size=8),
).map("".join)
_LINES = st.lists(st.tuples(_KEYS, _VALUES), min_size=1, max_size=6)

#: fio's debug line for each option it handles (not its inner ``__handle_option``).
_HANDLED = re.compile(r"(?<!_)handle_option=([\w-]+), ptr=(.*)$")


def _fio_parse(text: str) -> tuple[list[tuple[str, str]], str]:
    """(key, value) of every option fio handled, and its output, confined."""
    sandbox = choose_sandbox("bwrap", where="test")
    with tempfile.TemporaryDirectory(prefix="fioloadgen-values-") as workdir:
        job = Path(workdir) / "job.fio"
        job.write_text(text, encoding="utf-8")
        command = sandbox.command(
            ["fio", "--parse-only", "--debug=parse", str(job)],
            writable=[Path(workdir)],
            cwd=Path(workdir),
        )
        completed = subprocess.run(
            command,
            cwd=workdir,
            env=fio_environment(),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=60,
            check=False,
        )
    output = completed.stdout + completed.stderr
    handled = []
    for line in output.splitlines():
        match = _HANDLED.search(line)
        if match:
            handled.append((match.group(1), match.group(2)))
    return handled, output


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_LINES)
def test_what_the_policy_accepts_is_what_fio_parses(lines):
    text = "[j]\nrw=read\n" + "".join(f"{key}={value}\n" for key, value in lines)
    try:
        profile = parse_profile(text, name="p")
        check_safety(profile)
    except ProfileError:
        accepted = False
    else:
        accepted = True
    if accepted:
        handled, output = _fio_parse(profile.render())
        expected = [
            (option.key, substituted(option.value or ""))
            for option in profile.sections[0].options
            if option.key != "rw"
        ]
        assert "bc is needed" not in output
        assert sorted(pair for pair in handled if pair[0] != "rw") == sorted(expected), output
        return
    # Refused because fio would run bc: fio does try (and finds no bc in the sandbox).
    for key, value in lines:
        line = f"{key}={value}".strip()
        # As fio reads it: a ';' or '#' would cut it, '${' would be fio's environment.
        as_written = line.isprintable() and not any(cut in line for cut in (";", "#", "${"))
        if as_written and sends_to_bc(line):
            _handled, output = _fio_parse(f"[j]\nrw=read\n{line}\n")
            assert "bc is needed for performing math" in output, line
            break
