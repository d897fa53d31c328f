"""Settings resolution: CLI > FIO_* env > ini > suite > default, with sourced errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_fioloadgen.exceptions import ConfigError
from pytest_fioloadgen.settings import OPTIONS, Settings, TargetSpec, resolve

ROOT = Path("/project")


def settle(cli=None, env=None, ini=None, suite=None) -> Settings:
    return resolve(rootdir=ROOT, cli=cli or {}, env=env or {}, ini=ini or {}, suite=suite)


def test_defaults():
    settings = settle()
    assert settings.backend == "local"
    assert settings.workers == (1,)
    assert settings.repeat == 1
    assert settings.targets == ()
    assert settings.store is None
    assert settings.keep is False
    assert settings.source_of("workers") == "default"


@pytest.mark.parametrize(
    ("layers", "expected", "source"),
    [
        ({"cli": "8", "env": "4", "ini": "2", "suite": "1"}, (8,), "--fio-workers"),
        ({"env": "4", "ini": "2", "suite": "1"}, (4,), "FIO_WORKERS"),
        ({"ini": "2", "suite": "1"}, (2,), "ini fio_workers"),
        ({"suite": "1,3"}, (1, 3), "suite default workers"),
    ],
)
def test_precedence(layers, expected, source):
    settings = settle(
        cli={"workers": layers.get("cli")},
        env={"FIO_WORKERS": layers["env"]} if "env" in layers else {},
        ini={"workers": layers.get("ini", "")},
        suite={"workers": layers["suite"]},
    )
    assert settings.workers == expected
    assert settings.source_of("workers") == source


def test_empty_values_fall_through():
    settings = settle(cli={"runtime": None}, env={"FIO_RUNTIME": ""}, ini={"runtime": "7"})
    assert settings.runtime == 7


def test_workers_are_sorted_and_deduplicated():
    assert settle(cli={"workers": "4, 1,2,4"}).workers == (1, 2, 4)
    assert settle(suite={"workers": [4, 1, 2]}).workers == (1, 2, 4)


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ("cli", r"--fio-workers: 'x' is not a positive integer"),
        ("env", r"FIO_WORKERS: 'x' is not a positive integer"),
        ("ini", r"ini fio_workers: 'x' is not a positive integer"),
    ],
)
def test_errors_name_the_source(layer, message):
    kwargs = {
        "cli": {"cli": {"workers": "1,x"}},
        "env": {"env": {"FIO_WORKERS": "1,x"}},
        "ini": {"ini": {"workers": "1,x"}},
    }[layer]
    with pytest.raises(ConfigError, match=message):
        settle(**kwargs)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("runtime", "0", "--fio-runtime: '0' is not a positive integer"),
        ("repeat", "-1", "--fio-repeat: '-1' is not a positive integer"),
        ("size", "lots", "--fio-size: 'lots' is not a fio size"),
        ("backend", "cloud", "--fio-backend: unknown backend 'cloud'"),
        ("keep", "maybe", "--fio-keep: 'maybe' is not a boolean"),
        ("label", ["novalue"], "--fio-label: label 'novalue' is not KEY=VALUE"),
        ("target", ["a=/x", "a=/y"], "two targets are named 'a'"),
        ("target", ["bad name=/x"], "target name 'bad name'"),
    ],
)
def test_bad_values(name, value, message):
    with pytest.raises(ConfigError, match=message):
        settle(cli={name: value})


def test_targets_named_or_by_directory():
    settings = settle(cli={"target": ["/mnt/nvme/", "slow=/mnt/hdd"]})
    assert settings.targets == (TargetSpec("nvme", "/mnt/nvme/"), TargetSpec("slow", "/mnt/hdd"))


def test_repeatable_options_from_env_are_comma_lists():
    settings = settle(env={"FIO_LABEL": "branch=main,ci=yes", "FIO_TARGET": "a=/x,b=/y"})
    assert settings.labels == {"branch": "main", "ci": "yes"}
    assert [t.name for t in settings.targets] == ["a", "b"]


def test_cli_repeatable_replaces_env():
    settings = settle(cli={"label": ["run=1"]}, env={"FIO_LABEL": "branch=main"})
    assert settings.labels == {"run": "1"}


def test_paths_are_relative_to_rootdir():
    settings = settle(cli={"thresholds": "limits.toml", "json": "/tmp/out.json"})
    assert settings.thresholds == ROOT / "limits.toml"
    assert settings.json == Path("/tmp/out.json")


def test_flag_and_hosts():
    settings = settle(cli={"keep": True, "hosts": "a:1,b"}, env={"FIO_BACKEND": "static"})
    assert settings.keep is True
    assert settings.hosts == ("a:1", "b")
    assert settings.backend == "static"


def test_every_option_has_cli_env_and_ini_names():
    for option in OPTIONS:
        assert option.cli == "--fio-" + option.name.replace("_", "-")
        assert option.env == "FIO_" + option.name.upper()
        assert option.ini == "fio_" + option.name
