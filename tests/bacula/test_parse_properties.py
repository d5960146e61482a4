"""Every console parser against damaged copies of the recorded outputs: truncated, lines cut, dropped, inserted
or replaced, random bytes, numbers of 300 digits. A parser returns its result or raises the one typed
``ParseError`` naming the command; nothing else escapes. The Console on top raises nothing but ``BackendError``.

Hypothesis runs derandomized with a bounded number of examples, so a run is repeatable and takes seconds."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.bacula.backends import bconsole_parse as p
from apps.bacula.backends.base import FLAVOURS
from apps.bacula.backends.bconsole import Console
from apps.core.errors import BackendError, ParseError
from apps.core.runner import ReplayRunner
from apps.core.testing.damage import damaged as damage

from .recordings import CONSOLE_ARGV, body

PROPERTY = settings(max_examples=60, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

PARSERS: list[tuple[str, Callable[[str], object], list[str]]] = [
    ("list", p.parse_tables, ["bconsole-12-list-files-jobid1.txt", "bconsole-11-list-volumes.txt"]),
    ("list jobs", p.parse_list_jobs, ["bconsole-40-list-jobs-final.txt"]),
    ("list volumes", p.parse_list_volumes, ["bconsole-11-list-volumes.txt"]),
    ("list pools", p.parse_list_pools, ["bconsole-31-list-pools-after-reload.txt"]),
    ("list clients", p.parse_list_clients, ["bconsole-50-clients.txt"]),
    ("llist", p.parse_llist, ["bconsole-39-llist-volume.txt|llist volume=CAL004L6"]),
    ("llist jobid", p.parse_llist_job, ["bconsole-10-llist-jobid1.txt|llist jobid=1",
                                         "bconsole-50-llist-job.txt|llist jobid=3"]),
    ("run", p.parse_run, ["bconsole-06-run-backup.txt", "bconsole-23-restore-bvfs-list.txt"]),
    ("estimate", p.parse_estimate, ["bconsole-50-estimate.txt"]),
    ("status client", p.parse_status_client, ["bconsole-50-status-client-running.txt"]),
    ("list joblog", p.parse_job_log, ["bconsole-50-joblog.txt", "bconsole-50-joblog-waiting-media.txt"]),
    ("messages", p.parse_messages, ["bconsole-08-messages.txt"]),
    ("messages (configuration errors)", p.parse_config_errors, ["bconsole-33-messages-after-bad-reload.txt"]),
    (".bvfs_get_jobids", p.parse_bvfs_jobids, ["bconsole-14-bvfs-get-jobids.txt"]),
    (".bvfs_lsdirs", p.parse_bvfs_entries, ["bconsole-16-bvfs-lsdirs-sample.txt",
                                            "bconsole-20-bvfs-lsfiles-by-pathid.txt"]),
    (".bvfs_versions", p.parse_bvfs_versions, ["bconsole-21b-bvfs-versions-fnid.txt"]),
    ("label barcodes", p.parse_label_barcodes, ["bconsole-05-label-barcodes.txt",
                                                "bconsole-04c-label-barcodes-FAILED-uppercase-V-not-expanded.txt"]),
    ("update slots", p.parse_update_slots, ["bconsole-03-update-slots-scan.txt"]),
]
IDS = [x[0] for x in PARSERS]
JUNK = "aZ09 \t:-/|+=.,\"\\\u00e9\x00\x7f"  # the console's own punctuation


def damaged(text: str):
    return damage(text, JUNK)




def text_of(source: str) -> str:
    """A recording's output; ``name|command``: what ``command`` printed in it, as the console hands it over."""
    name, _sep, command = source.partition("|")
    return p.command_output(body(name), command) if command else body(name)


def parses_or_typed_error(name: str, parse: Callable[[str], object], text: str) -> None:
    try:
        parse(text)
    except ParseError as exc:
        assert exc.code == "unreadable_output" and exc.command == name
        assert f"`{name}`" in str(exc)


@pytest.mark.parametrize(("name", "parse", "sources"), PARSERS, ids=IDS)
def test_recordings_parse(name, parse, sources):
    for source in sources:
        parse(text_of(source))


@pytest.mark.parametrize(("name", "parse", "sources"), PARSERS, ids=IDS)
@PROPERTY
@given(data=st.data())
def test_damaged_output_only_raises_parse_error(name, parse, sources, data):
    text = data.draw(damaged(text_of(data.draw(st.sampled_from(sources)))))
    parses_or_typed_error(name, parse, text)


@PROPERTY
@given(text=st.text(max_size=200))
def test_lstat_never_escapes_untyped(text):
    row = f"1\t2\t3\t4\t{text}\tname"
    parses_or_typed_error(".bvfs_lsdirs", p.parse_bvfs_entries, row)


@pytest.mark.parametrize(("source", "call"), [
    ("bconsole-40-list-jobs-final.txt", lambda c: c.jobs()),
    ("bconsole-10-llist-jobid1.txt", lambda c: c.job(1)),
    ("bconsole-11-list-volumes.txt", lambda c: c.volumes()),
    ("bconsole-05-label-barcodes.txt", lambda c: c.label_barcodes("VTL1", "TapePool", "1-4")),
    ("bconsole-17-bvfs-lsfiles-sample.txt", lambda c: c.bvfs_lsfiles([1], path="/tmp")),
    ("bconsole-50-status-client-running.txt", lambda c: c.progress(1, "calypso-fd")),
])
@PROPERTY
@given(data=st.data())
def test_console_raises_only_backend_errors(source, call, data):
    runner = ReplayRunner().add(CONSOLE_ARGV, stdout=data.draw(damaged(body(source))))
    try:
        call(Console(runner, CONSOLE_ARGV[-1], FLAVOURS["bacula"]))
    except BackendError:
        pass
