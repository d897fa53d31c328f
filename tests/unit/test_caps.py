"""Resource caps: the reported profiles that took the machine are refused with their
numbers, each cap raised only explicitly (--fio-caps, ini, env, [caps] in the thresholds
file), and the hang timeout follows the time cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_fioloadgen.exceptions import ConfigError, ProfileError
from pytest_fioloadgen.fio.runner import UNKNOWN_RUNTIME_S
from pytest_fioloadgen.planning import caps_of
from pytest_fioloadgen.profiles import parse_profile
from pytest_fioloadgen.profiles.caps import (
    DEFAULT_CAPS,
    Caps,
    DiskMargin,
    check_caps,
    check_disk,
    disk_need,
    parse_caps,
)
from pytest_fioloadgen.session import BenchmarkSession
from pytest_fioloadgen.settings import resolve
from pytest_fioloadgen.verdicts.thresholds import Thresholds

GIB = 1024**3


def profile(text: str):
    return parse_profile(text, name="p")


def refusal(text: str, caps: Caps = DEFAULT_CAPS) -> str:
    with pytest.raises(ProfileError) as info:
        check_caps(profile(text), caps)
    return str(info.value)


def test_four_hundred_jobs_are_refused_with_the_number_and_how_to_raise_the_cap():
    assert refusal("[j]\nrw=read\nsize=1m\nnumjobs=400\n") == (
        "profile 'p': 400 jobs at once per worker (numjobs over a phase's jobs) exceed the"
        " numjobs cap of 64 (default); if you mean it: --fio-caps numjobs=400 (ini fio_caps,"
        " env FIO_CAPS, or [caps] in the thresholds file)"
    )


def test_jobs_count_per_phase_and_fio_reads_numjobs_as_a_size():
    # 40 + 40 at once, then 40: the first phase is over the cap.
    assert "80 jobs at once" in refusal("[a]\nnumjobs=40\n[b]\nnumjobs=40\n[c]\nstonewall\n")
    check_caps(profile("[a]\nnumjobs=40\n[b]\nstonewall\nnumjobs=40\n"), DEFAULT_CAPS)
    assert "1024 jobs" in refusal("[j]\nnumjobs=1k\n")


def test_a_gigabyte_of_io_buffers_is_refused():
    """iodepth=128 with bs=16m on libaio held over 1 GB."""
    message = refusal("[j]\nioengine=libaio\niodepth=128\nbs=16m\nrw=read\nsize=1g\n")
    assert message.startswith(
        "profile 'p': I/O buffers of 2.00 GiB per worker at once (largest job: iodepth 128 x"
        " block 16.0 MiB x numjobs 1) exceed the memory cap of 1.00 GiB (default)"
    )
    assert "--fio-caps memory=2g" in message
    # The largest block of a list, range or split counts.
    assert "I/O buffers" in refusal("[j]\niodepth=64\nbssplit=4k/50:32m/50\n")
    check_caps(profile("[j]\niodepth=32\nbs=1m\nnumjobs=4\n"), DEFAULT_CAPS)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[j]\nramp_time=30d\nruntime=1\n", "come to 30 d"),
        ("[j]\nstartdelay=2h\n", "come to 2 h"),
        ("[a]\nruntime=40m\n[b]\nstonewall\nruntime=40m\n", "come to 1.33333 h"),
        # fio's own reading: a unit after a '-' counts ("1-30d" is one day), and a range's
        # upper end is kept even when its first part is no time at all.
        ("[j]\nruntime=1-30d\n", "come to 1 d"),
        ("[j]\nstartdelay=x-30d\n", "come to 30 d"),
        ("[j]\nstartdelay=1:2h\n", "come to 2 h"),
    ],
)
def test_time_beyond_an_hour_is_refused(text, said):
    message = refusal(text)
    assert said in message and "over the time cap of 1 h (default)" in message


def test_raised_and_lifted_caps_let_the_profile_through():
    text = "[j]\nnumjobs=400\niodepth=128\nbs=16m\nramp_time=30d\nruntime=1\n"
    caps = DEFAULT_CAPS.with_values(
        parse_caps(["numjobs=400", "memory=none", "time=31d"], "--fio-caps"), "--fio-caps"
    )
    check_caps(profile(text), caps)
    message = refusal(text, DEFAULT_CAPS.with_values({"numjobs": 10}, "--fio-caps"))
    assert "exceed the numjobs cap of 10 (from --fio-caps)" in message


def test_cap_syntax():
    assert parse_caps(["numjobs=128", "memory=4g", "time=90m", "disk_margin=5%"], "w") == {
        "numjobs": 128,
        "memory": 4 * GIB,
        "time": 5400.0,
        "disk_margin": DiskMargin(fraction=0.05),
    }
    assert parse_caps({"disk_margin": "2g", "time": 600, "numjobs": "none"}, "w") == {
        "disk_margin": DiskMargin(size=2 * GIB),
        "time": 600.0,
        "numjobs": None,
    }


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["cpus=4"], "--fio-caps: unknown cap 'cpus' (caps: numjobs, memory, time, disk_margin)"),
        (["numjobs"], "--fio-caps: 'numjobs' is not KEY=VALUE (like numjobs=128)"),
        (["numjobs=0"], "--fio-caps: numjobs='0' is not a positive integer"),
        (["memory=lots"], "--fio-caps: memory='lots' is not a size (like 512m, 4g)"),
        (["time=1w"], "--fio-caps: time='1w' is not a duration (like 600, 90m, 2h)"),
        (["disk_margin=100%"], "--fio-caps: disk_margin='100%' must be under 100%"),
    ],
)
def test_bad_caps_are_one_line_naming_where(items, message):
    with pytest.raises(ConfigError) as info:
        parse_caps(items, "--fio-caps")
    assert str(info.value) == message


def test_the_option_wins_over_the_thresholds_file_key_by_key(tmp_path: Path):
    thresholds_file = tmp_path / "t.toml"
    thresholds_file.write_text('[caps]\nnumjobs = 128\nmemory = "2g"\n')
    thresholds = Thresholds.load(thresholds_file)
    settings = resolve(
        rootdir=tmp_path, cli={"caps": ["numjobs=256"]}, env={"FIO_CAPS": "time=2h"}, ini={}
    )
    caps = caps_of(settings, thresholds)
    assert (caps.numjobs, caps.memory, caps.time_s) == (256, 2 * GIB, 3600.0)
    assert caps.source_of("numjobs") == "--fio-caps"
    assert caps.source_of("memory") == f"thresholds file {thresholds_file} [caps]"
    from_env = resolve(rootdir=tmp_path, cli={}, env={"FIO_CAPS": "time=2h,memory=3g"}, ini={})
    assert caps_of(from_env, thresholds).time_s == 7200.0
    assert caps_of(from_env, thresholds).memory == 3 * GIB
    thresholds_file.write_text("[caps]\nnumjobs = 0\n")
    with pytest.raises(ConfigError, match=r"\[caps\]: numjobs='0' is not a positive integer"):
        caps_of(settings, Thresholds.load(thresholds_file))


def test_a_profile_is_checked_against_the_targets_free_space_with_a_margin():
    """size=20g took 20 GB of disk at once."""
    big = profile("[j]\nrw=write\nsize=20g\nnumjobs=2\n")
    assert disk_need(big).bytes == 40 * GIB
    with pytest.raises(ProfileError) as info:
        check_disk(big, DEFAULT_CAPS, workers=2, target="'t' (/x)", free=90 * GIB, total=200 * GIB)
    assert str(info.value) == (
        "profile 'p': needs 80.0 GiB on target 't' (/x) (largest job: size 20.0 GiB x numjobs"
        " 2; x 2 worker(s)) but 90.0 GiB is free and 20.0 GiB (disk_margin 10%) must stay free"
        " (default); if you mean it: --fio-caps disk_margin=none (ini fio_caps, env FIO_CAPS,"
        " or [caps] in the thresholds file)"
    )
    # What the session's own files take is reused, not needed twice.
    check_disk(
        big,
        DEFAULT_CAPS,
        workers=2,
        target="t",
        free=70 * GIB,
        total=200 * GIB,
        reusable=40 * GIB,
    )
    check_disk(big, Caps(disk_margin=None), workers=2, target="t", free=0, total=GIB)


def test_filling_the_file_system_is_refused_on_a_known_target():
    with pytest.raises(ProfileError, match="fill_device fills the file system of target t"):
        check_disk(
            profile("[j]\nrw=write\nfill_device=1\n"),
            DEFAULT_CAPS,
            workers=1,
            target="t",
            free=100 * GIB,
            total=200 * GIB,
        )


def test_files_count_filesize_times_nrfiles_and_derived_sizes_count_nothing():
    assert disk_need(profile("[j]\nfilesize=1m-4m\nnrfiles=8\n")).bytes == 32 * 1024**2
    assert disk_need(profile("[j]\nsize=50%\n")).bytes == 0


def test_the_hang_timeout_follows_the_time_cap():
    """ramp_time=20 with --fio-runtime 1 ran 28 s; the hang timeout was runtime + ramp +
    60 s, so ramp_time=30d was a 30-day run."""
    session = BenchmarkSession(
        backend=None,  # type: ignore[arg-type]
        targets=["t"],
        max_workers=1,
        store=None,
        thresholds=Thresholds.empty(),
        caps=DEFAULT_CAPS.with_values({"time": 120.0}, "--fio-caps"),
    )
    assert session.hang_timeout_base_s(profile("[j]\nramp_time=20\nruntime=1\n")) == 21.0
    assert session.hang_timeout_base_s(profile("[j]\nsize=1g\n")) == 120.0
    with pytest.raises(ProfileError, match="over the time cap of 2 min"):
        check_caps(profile("[j]\nramp_time=30d\nruntime=1\n"), session.caps)
    lifted = BenchmarkSession(
        backend=None,  # type: ignore[arg-type]
        targets=["t"],
        max_workers=1,
        store=None,
        thresholds=Thresholds.empty(),
        caps=Caps(time_s=None),
    )
    assert lifted.hang_timeout_base_s(profile("[j]\nsize=1g\n")) == UNKNOWN_RUNTIME_S
