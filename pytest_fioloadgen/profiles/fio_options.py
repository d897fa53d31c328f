"""fio's job options, classified for the safety policy (an allow-list).

The table is fio 3.33's (Debian bookworm): ``fio_options[]`` in options.c and the
``options[]`` of each I/O engine in engines/*.c, read from fio's source at tag fio-3.33.
An option fio has that this table does not name is refused, so a newer fio's new option is
refused until someone classifies it (tests/unit/test_fio_options.py compares the table with
``fio --cmdhelp=all`` and ``fio --enghelp=ENGINE`` of the installed fio).

Every option has a kind that tells the policy how to check its value:

* ``VALUE``: a number, size, time, flag or keyword: nothing on the worker's file system.
* ``JOB_NAME``: the job's name (``name=``), which fio turns into file and log names.
* ``FILES``: ``filename``: a ':'-separated list, relative to the job's directory.
* ``FILE_FORMAT``: ``filename_format``: a file name template ($jobname, $jobnum, ...).
* ``SERVER_PATH``: a path fio opens relative to the *server's* working directory, not the
  job's directory (``write_iolog``, ``opendir``).
* ``CLIENT_LOG``: a log name prefix; in client/server mode the fio *client* writes these
  logs, relative to its own working directory; a bare option uses the job name.
* ``MEMORY``: ``mem=TYPE[:FILE]``: a file backing the I/O buffers (server's directory).
* ``ENGINE``: ``ioengine``: an allow-list of engines that do file I/O.
* ``PATTERN``: a data pattern; a quoted pattern names a file fio reads.
* ``PLACEMENT``: ``directory``: never taken from a profile, the backend sets it.
* ``REFUSED``: never allowed (see REFUSED for why).
"""

from __future__ import annotations

import enum

FIO_TABLE_VERSION = "fio-3.33"


class Kind(enum.Enum):
    VALUE = "value"
    JOB_NAME = "job name"
    FILES = "files"
    FILE_FORMAT = "file name format"
    SERVER_PATH = "server path"
    CLIENT_LOG = "client log"
    MEMORY = "memory"
    ENGINE = "engine"
    PATTERN = "pattern"
    PLACEMENT = "placement"
    REFUSED = "refused"


#: fio's alternative names (``.alias`` in options.c).
ALIASES: dict[str, str] = {
    "readwrite": "rw",
    "iodepth_batch_submit": "iodepth_batch",
    "iodepth_batch_complete": "iodepth_batch_complete_min",
    "io_limit": "io_size",
    "fill_fs": "fill_device",
    "fileoffset": "offset",
    "blocksize": "bs",
    "blockalign": "ba",
    "blocksize_range": "bsrange",
    "blocksize_unaligned": "bs_unaligned",
    "nr_files": "nrfiles",
    "timeout": "runtime",
    "iomem": "mem",
    "mem_align": "iomem_align",
    "ratemin": "rate_min",
    "ratecycle": "rate_cycle",
    "wait_for_previous": "stonewall",
    "disable_bw": "disable_bw_measurement",
    "ss": "steadystate",
    "ss_dur": "steadystate_duration",
    "ss_ramp": "steadystate_ramp_time",
}

#: Options that are never allowed, and why (the refusal message).
REFUSED: dict[str, str] = {
    "exec_prerun": "runs a command on the worker",
    "exec_postrun": "runs a command on the worker",
    "profile": "a built-in fio profile generates jobs this policy cannot check",
    "cgroup": "creates a cgroup on the worker, outside its directory",
    "ioscheduler": "writes the device's I/O scheduler in /sys on the worker",
    "read_iolog": "replays I/O on the files (or devices) an I/O log names",
    "replay_redirect": "redirects replayed I/O to a device or file of its choosing",
    "merge_blktrace_file": "writes a merged blktrace file outside the job's directory",
}

_SPECIAL: dict[str, Kind] = {
    "name": Kind.JOB_NAME,
    "filename": Kind.FILES,
    "filename_format": Kind.FILE_FORMAT,
    "directory": Kind.PLACEMENT,
    "opendir": Kind.SERVER_PATH,
    "write_iolog": Kind.SERVER_PATH,
    "write_bw_log": Kind.CLIENT_LOG,
    "write_lat_log": Kind.CLIENT_LOG,
    "write_iops_log": Kind.CLIENT_LOG,
    "write_hist_log": Kind.CLIENT_LOG,
    "mem": Kind.MEMORY,
    "ioengine": Kind.ENGINE,
    "buffer_pattern": Kind.PATTERN,
    "verify_pattern": Kind.PATTERN,
    **{name: Kind.REFUSED for name in REFUSED},
}

