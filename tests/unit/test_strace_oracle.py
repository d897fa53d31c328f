"""The strace oracle's parser: what it must not miss."""

from __future__ import annotations

from pathlib import Path

from tests.integration.strace_oracle import accesses_in, violations_in

FIO = '1 execve("/usr/bin/fio", ["fio"], 0x1) = 0'


def test_a_call_another_process_interrupted_is_still_seen():
    """strace -f splits such a call in two lines; the first holds the path, the second
    the result. Unjoined, the read of /root (and a write) went unnoticed."""
    lines = [
        FIO,
        '1 openat(AT_FDCWD</w>, "/root", O_RDONLY|O_DIRECTORY <unfinished ...>',
        '2 read(3, "x", 1) = 1',
        "1 <... openat resumed>)             = -1 ENOENT (No such file or directory)",
        '1 openat(AT_FDCWD</w>, "/tmp/out/x", O_WRONLY|O_CREAT <unfinished ...>',
        "1 <... openat resumed>, 0644)             = 4</tmp/out/x>",
    ]
    [access] = accesses_in(lines, ["/root"])
    assert (access.path, access.result, access.errno) == ("/root", -1, "ENOENT")
    [violation] = violations_in(lines, [Path("/w")])
    assert violation.path == "/tmp/out/x"


def test_reads_are_reported_successful_or_not_and_failed_writes_are_no_violation():
    lines = [
        FIO,
        '1 openat(AT_FDCWD</w>, "/etc/shadow", O_RDONLY) = 3</etc/shadow>',
        '1 newfstatat(AT_FDCWD</w>, "../../root/x", 0x7ffd, 0) = -1 ENOENT (No such file)',
        '1 mkdir("/tmp/out/d", 0755) = -1 EROFS (Read-only file system)',
    ]
    accesses = accesses_in(lines, ["/etc/shadow", "/root"])
    assert [(a.path, a.succeeded) for a in accesses] == [
        ("/etc/shadow", True),
        ("/root/x", False),
    ]
    assert violations_in(lines, [Path("/w")]) == []
