"""The fio job-file model: parsing like fio, render/hash, overrides, safety policy, real fio."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_fioloadgen.exceptions import ProfileError
from pytest_fioloadgen.profiles import (
    OVERRIDABLE_OPTIONS,
    Option,
    Profile,
    Section,
    allowed_variables,
    check_files,
    check_safety,
    check_with_fio,
    discover_profiles,
    load_profile,
    parse_profile,
    select_profiles,
    shipped_profiles_dir,
    validate,
)
from pytest_fioloadgen.profiles.fio_values import keyword_values
from pytest_fioloadgen.profiles.model import scrubbed

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED = (
    "lat-qd1-4k",
    "randread-4k",
    "randread-4k-ratelimited",
    "randrw-70-30",
    "seqread-1m",
    "seqwrite-1m",
)


def parse(text, **kwargs):
    return parse_profile(textwrap.dedent(text), name="t", **kwargs)


def write(directory, name, text):
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def pairs(section: Section) -> list[tuple[str, str | None]]:
    return [(option.key, option.value) for option in section.options]


# ---------------------------------------------------------------------------- parsing


def test_global_and_several_sections_keep_file_order_and_lines():
    profile = parse(
        """\
        [global]
        ioengine=psync
        [a]
        rw=read

        [global]
        size=1m
        [b]
        rw=write
        """
    )
    assert [(s.name, s.line, s.is_global) for s in profile.sections] == [
        ("global", 1, True),
        ("a", 3, False),
        ("global", 6, True),
        ("b", 8, False),
    ]
    assert [s.name for s in profile.jobs()] == ["a", "b"]
    assert pairs(profile.sections[0]) == [("ioengine", "psync")]
    assert [o.line for o in profile.sections[3].options] == [9]


def test_section_named_global_something_is_global_like_fio():
    profile = parse("[global-defaults]\nbs=4k\n[job]\nrw=read\n")
    assert profile.sections[0].is_global
    assert [s.name for s in profile.jobs()] == ["job"]


def test_bare_options_have_no_value():
    profile = parse("[job]\ntime_based\nrefill_buffers\nruntime=5\n")
    job = profile.sections[0]
    assert pairs(job) == [("time_based", None), ("refill_buffers", None), ("runtime", "5")]
    assert job.get("time_based") is None
    assert job.has("time_based")
    assert not job.has("direct")


def test_comments_whole_line_and_trailing_like_fio():
    profile = parse(
        """\
        # leading
        ; also leading
        [job]   ; header comment
          # indented comment
        bs=4k ; trailing semicolon
        rw=read   # trailing hash
        description=one;two
        """
    )
    assert [s.name for s in profile.sections] == ["job"]
    assert pairs(profile.sections[0]) == [("bs", "4k"), ("rw", "read"), ("description", "one")]


def test_crlf_line_endings():
    profile = parse("# Windows.\r\n[job]\r\nrw=read\r\ntime_based\r\n")
    assert profile.description == "Windows."
    assert pairs(profile.sections[0]) == [("rw", "read"), ("time_based", None)]


def test_whitespace_around_equals_is_trimmed():
    profile = parse("[job]\n  rw = randread  \nsize =1m\n")
    assert pairs(profile.sections[0]) == [("rw", "randread"), ("size", "1m")]
    assert profile.render() == "[job]\nrw=randread\nsize=1m\n"


def test_duplicate_options_are_kept_and_the_last_wins():
    profile = parse("[job]\nbs=4k\nrw=read\nbs=8k\ntimeout=10\nruntime=20\ntimeout=30\n")
    job = profile.sections[0]
    assert pairs(job) == [
        ("bs", "4k"),
        ("rw", "read"),
        ("bs", "8k"),
        ("timeout", "10"),
        ("runtime", "20"),
        ("timeout", "30"),
    ]
    assert job.get("bs") == "8k"
    # fio's alias: timeout is runtime
    assert job.get("runtime") == "30"
    assert job.get("missing") is None


def test_option_before_any_section_is_refused():
    with pytest.raises(ProfileError) as info:
        parse("# comment\nbs=4k\n[job]\n")
    assert str(info.value) == (
        "profile 't' line 2: 'bs=4k' comes before any [section]"
        " (fio refuses options outside a job section)"
    )


@pytest.mark.parametrize("header", ["[job", "[]", "[job] x"])
def test_malformed_section_header_is_refused(header):
    with pytest.raises(ProfileError, match=r"profile 't' line 2: malformed section header"):
        parse(f"\n{header}\nrw=read\n")


def test_option_without_name_is_refused():
    with pytest.raises(ProfileError, match=r"profile 't' line 2: option '=4k' has no name"):
        parse("[job]\n=4k\n")


def test_description_is_the_leading_comment_block():
    profile = parse(
        """\

        # Random read, 4k.
        #
        ;  Second line.

        # Not part of it.
        [job]
        rw=read
        """
    )
    assert profile.description == "Random read, 4k. Second line."


def test_description_falls_back_to_description_option():
    assert parse("[job]\ndescription=From the option\n").description == "From the option"
    assert parse("[job]\nrw=read\n").description == ""


def test_load_profile_names_it_by_stem(tmp_path):
    path = write(tmp_path, "my-job.fio", "# Mine.\n[job]\nrw=read\n")
    profile = load_profile(path)
    assert (profile.name, profile.source, profile.label) == ("my-job", str(path), "my-job.fio")
    assert profile.description == "Mine."


def test_load_profile_missing_file(tmp_path):
    with pytest.raises(ProfileError, match=r"profile 'nope.fio': no such file"):
        load_profile(tmp_path / "nope.fio")


# ---------------------------------------------------------------------------- include


def test_include_inlines_options_in_place(tmp_path):
    write(tmp_path, "common/engine.fio", "; engine\nioengine=psync\ninclude depth.fio\n")
    write(tmp_path, "common/depth.fio", "iodepth=4\n")
    path = write(tmp_path, "main.fio", "[global]\nsize=1m\ninclude common/engine.fio\nbs=4k\n")
    profile = load_profile(path)
    section = profile.sections[0]
    assert pairs(section) == [
        ("size", "1m"),
        ("ioengine", "psync"),
        ("iodepth", "4"),
        ("bs", "4k"),
    ]
    assert [(o.line, o.origin) for o in section.options] == [
        (2, None),
        (2, "common/engine.fio"),
        (1, "common/depth.fio"),
        (4, None),
    ]
    assert "include" not in profile.render()


def test_include_missing_file(tmp_path):
    path = write(tmp_path, "main.fio", "[job]\nrw=read\ninclude nothere.fio\n")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert str(info.value).startswith(
        "profile 'main.fio' line 3: include nothere.fio: no such file "
    )


def test_include_cycle(tmp_path):
    write(tmp_path, "a.fio", "bs=4k\ninclude b.fio\n")
    write(tmp_path, "b.fio", "include a.fio\n")
    path = write(tmp_path, "main.fio", "[job]\ninclude a.fio\n")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert str(info.value) == (
        "profile 'main.fio' line 1 of included 'b.fio': include a.fio is an include cycle"
        " (main.fio -> a.fio -> b.fio -> a.fio)"
    )


def test_include_of_itself_is_a_cycle(tmp_path):
    path = write(tmp_path, "main.fio", "[job]\ninclude main.fio\n")
    with pytest.raises(ProfileError, match=r"line 2: include main.fio is an include cycle"):
        load_profile(path)


@pytest.mark.parametrize("target", ["../outside.fio", "/etc/fio.fio", "sub/../../outside.fio"])
def test_include_may_not_leave_the_profile_directory(tmp_path, target):
    profiles = tmp_path / "profiles"
    write(tmp_path, "outside.fio", "bs=4k\n")
    path = write(profiles, "main.fio", f"[job]\ninclude {target}\n")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert str(info.value) == (
        f"profile 'main.fio' line 2: include {target} leaves the profile directory"
        f" {profiles.resolve()}"
    )


def test_include_before_any_section_is_refused_like_fio(tmp_path):
    write(tmp_path, "inc.fio", "bs=4k\n")
    path = write(tmp_path, "main.fio", "include inc.fio\n[job]\n")
    with pytest.raises(ProfileError, match=r"line 1: 'include inc.fio' comes before any"):
        load_profile(path)


def test_included_file_may_not_open_sections(tmp_path):
    write(tmp_path, "inc.fio", "bs=4k\n[other]\n")
    path = write(tmp_path, "main.fio", "[job]\ninclude inc.fio\n")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert str(info.value) == (
        "profile 'main.fio' line 2 of included 'inc.fio': an included file may not open"
        " sections (fio refuses them too)"
    )


def test_include_needs_a_directory():
    with pytest.raises(ProfileError, match=r"line 2: include x.fio is not possible"):
        parse("[job]\ninclude x.fio\n")


def test_malformed_include_line(tmp_path):
    with pytest.raises(ProfileError, match=r"line 2: malformed include line 'includex.fio'"):
        parse("[job]\nincludex.fio\n", include_dir=tmp_path)


# ---------------------------------------------------------------------------- ${VAR}


def test_allowed_variables_are_substituted_like_fio():
    # An allowed variable that is not set is the empty string, as fio makes it.
    env = allowed_variables(["SIZE", "KEY", "UNSET"], {"SIZE": "64m", "KEY": "nrfiles"})
    profile = parse(
        "[job]\nsize=${SIZE}\nbs=${UNSET}4k\n${KEY}=1\niodepth=$ncpus\nnumjobs=$(2*2)\n",
        env=env,
    )
    assert pairs(profile.sections[0]) == [
        ("size", "64m"),
        ("bs", "4k"),
        ("nrfiles", "1"),
        ("iodepth", "$ncpus"),
        ("numjobs", "$(2*2)"),
    ]
    assert profile.variables == (("KEY", "nrfiles"), ("SIZE", "64m"), ("UNSET", ""))


def test_a_variable_nobody_allowed_is_refused_whatever_the_environment(monkeypatch):
    """The environment is not the profile's to read: ${FAKE_SECRET} in a description was
    stored with the run and served without a token."""
    monkeypatch.setenv("FAKE_SECRET", "hunter2")
    with pytest.raises(ProfileError) as info:
        parse("[job]\ndescription=${FAKE_SECRET}\n")
    assert str(info.value) == (
        "profile 't' line 2: ${FAKE_SECRET} names an environment variable you did not allow:"
        " if the profile may read it, allow it with --fio-env FAKE_SECRET (ini fio_env, env"
        " FIO_ENV); its value is never stored"
    )
    with pytest.raises(ProfileError, match="names an environment variable you did not allow"):
        parse("[job]\nbs=${OTHER}\n", env={"FAKE_SECRET": "x"})


def test_a_reference_that_is_no_variable_name_is_refused_without_quoting_it_raw():
    with pytest.raises(ProfileError) as info:
        parse("[job]\nbs=${A\x1b[2J}\n")
    assert str(info.value) == (
        "profile 't' line 2: ${...} names 'A\\x1b[2J', which is not an environment variable's name"
    )


def test_the_stored_text_keeps_each_variable_as_written_and_the_hash_follows_it():
    env = {"SECRET": "hunter2", "POOL": "rbd-pool"}
    profile = parse("[job]\ndescription=${SECRET} here\nrw = read\nbs=4k\n", env=env)
    assert profile.render() == "[job]\ndescription=hunter2 here\nrw=read\nbs=4k\n"
    assert profile.stored_text() == "[job]\ndescription=${SECRET} here\nrw=read\nbs=4k\n"
    assert profile.description == "${SECRET} here"
    assert "hunter2" not in repr(profile)
    # Another value of the same variable is the same stored profile.
    again = parse(profile.stored_text(), env={"SECRET": "other"})
    assert again.content_hash == profile.content_hash
    assert again.render() != profile.render()


def test_scrubbed_puts_the_references_back_where_fio_echoes_options():
    variables = (("POOL", "rbd-pool"), ("SECRET", "hunter2"))
    raw = {
        "global options": {"description": "hunter2 here"},
        "client_stats": [
            {"jobname": "j", "job options": {"pool": "rbd-pool"}, "desc": "hunter2"},
            {"jobname": "hunter2", "read": {"iops": 1.0}},
        ],
    }
    assert scrubbed(raw, variables) == {
        "global options": {"description": "${SECRET} here"},
        "client_stats": [
            {"jobname": "j", "job options": {"pool": "${POOL}"}, "desc": "${SECRET}"},
            # fio's own fields are fio's (a job name cannot hold a variable).
            {"jobname": "hunter2", "read": {"iops": 1.0}},
        ],
    }
    assert scrubbed("fio: failed parsing pool=rbd-pool", variables) == (
        "fio: failed parsing pool=${POOL}"
    )
    assert scrubbed(("a hunter2", "b"), variables) == ("a ${SECRET}", "b")
    assert scrubbed(raw, ()) is raw


def test_env_value_that_fio_would_cut_is_refused():
    with pytest.raises(ProfileError) as info:
        parse("[job]\nfilename=${NAME}\n", env={"NAME": "a;b"})
    assert str(info.value) == (
        "profile 't' line 2: option filename=${NAME}: an environment variable put ';', '#' or"
        " a line break into it"
    )


# ---------------------------------------------------------------------------- render, hash

COMPLEX = """\
# A profile with a bit of everything.
[global]
ioengine = psync ; engine
time_based
runtime=2