# Every other job option of fio 3.33: values that name nothing on the file system.
_VALUE_OPTIONS = [
    "description",
    "wait_for",
    "unique_filename",
    "lockfile",
    "rw",
    "rw_sequencer",
    "iodepth",
    "iodepth_batch",
    "iodepth_batch_complete_min",
    "iodepth_batch_complete_max",
    "iodepth_low",
    "serialize_overlap",
    "io_submit_mode",
    "size",
    "io_size",
    "fill_device",
    "filesize",
    "file_append",
    "offset",
    "offset_align",
    "offset_increment",
    "number_ios",
    "bs",
    "ba",
    "bsrange",
    "bssplit",
    "bs_unaligned",
    "bs_is_seq_rand",
    "randrepeat",
    "randseed",
    "norandommap",
    "softrandommap",
    "random_generator",
    "random_distribution",
    "percentage_random",
    "percentage_sequential",
    "allrandrepeat",
    "nrfiles",
    "openfiles",
    "file_service_type",
    "fallocate",
    "fadvise_hint",
    "fsync",
    "fdatasync",
    "write_barrier",
    "sync_file_range",
    "direct",
    "atomic",
    "buffered",
    "overwrite",
    "loops",
    "numjobs",
    "startdelay",
    "runtime",
    "time_based",
    "verify_only",
    "ramp_time",
    "clocksource",
    "iomem_align",
    "verify",
    "do_verify",
    "verifysort",
    "verifysort_nr",
    "verify_interval",
    "verify_offset",
    "verify_fatal",
    "verify_dump",
    "verify_async",
    "verify_backlog",
    "verify_backlog_batch",
    "verify_async_cpus",
    "experimental_verify",
    "verify_state_load",
    "verify_state_save",
    "trim_percentage",
    "trim_verify_zero",
    "trim_backlog",
    "trim_backlog_batch",
    "read_iolog_chunked",
    "replay_no_stall",
    "replay_scale",
    "replay_align",
    "replay_time_scale",
    "replay_skip",
    "merge_blktrace_scalars",
    "merge_blktrace_iters",
    "zonemode",
    "zonesize",
    "zonecapacity",
    "zonerange",
    "zoneskip",
    "read_beyond_wp",
    "max_open_zones",
    "job_max_open_zones",
    "ignore_zone_limits",
    "zone_reset_threshold",
    "zone_reset_frequency",
    "lockmem",
    "rwmixread",
    "rwmixwrite",
    "rwmixcycle",
    "nice",
    "prio",
    "prioclass",
    "thinktime",
    "thinktime_spin",
    "thinktime_blocks",
    "thinktime_blocks_type",
    "thinktime_iotime",
    "rate",
    "rate_min",
    "rate_iops",
    "rate_iops_min",
    "rate_process",
    "rate_cycle",
    "rate_ignore_thinktime",
    "max_latency",
    "latency_target",
    "latency_window",
    "latency_percentile",
    "latency_run",
    "invalidate",
    "sync",
    "write_hint",
    "create_serialize",
    "create_fsync",
    "create_on_open",
    "create_only",
    "allow_file_create",
    "allow_mounted_write",
    "pre_read",
    "cpumask",
    "cpus_allowed",
    "cpus_allowed_policy",
    "numa_cpu_nodes",
    "numa_mem_policy",
    "gpu_dev_id",
    "end_fsync",
    "fsync_on_close",
    "unlink",
    "unlink_each_loop",
    "exitall",
    "exit_what",
    "exitall_on_error",
    "stonewall",
    "new_group",
    "thread",
    "per_job_logs",
    "log_entries",
    "log_avg_msec",
    "log_hist_msec",
    "log_hist_coarseness",
    "log_max_value",
    "log_offset",
    "log_prio",
    "log_compression",
    "log_compression_cpus",
    "log_store_compressed",
    "log_unix_epoch",
    "log_alternate_epoch",
    "log_alternate_epoch_clock_id",
    "block_error_percentiles",
    "bwavgtime",
    "iopsavgtime",
    "group_reporting",
    "stats",
    "zero_buffers",
    "refill_buffers",
    "scramble_buffers",
    "buffer_compress_percentage",
    "buffer_compress_chunk",
    "dedupe_percentage",
    "dedupe_global",
    "dedupe_mode",
    "dedupe_working_set_percentage",
    "clat_percentiles",
    "lat_percentiles",
    "slat_percentiles",
    "percentile_list",
    "significant_figures",
    "disk_util",
    "gtod_reduce",
    "disable_lat",
    "disable_clat",
    "disable_slat",
    "disable_bw_measurement",
    "gtod_cpu",
    "unified_rw_reporting",
    "continue_on_error",
    "ignore_error",
    "error_dump",
    "cgroup_nodelete",
    "cgroup_weight",
    "uid",
    "gid",
    "kb_base",
    "unit_base",
    "hugepage-size",
    "flow_id",
    "flow",
    "flow_watermark",
    "flow_sleep",
    "steadystate",
    "steadystate_duration",
    "steadystate_ramp_time",
]

