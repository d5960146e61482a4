"""Host configuration files: validated before they replace anything, put back when activation fails."""

from __future__ import annotations

import threading
import time

import pytest

from apps.core.configfiles import host_lock, install
from apps.core.errors import BackendError


def test_a_new_file_is_validated_then_activated(tmp_path):
    path, seen = tmp_path / "etc" / "x.conf", []
    done = install(path, "a = 1\n", validate=lambda c: seen.append(("validate", c.read_text())),
                   activate=lambda: seen.append(("activate", path.read_text())))
    assert done.changed and path.read_text() == "a = 1\n"
    assert seen == [("validate", "a = 1\n"), ("activate", "a = 1\n")]
    assert [p.name for p in path.parent.iterdir()] == ["x.conf"]  # no candidate or temporary left
    assert not install(path, "a = 1\n", activate=lambda: seen.append("again")).changed and seen[-1] != "again"


def test_a_refused_candidate_replaces_nothing(tmp_path):
    path = tmp_path / "x.conf"
    path.write_text("good\n")

    def refuse(candidate):
        raise BackendError("bad line 3", argv=("checker", str(candidate)))

    with pytest.raises(BackendError, match=r"checker refused .* bad line 3\. .* is unchanged"):
        install(path, "bad\n", validate=refuse, activate=lambda: pytest.fail("activated a refused file"))
    assert path.read_text() == "good\n" and [p.name for p in tmp_path.iterdir()] == ["x.conf"]


@pytest.mark.parametrize("existed", [True, False])
def test_a_failed_activation_puts_the_previous_file_back_and_activates_it(tmp_path, existed):
    path, calls = tmp_path / "x.conf", []
    if existed:
        path.write_text("good\n")

    def activate():
        calls.append(path.read_text() if path.exists() else None)
        if len(calls) == 1:
            raise BackendError("daemon refused", argv=("reload",))

    with pytest.raises(BackendError, match="daemon refused.*previous configuration was put back"):
        install(path, "new\n", activate=activate)
    assert calls == ["new\n", "good\n" if existed else None]
    assert (path.read_text() if path.exists() else None) == ("good\n" if existed else None)


def test_host_lock_serialises(tmp_path, settings):
    settings.RUN_DIR = tmp_path
    order = []

    def worker(name):
        with host_lock("shared"):
            order.append(f"{name}-in")
            time.sleep(0.05)
            order.append(f"{name}-out")

    threads = [threading.Thread(target=worker, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert order in (["a-in", "a-out", "b-in", "b-out"], ["b-in", "b-out", "a-in", "a-out"])