[reader]
rw=randread
bs=4k
bs=8k
[global-more]
size=1m
[writer]
rw=write
"""


def test_render_is_canonical():
    assert parse(COMPLEX).render() == (
        "[global]\nioengine=psync\ntime_based\nruntime=2\n\n"
        "[reader]\nrw=randread\nbs=4k\nbs=8k\n\n"
        "[global-more]\nsize=1m\n\n"
        "[writer]\nrw=write\n"
    )


@pytest.mark.parametrize("name", SHIPPED)
def test_render_round_trips_shipped(name):
    profile = load_profile(shipped_profiles_dir() / f"{name}.fio")
    again = parse_profile(profile.render(), name=name)
    assert again.sections == profile.sections
    assert again.render() == profile.render()


def test_render_round_trips_complex():
    profile = parse(COMPLEX)
    assert parse_profile(profile.render(), name="t").sections == profile.sections


def test_content_hash_is_sha256_of_render():
    profile = parse("# whatever\n[job]\nrw=read   ; comment\n")
    assert profile.content_hash == hashlib.sha256(b"[job]\nrw=read\n").hexdigest()


def test_content_hash_ignores_comments_and_layout_but_not_options():
    a = parse("[job]\nrw=read\nbs=4k\n")
    b = parse("# comment\n\n[job]\n  rw = read ; why\n\nbs=4k\n")
    c = parse("[job]\nrw=read\nbs=8k\n")
    assert a.content_hash == b.content_hash
    assert a.content_hash != c.content_hash
    assert a.content_hash != a.with_overrides(runtime=1).content_hash


def test_content_hash_is_stable_across_processes():
    path = shipped_profiles_dir() / "randread-4k.fio"
    code = (
        "import sys; from pytest_fioloadgen.profiles import load_profile;"
        " print(load_profile(sys.argv[1]).content_hash)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONHASHSEED": "123"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    assert out == load_profile(path).content_hash


# ---------------------------------------------------------------------------- overrides

OVERRIDE_BASE = """\
[global]
ioengine=libaio
time_based
runtime=30