#: Every job option of fio's table (canonical names; aliases map through ALIASES).
JOB_OPTIONS: dict[str, Kind] = {name: Kind.VALUE for name in _VALUE_OPTIONS} | _SPECIAL

#: Engines whose I/O goes to files in the job's directory (or nowhere: null, cpuio).
FILE_ENGINES = frozenset(
    {
        "sync",
        "psync",
        "vsync",
        "pvsync",
        "pvsync2",
        "libaio",
        "io_uring",
        "posixaio",
        "mmap",
        "splice",
        "null",
        "cpuio",
        "falloc",
        "ftruncate",
        "filecreate",
        "filestat",
        "filedelete",
    }
)
#: Engines that only talk to devices (SCSI generic, MTD, NVMe char devices, DAX...).
DEVICE_ENGINES = frozenset(
    {"sg", "mtd", "io_uring_cmd", "dev-dax", "pmemblk", "libpmem", "xnvme", "spdk", "libblkio"}
)
#: Engines that do their I/O over the network, on storage the profile names (a pool, an
#: image, an export): real storage, but shared with others, so only a user's explicit
#: setting (fio_allow_engines) allows them.
NETWORK_ENGINES = frozenset(
    {
        "rbd",
        "rados",
        "nfs",
        "gfapi",
        "gfapi_async",
        "http",
        "libiscsi",
        "nbd",
        "dfs",
        "net",
        "netsplice",
        "rdma",
    }
)
#: Engines a user may allow explicitly (fio_allow_engines): network storage clients.
OPT_IN_ENGINES = frozenset({"rbd", "rados", "nfs", "gfapi", "gfapi_async", "http", "libiscsi"})

_CMDPRIO = ("cmdprio_percentage", "cmdprio_class", "cmdprio", "cmdprio_bssplit")
#: Options each engine adds (engines/*.c ``options[]``); valid only with that engine.
ENGINE_OPTIONS: dict[str, frozenset[str]] = {
    "io_uring": frozenset(
        {
            "hipri",
            *_CMDPRIO,
            "fixedbufs",
            "registerfiles",
            "sqthread_poll",
            "sqthread_poll_cpu",
            "nonvectored",
            "uncached",
            "nowait",
            "force_async",
            "cmd_type",
        }
    ),
    "libaio": frozenset({"userspace_reap", *_CMDPRIO, "nowait"}),
    "pvsync2": frozenset({"hipri", "hipri_percentage", "uncached", "nowait"}),
    "mmap": frozenset({"thp"}),
    "cpuio": frozenset({"cpuload", "cpumode", "cpuchunks", "exit_on_io_done"}),
    "filestat": frozenset({"stat_type"}),
    "rbd": frozenset({"clustername", "rbdname", "pool", "clientname", "busy_poll"}),
    "rados": frozenset({"clustername", "pool", "clientname", "conf", "busy_poll", "touch_objects"}),
    "nfs": frozenset({"nfs_url"}),
}


def canonical(key: str) -> str:
    """The option's own name for an alias (``timeout`` -> ``runtime``)."""
    return ALIASES.get(key, key)
