"""Every tape parser against damaged copies of the recorded outputs and mhVTL's files: truncated, lines cut,
dropped, inserted or replaced, random bytes, numbers of 300 digits. Whatever it is given, a parser returns
its result or raises the one typed ``ParseError`` naming the command; nothing else escapes. The backend on top
raises nothing but ``BackendError``.

Hypothesis runs derandomized with a bounded number of examples, so a run is repeatable and takes seconds."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core.errors import BackendError, ParseError
from apps.core.runner import ReplayRunner
from apps.core.testing.damage import RANDOM, damaged
from apps.tape.backends import mhvtl
from apps.tape.backends.mt_parse import parse_mt_status
from apps.tape.backends.mtx_parse import parse_mtx_status
from apps.tape.backends.physical import PhysicalLibraryBackend
from apps.tape.backends.scsi_parse import parse_lsscsi, parse_tapealert

from .recordings import body, config

PROPERTY = settings(max_examples=100, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

PARSERS: list[tuple[str, Callable[[str], object], list[str]]] = [
    ("mtx status", parse_mtx_status, [body("mtx_status_mhvtl.txt"), body("mtx_status_tgt_rendered.txt")]),
    ("mt status", parse_mt_status, [body(n) for n in ("mt_status_lto5_bot.txt", "mt_status_dlt_write_protected.txt",
                                                      "mt_status_no_tape_composed.txt")]),
    ("lsscsi -g", parse_lsscsi, [body(n) for n in ("lsscsi_g_mhvtl_install.txt", "lsscsi_g_mhvtl_doc.txt",
                                                   "lsscsi_g_mhvtl_docker.txt")]),
    ("sg_logs -p 0x2e", parse_tapealert, [body("sg_logs_tapealert.txt"), body("sg_logs_tapealert_brief.txt")]),
    ("mhvtl device.conf", mhvtl.parse_device_conf, [config("device.conf")]),
    ("mhvtl library_contents", mhvtl.parse_library_contents, [config("library_contents.10"),
                                                              config("library_contents.sample")]),
]
IDS = [p[0] for p in PARSERS]




def parses_or_typed_error(name: str, parse: Callable[[str], object], text: str) -> None:
    try:
        parse(text)
    except ParseError as exc:
        assert exc.code == "unreadable_output" and exc.command == name
        assert f"`{name}`" in str(exc)


@pytest.mark.parametrize(("name", "parse", "texts"), PARSERS, ids=IDS)
def test_recorded_outputs_parse_the_same_twice(name, parse, texts):
    for text in texts:
        assert parse(text) == parse(text)


@pytest.mark.parametrize(("name", "parse", "texts"), PARSERS, ids=IDS)
def test_prefixes_parse_or_raise_the_typed_error(name, parse, texts):
    @PROPERTY
    @given(st.sampled_from(texts).flatmap(lambda t: st.integers(0, len(t)).map(lambda n: t[:n])))
    def check(text):
        parses_or_typed_error(name, parse, text)

    check()


@pytest.mark.parametrize(("name", "parse", "texts"), PARSERS, ids=IDS)
def test_damaged_outputs_parse_or_raise_the_typed_error(name, parse, texts):
    @PROPERTY
    @given(st.sampled_from(texts).flatmap(damaged))
    def check(text):
        parses_or_typed_error(name, parse, text)

    check()


@pytest.mark.parametrize(("name", "parse", "texts"), PARSERS, ids=IDS)
def test_random_text_parses_or_raises_the_typed_error(name, parse, texts):
    @PROPERTY
    @given(st.text(max_size=200) | RANDOM)
    def check(text):
        parses_or_typed_error(name, parse, text)

    check()


@PROPERTY
@given(damaged(body("mtx_status_mhvtl.txt")), damaged(body("mt_status_lto5_bot.txt")),
       damaged(body("sg_logs_tapealert.txt")))
def test_backend_on_damaged_outputs_raises_only_backend_errors(mtx, mt, alerts):
    runner = (ReplayRunner().add(["mtx", "-f", "/dev/sg6", "status"], stdout=mtx)
              .add(["mt", "-f", "/dev/nst0", "status"], stdout=mt)
              .add(["sg_logs", "-p", "0x2e", "/dev/sg2"], stdout=alerts))
    backend = PhysicalLibraryBackend(runner)
    for call in (lambda: backend.inventory("/dev/sg6"), lambda: backend.tape_status("/dev/nst0"),
                 lambda: backend.tape_alerts("/dev/sg2")):
        try:
            call()
        except BackendError:
            pass


def test_a_damaged_line_is_named():
    text = body("mt_status_lto5_bot.txt").replace("block number=0,", "block number=" + "9" * 300 + ",")
    with pytest.raises(ParseError) as err:
        parse_mt_status(text)
    assert err.value.command == "mt status" and err.value.line.startswith("File number=0, block number=999")
