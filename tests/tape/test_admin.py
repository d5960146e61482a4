"""The tape admin: a virtual library added with its media from Django's form, its page listing slots and drives,
the generated configuration page, and a refused barcode shown on the form with nothing written."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from apps.tape.models import Library

ADD = "/admin/tape/library/add/"
FORM = {"name": "vtl1", "kind": "mhvtl", "description": "", "vendor": "STK", "product": "L700", "serial": "",
        "slots": "8", "ie_slots": "1", "drive_count": "1", "density": "LTO6", "media_size_mb": "64",
        "media": "CAL001L6\nCAL002L6\n", "changer": "", "mhvtl_id": "", "tid": "", "iqn": "", "media_home": ""}


def _mktape(code: str) -> list[str]:
    return ["mktape", "-l", "10", "-m", code, "-s", "64", "-t", "data", "-d", "LTO6", "-C",
            settings.CALYPSO_MHVTL_CONFIG_DIR]


def test_a_library_added_in_the_admin_shows_its_slots_and_its_configuration(browser_for, admin_user, replay):
    replay.add(_mktape("CAL001L6")).add(_mktape("CAL002L6")).add(["systemctl", "restart", "mhvtl.target"])
    browser = browser_for(admin_user)
    response = browser.post(ADD, FORM)
    assert response.status_code == 302, response.content.decode()[:2000]
    library = Library.objects.get()
    page = browser.get(f"/admin/tape/library/{library.pk}/change/").content.decode()
    assert 'id="calypso-tape-slots"' in page and "CAL002L6" in page and 'id="calypso-tape-drives"' in page
    preview = browser.get("/admin/tape/library/preview/").content.decode()
    assert "Library: 10 CHANNEL: 00 TARGET: 00 LUN: 00" in preview and "Slot 2: CAL002L6" in preview


def test_a_barcode_with_a_space_comes_back_on_the_form(browser_for, admin_user, replay):
    response = browser_for(admin_user).post(ADD, {**FORM, "media": "CAL 001L6\n"})
    assert response.status_code == 200
    assert "not a barcode" in response.content.decode()
    assert replay.calls == [] and not Library.objects.exists()
    assert not any(Path(settings.CALYPSO_MHVTL_CONFIG_DIR).iterdir())


def test_the_dashboard_panel_lists_drives_needing_cleaning_and_alerts(browser_for, admin_user, db):
    from apps.tape.models import Drive

    library = Library.objects.create(name="lib1", kind="physical", changer="/dev/sg6", drive_count=2)
    Drive.objects.create(library=library, number=0, needs_cleaning=True)
    Drive.objects.create(library=library, number=1, tapealerts=[{"code": 3, "name": "Hard error",
                                                                 "severity": "warning", "text": ""}])
    dashboard = browser_for(admin_user).get("/admin/").content.decode()
    assert 'id="calypso-tape-panel"' in dashboard
    assert "lib1 drive 0</a>" in dashboard and "lib1 drive 1</a>: Hard error" in dashboard