[a]
rw=randread
blocksize=4k
iodepth=8
rwmixwrite=30
timeout=5
size=1g
numjobs=2
ioengine=psync
refill_buffers

[global]
readwrite=read

[b]
bs=1m
bssplit=4k/50:64k/50
"""


@pytest.mark.parametrize(
    ("key", "value", "text", "gone"),
    [
        ("runtime", 2, "2", {"runtime", "timeout"}),
        ("size", "64m", "64m", {"size"}),
        ("bs", "8k", "8k", {"bs", "blocksize", "bsrange", "blocksize_range", "bssplit"}),
        ("iodepth", 16, "16", {"iodepth"}),
        ("numjobs", 4, "4", {"numjobs"}),
        ("rw", "randwrite", "randwrite", {"rw", "readwrite"}),
        ("rwmixread", 50, "50", {"rwmixread", "rwmixwrite"}),
        ("ioengine", "io_uring", "io_uring", {"ioengine"}),
    ],
)
def test_each_override_applies_to_every_job(key, value, text, gone):
    base = parse(OVERRIDE_BASE)
    profile = base.with_overrides(**{key: value})
    first = profile.sections[0]
    assert [o.render() for o in first.options if o.key in gone] == [f"{key}={text}"]
    for section in profile.sections[1:]:
        assert not [o for o in section.options if o.key in gone], section.name
    assert profile.notes == (f"{key}={text} (override)",)
    assert profile.content_hash != base.content_hash
    # everything else is untouched, in order
    untouched = [
        (s.name, [o.render() for o in s.options if o.key not in gone]) for s in base.sections
    ]
    assert untouched == [
        (s.name, [o.render() for o in s.options if o.key not in gone]) for s in profile.sections
    ]


def test_override_replaces_in_place_and_keeps_time_based():
    profile = parse(OVERRIDE_BASE).with_overrides(runtime=3)
    assert pairs(profile.sections[0]) == [
        ("ioengine", "libaio"),
        ("time_based", None),
        ("runtime", "3"),
    ]


def test_override_adds_a_global_section_at_the_top_when_needed():
    profile = parse("[job]\nrw=read\nsize=1g\n[global]\nsize=2g\n[job2]\n")
    overridden = profile.with_overrides(size="16m")
    assert overridden.render() == ("[global]\nsize=16m\n\n[job]\nrw=read\n\n[global]\n\n[job2]\n")


def test_overrides_hash_the_same_whatever_their_order():
    base = parse(OVERRIDE_BASE)
    one = base.with_overrides(runtime=2, size="16m", bs="4k")
    two = base.with_overrides(bs="4k", size="16m", runtime=2)
    assert one.content_hash == two.content_hash
    assert one.notes == ("runtime=2 (override)", "size=16m (override)", "bs=4k (override)")


def test_none_overrides_are_ignored():
    base = parse(OVERRIDE_BASE)
    assert base.with_overrides(runtime=None, size=None) == base


def test_override_returns_a_new_profile():
    base = parse(OVERRIDE_BASE)
    render = base.render()
    base.with_overrides(runtime=1)
    assert base.render() == render
    assert base.notes == ()


def test_unknown_override_is_refused():
    with pytest.raises(ProfileError) as info:
        parse(OVERRIDE_BASE).with_overrides(runtime=1, exec_prerun="x", verify="md5")
    assert str(info.value) == (
        "profile 't': cannot override exec_prerun, verify (allowed: "
        + ", ".join(OVERRIDABLE_OPTIONS)
        + ")"
    )


@pytest.mark.parametrize("value", ["", "4k;x", "4k#x", "4k\nexec_prerun=x", True])
def test_override_value_that_cannot_be_written_is_refused(value):
    with pytest.raises(ProfileError, match=r"profile 't': override bs="):
        parse(OVERRIDE_BASE).with_overrides(bs=value)


# ---------------------------------------------------------------------------- directory


def test_without_directory_removes_and_notes_every_directory():
    profile = parse("[global]\ndirectory=/mnt\nbs=4k\n[job]\nrw=read\ndirectory=/data:/x\n")
    stripped = profile.without_directory()
    assert stripped.render() == "[global]\nbs=4k\n\n[job]\nrw=read\n"
    assert stripped.notes == (
        "directory=/mnt (line 2) removed: the backend sets each worker's directory",
        "directory=/data:/x (line 6) removed: the backend sets each worker's directory",
    )


def test_without_directory_is_a_no_op_without_directory():
    profile = parse("[job]\nrw=read\n")
    assert profile.without_directory() is profile


def test_with_directory_sets_it_in_global_and_escapes_colons():
    profile = parse("[job]\ndirectory=/old\nrw=read\n").with_directory("/mnt/a:b")
    assert profile.render() == "[global]\ndirectory=/mnt/a\\:b\n\n[job]\nrw=read\n"
    assert profile.notes == (
        "directory=/old (line 2) removed: the backend sets each worker's directory",
        "directory=/mnt/a\\:b (set by the harness)",
    )


def test_with_directory_twice_replaces_the_first():
    profile = parse("[job]\n").with_directory("/a").with_directory("/b")
    assert profile.render() == "[global]\ndirectory=/b\n\n[job]\n"
    assert profile.notes == (
        "directory=/a (set by the harness)",
        "directory=/a (set by the harness) removed: the backend sets each worker's directory",
        "directory=/b (set by the harness)",
    )


def test_with_directory_refuses_what_fio_cannot_read():
    with pytest.raises(ProfileError, match=r"directory '/a#b' cannot be written"):
        parse("[job]\n").with_directory("/a#b")


# ---------------------------------------------------------------------------- runtime


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[job]\ntime_based\nruntime=30\n", 30.0),
        ("[job]\nruntime=30\nramp_time=5\n", 35.0),
        ("[global]\nruntime=1m\nramp_time=500ms\n[job]\n", 60.5),
        ("[job]\nruntime=2h\n", 7200.0),
        ("[job]\nruntime=1500ms\n", 1.5),
        ("[job]\ntimeout=20\n", 20.0),
        ("[job]\nruntime=2000000us\n", 2.0),
        ("[job]\nruntime=1d\n", 86400.0),
        # fio reads only the integer part, and an unknown unit as microseconds
        ("[job]\nruntime=1.5\n", 1.0),
        ("[job]\nruntime=2sec\n", 2e-6),
        # parallel jobs: the longest
        ("[a]\nruntime=10\n[b]\nruntime=40\n[c]\nruntime=20\n", 40.0),
        # stonewall starts a new phase
        ("[a]\nruntime=10\n[b]\nruntime=5\n[c]\nstonewall\nruntime=20\n", 30.0),
        ("[global]\nstonewall\nruntime=10\n[a]\n[b]\n", 20.0),
        ("[a]\nruntime=10\n[b]\nwait_for=a\nruntime=5\n", 15.0),
        # unknown
        ("[job]\nsize=1g\n", 0.0),
        ("[job]\ntime_based\n", 0.0),
        ("[job]\nruntime=0\n", 0.0),
        # fio's keywords are numbers of this machine
        ("[job]\nruntime=$ncpus\n", float(keyword_values()["$ncpus"])),
        # startdelay counts (a range by its upper end)
        ("[job]\nstartdelay=5\nramp_time=2\nruntime=10\n", 17.0),
        ("[job]\nstartdelay=1-4\nruntime=10\n", 14.0),
        ("[a]\nruntime=10\n[b]\nsize=1g\n", 0.0),
        ("[global]\nruntime=10\n", 0.0),
    ],
)
def test_expected_runtime(text, expected):
    assert parse(text).expected_runtime_s == pytest.approx(expected)


# ---------------------------------------------------------------------------- safety

SAFETY_CASES = [
    ("exec_prerun=/bin/true", "option exec_prerun is not allowed (runs a command on the worker)"),
    ("exec_postrun=rm -rf x", "option exec_postrun is not allowed (runs a command on the worker)"),
    # fio matches option names exactly: anything else is not one of its options.
    ("exec-prerun=x", "option exec-prerun is not allowed (not an option of fio's option table"),
    ("Exec_prerun=x", "option Exec_prerun is not allowed (not an option of fio's option table"),
    ("trigger=x", "option trigger is not allowed (not an option of fio's option table"),
    ("ioengine=exec", "option ioengine=exec is not allowed (runs a command on the worker)"),
    (
        "ioengine=external:/tmp/x.so",
        "option ioengine=external:/tmp/x.so is not allowed"
        " (loads an external engine library on the worker)",
    ),
    (
        "ioengine=/usr/lib/fio/x.so",
        "option ioengine=/usr/lib/fio/x.so is not allowed"
        " (loads an external engine library on the worker)",
    ),
    ("ioengine=sg", "option ioengine=sg is not allowed (talks to devices directly)"),
    (
        "ioengine=rbd",
        "option ioengine=rbd is not allowed (does its I/O over the network, on storage the"
        " profile names; if you trust this profile, allow it with fio_allow_engines = rbd",
    ),
    ("ioengine=net", "option ioengine=net is not allowed (does its I/O over the network"),
    ("ioengine=mylib", "option ioengine=mylib is not allowed (only file I/O engines are allowed:"),
    ("filename=/dev/sda", "option filename=/dev/sda is not allowed (device nodes are never"),
    ("filename=data:/dev/sdb", "option filename=data:/dev/sdb is not allowed (device nodes"),
    (
        "filename=/etc/passwd",
        "option filename=/etc/passwd is not allowed (absolute paths leave the worker's directory)",
    ),
    (
        "filename=sub/../../x",
        "option filename=sub/../../x is not allowed ('..' leaves the worker's directory)",
    ),
    ("filename_format=../$jobname", "option filename_format=../$jobname is not allowed ('..'"),
    ("filename_format=/x/$jobname", "option filename_format=/x/$jobname is not allowed (absolute"),
    ("opendir=/", "option opendir=/ is not allowed (absolute paths"),
    ("opendir=..", "option opendir=.. is not allowed ('..'"),
    ("write_iolog=/tmp/log", "option write_iolog=/tmp/log is not allowed (absolute paths"),
    ("write_iolog=a/../../b", "option write_iolog=a/../../b is not allowed ('..'"),
    ("read_iolog=trace", "option read_iolog is not allowed (replays I/O on the files"),
    ("replay_redirect=/dev/sdc", "option replay_redirect is not allowed (redirects replayed I/O"),
    ("merge_blktrace_file=x", "option merge_blktrace_file is not allowed (writes a merged"),
    ("ioscheduler=none", "option ioscheduler is not allowed (writes the device's I/O scheduler"),
    ("write_bw_log=/tmp/bw", "option write_bw_log=/tmp/bw is not allowed (absolute paths"),
    ("write_lat_log=../lat", "option write_lat_log=../lat is not allowed ('..'"),
    ("write_iops_log=/iops", "option write_iops_log=/iops is not allowed (absolute paths"),
    ("write_hist_log=../h", "option write_hist_log=../h is not allowed ('..'"),
    (
        "profile=tiobench",
        "option profile is not allowed"
        " (a built-in fio profile generates jobs this policy cannot check)",
    ),
    ("cgroup=bench", "option cgroup is not allowed (creates a cgroup on the worker"),
    (
        "iomem=mmap:/etc/important",
        "option iomem=mmap:/etc/important is not allowed (absolute paths",
    ),
    ("mem=mmapshared:../x", "option mem=mmapshared:../x is not allowed ('..'"),
    ("name=../../tmp/x", "option name=../../tmp/x is not allowed (job names become file names)"),
    ("name=.hidden", "option name=.hidden is not allowed (job names become file names)"),
    (
        "buffer_pattern='/etc/shadow'",
        "option \"buffer_pattern='/etc/shadow'\" is not allowed (holds a quote: a quoted"
        " pattern makes fio read a file",
    ),
    ("hipri=1", "option hipri is not allowed (an option of ioengine io_uring / pvsync2"),
]


@pytest.mark.parametrize(("line", "message"), SAFETY_CASES, ids=[c[0] for c in SAFETY_CASES])
def test_safety_refusals_name_profile_line_and_option(tmp_path, line, message):
    path = write(tmp_path, "bad.fio", f"[global]\nioengine=psync\n[job]\nrw=read\n{line}\n")
    profile = load_profile(path)
    with pytest.raises(ProfileError) as info:
        check_safety(profile)
    assert str(info.value).startswith(f"profile 'bad.fio' line 5: {message}")


def test_safety_accepts_ordinary_paths_and_directory():
    profile = parse(
        """\
        [global]
        directory=/mnt/anything/..
        ioengine=io_uring
        hipri=1
        write_bw_log=bw
        log_avg_msec=500
        mem=mmap
        buffer_pattern=0x616263
        [job]
        filename=data:sub/file2:-
        filename_format=$jobname.$jobnum
        """
    )
    check_safety(profile)


def test_safety_names_the_included_file(tmp_path):
    write(tmp_path, "evil.fio", "bs=4k\nexec_postrun=x\n")
    path = write(tmp_path, "main.fio", "[job]\ninclude evil.fio\n")
    with pytest.raises(ProfileError) as info:
        check_safety(load_profile(path))
    assert str(info.value) == (
        "profile 'main.fio' line 2 of included 'evil.fio': option exec_postrun is not allowed"
        " (runs a command on the worker)"
    )


def test_safety_applies_to_overrides():
    profile = parse("[job]\nrw=read\n").with_overrides(ioengine="exec")
    with pytest.raises(ProfileError) as info:
        check_safety(profile)
    assert str(info.value) == (
        "profile 't' (set by the harness): option ioengine=exec is not allowed"
        " (runs a command on the worker)"
    )


def test_safety_refuses_a_profile_without_jobs():
    with pytest.raises(ProfileError, match=r"^profile 't': defines no job section$"):
        check_safety(parse("[global]\nbs=4k\n"))


# ---------------------------------------------------------------------------- real fio


def test_fio_accepts_a_valid_profile():
    check_with_fio(parse("[job]\nioengine=psync\nrw=randread\nsize=1m\n"))


def test_fio_refusal_names_fio_error_and_line(tmp_path):
    path = write(tmp_path, "typo.fio", "[job]\nrw=read\nbogus=1\n")
    with pytest.raises(ProfileError) as info:
        check_with_fio(load_profile(path))
    assert str(info.value) == (
        "profile 'typo.fio' line 3: fio --parse-only refused it: Bad option <bogus=1>"
    )


def test_fio_refusal_of_a_bad_value():
    with pytest.raises(ProfileError) as info:
        check_with_fio(parse("[job]\n\nrw = sideways\n"))
    assert str(info.value) == (
        "profile 't' line 3: fio --parse-only refused it: fio: failed parsing rw=sideways"
    )


def test_missing_fio_binary_is_a_profile_error():
    with pytest.raises(ProfileError, match=r"fio binary '/nonexistent/fio' not found"):
        check_with_fio(parse("[job]\n"), fio_binary="/nonexistent/fio")


def test_validate_returns_the_profile_without_directory():
    profile = parse("[global]\ndirectory=/mnt\n[job]\nioengine=psync\nrw=read\nsize=1m\n")
    valid = validate(profile)
    assert valid.render() == "[global]\n\n[job]\nioengine=psync\nrw=read\nsize=1m\n"
    assert valid.notes == (
        "directory=/mnt (line 2) removed: the backend sets each worker's directory",
    )


def test_validate_runs_the_safety_policy_first():
    with pytest.raises(ProfileError, match=r"option exec_prerun is not allowed"):
        validate(parse("[job]\nexec_prerun=x\nbogus=1\n"))


def test_check_files_gives_one_verdict_per_file(tmp_path):
    good = write(tmp_path, "good.fio", "[job]\nioengine=psync\nrw=read\nsize=1m\n")
    unsafe = write(tmp_path, "unsafe.fio", "[job]\nfilename=/dev/sda\n")
    typo = write(tmp_path, "typo.fio", "[job]\nbogus=1\n")
    bad_value = write(tmp_path, "bad_value.fio", "[job]\nrw=sideways\n")
    broken = write(tmp_path, "broken.fio", "bs=4k\n")
    missing = tmp_path / "missing.fio"
    verdicts = check_files([good, unsafe, typo, bad_value, broken, missing])
    assert verdicts == [
        (good, None),
        (
            unsafe,
            "profile 'unsafe.fio' line 2: option filename=/dev/sda is not allowed"
            " (device nodes are never allowed)",
        ),
        (
            typo,
            "profile 'typo.fio' line 2: option bogus is not allowed (not an option of fio's"
            " option table (fio-3.33); only known options are allowed)",
        ),
        (
            bad_value,
            "profile 'bad_value.fio' line 2: fio --parse-only refused it: fio: failed parsing"
            " rw=sideways",
        ),
        (
            broken,
            "profile 'broken.fio' line 1: 'bs=4k' comes before any [section]"
            " (fio refuses options outside a job section)",
        ),
        (missing, f"profile 'missing.fio': no such file {missing}"),
    ]


# ---------------------------------------------------------------------------- selection


@pytest.fixture
def profile_dir(tmp_path):
    for name in ("seq-read", "seq-write", "rand-read", "lat"):
        write(tmp_path, f"{name}.fio", f"# {name}\n[{name}]\nrw=read\n")
    write(tmp_path, "README.txt", "not a profile\n")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "nested.fio", "[x]\n")
    return tmp_path


def test_discover_profiles_sorted_by_stem(profile_dir):
    assert discover_profiles(profile_dir) == {
        name: profile_dir / f"{name}.fio" for name in ("lat", "rand-read", "seq-read", "seq-write")
    }
    assert list(discover_profiles(profile_dir)) == ["lat", "rand-read", "seq-read", "seq-write"]


def test_discover_profiles_missing_directory(tmp_path):
    with pytest.raises(ProfileError, match=r"profiles directory .*nowhere does not exist"):
        discover_profiles(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        (None, ["lat", "rand-read", "seq-read", "seq-write"]),
        ("", ["lat", "rand-read", "seq-read", "seq-write"]),
        ("lat", ["lat"]),
        ("seq-write,lat", ["lat", "seq-write"]),
        ("seq-*", ["seq-read", "seq-write"]),
        ("*read, seq-read ,lat.fio", ["lat", "rand-read", "seq-read"]),
        ("?at", ["lat"]),
    ],
)
def test_select_profiles(profile_dir, spec, names):
    selected = select_profiles(profile_dir, spec)
    assert [p.name for p in selected] == names
    assert all(isinstance(p, Profile) for p in selected)


@pytest.mark.parametrize("spec", ["lat,nope", "zzz*"])
def test_select_profiles_unknown_name(profile_dir, spec):
    bad = spec.split(",")[-1]
    with pytest.raises(ProfileError) as info:
        select_profiles(profile_dir, spec)
    assert str(info.value) == (
        f"profile selection '{bad}' matches no profile in {profile_dir}"
        " (available: lat, rand-read, seq-read, seq-write)"
    )


# ---------------------------------------------------------------------------- shipped


def test_shipped_profiles_dir_holds_the_shipped_profiles():
    directory = shipped_profiles_dir()
    assert directory.is_dir()
    assert tuple(discover_profiles(directory)) == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_profile_validates_and_follows_the_conventions(name):
    profile = load_profile(shipped_profiles_dir() / f"{name}.fio")
    assert validate(profile) == profile  # nothing to strip: no directory=
    assert profile.description
    assert len(profile.jobs()) == 1
    keys = {_o.key for _o in profile.options()}
    assert "group_reporting" not in keys
    assert "directory" not in keys
    # The storage, not the page cache (buffered I/O on a small file measures the cache).
    assert profile.sections[0].get("direct") == "1"
    assert profile.sections[0].name == "global"
    assert profile.sections[0].has("time_based")
    assert profile.sections[0].get("runtime") == "30"
    assert profile.sections[0].get("size") == "256m"
    assert profile.sections[0].get("ramp_time") == "2"
    assert profile.expected_runtime_s == 32.0


def test_shipped_rate_limited_profile_limits_iops():
    profile = load_profile(shipped_profiles_dir() / "randread-4k-ratelimited.fio")
    assert profile.jobs()[0].get("rate_iops") == "500"


def test_shipped_latency_profile_runs_at_queue_depth_one():
    profile = load_profile(shipped_profiles_dir() / "lat-qd1-4k.fio")
    assert profile.sections[0].get("iodepth") == "1"
    assert profile.jobs()[0].get("rw") == "randread"
    assert profile.jobs()[0].get("bs") == "4k"


def test_option_equality_ignores_where_it_was_written():
    assert Option("bs", "4k", 3) == Option("bs", "4k", 9, "inc.fio")
    assert Option("bs", "4k", 3) != Option("bs", "8k", 3)
    assert Option("time_based", None, 1) != Option("time_based", "", 1)


# ------------------------------------------------------- profile files (issue 19, item 3)


def test_a_profile_linked_out_of_its_directory_is_refused_without_reading_it(tmp_path, monkeypatch):
    """``ln -s /proc/self/environ profiles/env.fio``: the collection error quoted the
    file's first line, the whole environment."""
    monkeypatch.setenv("FAKE_SECRET", "hunter2")
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "env.fio").symlink_to("/proc/self/environ")
    with pytest.raises(ProfileError) as info:
        select_profiles(profiles, "env")
    message = str(info.value)
    assert message.startswith(
        f"profile 'env.fio': {profiles / 'env.fio'} is a symbolic link to /proc/"
    )
    assert message.endswith(
        f"environ, outside the profiles directory {profiles}; profiles are regular files inside it"
    )
    assert "hunter2" not in message


