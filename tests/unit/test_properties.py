"""Property tests: whatever text or document comes in, only the package's own error types
come out of the profile parser, the safety policy and the json+ parser."""

from __future__ import annotations

import contextlib
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_fioloadgen.exceptions import ProfileError, ResultError
from pytest_fioloadgen.fio.results import parse_result, split_output
from pytest_fioloadgen.profiles import check_safety, parse_profile

# Lines made of the pieces fio's ini parser and our policy care about.
_PIECES = st.sampled_from(
    [
        "[global]",
        "[job]",
        "[../x]",
        "[",
        "]",
        "=",
        "${HOME}",
        "$${X}{Y}",
        "$jobname",
        "include x.fio",
        ";",
        "#",
        "rw=read",
        "filename=",
        "/dev/sda",
        "..",
        "/",
        ":",
        "\\:",
        "name=",
        "ioengine=",
        "exec_prerun=x",
        "mem=mmap:",
        "write_bw_log",
        "bs=4k",
        "size=1m",
        "\t",
        " ",
        "runtime=",
        "ramp_time=",
        "1",
        "10s",
        "$(1+1)",
    ]
)
_LINES = st.lists(
    st.one_of(st.lists(_PIECES, max_size=6).map("".join), st.text(max_size=30)), max_size=12
).map("\n".join)

_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(_LINES, st.dictionaries(st.sampled_from(["HOME", "X", "Y", "V"]), st.text(max_size=12)))
def test_profile_parser_and_policy_raise_only_profile_errors(text, env):
    try:
        profile = parse_profile(text, name="p", env=env)
    except ProfileError:
        return
    rendered = profile.render()
    try:
        check_safety(profile)
    except ProfileError:
        return
    # What the policy accepted parses back to the same text (what runs is what was checked).
    assert parse_profile(rendered, name="p", env={}).render() == rendered
    assert "${" not in rendered


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "client_stats",
                    "jobs",
                    "jobname",
                    "hostname",
                    "port",
                    "read",
                    "write",
                    "clat_ns",
                    "bins",
                    "N",
                    "mean",
                    "min",
                    "max",
                    "iops",
                    "bw_bytes",
                    "io_bytes",
                    "total_ios",
                    "runtime",
                    "groupid",
                    "error",
                    "1000",
                ]
            ),
            children,
            max_size=8,
        )
    ),
    max_leaves=40,
)


@_SETTINGS
@given(_JSON)
def test_json_parser_raises_only_result_errors(document):
    if not isinstance(document, dict):
        document = {"client_stats": document}
    with contextlib.suppress(ResultError):
        parse_result(document)


@_SETTINGS
@given(st.text(max_size=200), _JSON)
def test_output_splitter_raises_only_result_errors(prefix, document):
    try:
        text = prefix + "\n" + json.dumps(document, allow_nan=True)
    except (TypeError, ValueError):
        return
    try:
        found, _before = split_output(text)
    except ResultError:
        return
    with contextlib.suppress(ResultError):
        parse_result(found)