def test_a_link_inside_the_directory_is_a_profile_like_any_other(tmp_path):
    profiles = tmp_path / "profiles"
    (profiles / "real").mkdir(parents=True)
    (profiles / "real" / "a.fio").write_text("[j]\nrw=read\n")
    (profiles / "a.fio").symlink_to(profiles / "real" / "a.fio")
    assert select_profiles(profiles, "a")[0].sections[0].get("rw") == "read"


def test_only_regular_files_of_bounded_size_are_read(tmp_path):
    fifo = tmp_path / "fifo.fio"
    os.mkfifo(fifo)
    with pytest.raises(ProfileError, match="is not a regular file"):
        load_profile(fifo)  # never blocks on the FIFO
    big = tmp_path / "big.fio"
    big.write_text("[j]\n" + "# padding\n" * 200_000)
    with pytest.raises(ProfileError, match="is larger than 1024 KiB: not a job file"):
        load_profile(big)
    binary = tmp_path / "bin.fio"
    binary.write_bytes(b"[j]\nrw=read\n\xff\xfe")
    with pytest.raises(ProfileError) as info:
        load_profile(binary)
    assert str(info.value) == (
        f"profile 'bin.fio': {binary} is not UTF-8 text (byte 0xff at offset 12)"
    )


def test_an_include_linked_out_of_the_directory_is_refused(tmp_path):
    outside = tmp_path / "outside.fio"
    outside.write_text("bs=4k\n")
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "inc.fio").symlink_to(outside)
    path = write(profiles, "main.fio", "[j]\ninclude inc.fio\n")
    with pytest.raises(ProfileError, match=r"include inc\.fio leaves the profile directory"):
        load_profile(path)


@pytest.mark.parametrize(
    "first_line",
    [
        "FAKE_SECRET=hunter2-" + "x" * 500 + "\x00PATH=/usr/bin",
        "\x1b]0;owned\x07\x1b[2J" + "y" * 100,
        "[" + "z" * 300,
    ],
)
def test_errors_quote_a_short_escaped_excerpt_never_raw_text(first_line):
    with pytest.raises(ProfileError) as info:
        parse(first_line + "\n[j]\nrw=read\n")
    message = str(info.value)
    assert message.isprintable()
    assert len(message) < 200
    assert "\x1b" not in message and "\x00" not in message
    assert "hunter2-" + "x" * 40 not in message
