"""The iSCSI API with a real token and the admin pages: 400s naming the field with nothing run, secrets
never answered, sessions, the generated configuration, and the delete that needs the target's name typed while initiators are logged in."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.iscsi import services
from apps.iscsi.models import InitiatorGroup, Target

from .recordings import empty_tgtd, recorded, tgt, tgtd_shows

pytestmark = pytest.mark.django_db
IQN = "iqn.2026-12.org.calypso:disk1"
BASE = "/api/v1/iscsi"


@pytest.fixture
def api(token_client_for, operator_user):
    return token_client_for(operator_user)


def test_a_bad_secret_is_a_400_naming_it_and_runs_nothing(api, replay):
    answer = api.post(f"{BASE}/targets/", {"name": "disk1", "chap_user": "alice", "chap_secret": "short"},
                      format="json")
    assert answer.status_code == 400, answer.json()
    assert "chap_secret" in answer.json()["error"]["fields"]
    assert replay.calls == [] and not Target.objects.exists()
    answer = api.post(f"{BASE}/initiator-groups/", {"name": "g", "networks": ["10.0.0.0/8;reboot"]}, format="json")
    assert answer.status_code == 400 and "networks" in str(answer.json()["error"]["fields"])
    assert replay.calls == [] and not InitiatorGroup.objects.exists()


def test_create_a_target_secrets_are_never_answered(api, replay):
    empty_tgtd(replay)
    for argv in (tgt("--op", "new", "--mode", "account", "--user", "alice", "--password", "secretsecret1"),
                 tgt("--op", "new", "--mode", "target", "--tid", "1", "-T", IQN),
                 tgt("--op", "bind", "--mode", "account", "--tid", "1", "--user", "alice")):
        replay.add(argv)
    answer = api.post(f"{BASE}/targets/", {"name": "disk1", "chap_user": "alice", "chap_secret": "secretsecret1"},
                      format="json")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert (body["iqn"], body["tid"], body["chap"], body["mutual_chap"]) == (IQN, 1, True, False)
    assert "secretsecret1" not in answer.content.decode() and "chap_secret" not in body
    listing = api.get(f"{BASE}/targets/")
    assert "secretsecret1" not in listing.content.decode()
    event = AuditEvent.objects.filter(action="iscsi.target.create").get()
    assert "secretsecret1" not in str(event.__dict__)


def test_sessions_and_the_generated_configuration(api, replay):
    empty_tgtd(replay)
    replay.add(tgt("--op", "new", "--mode", "target", "--tid", "1", "-T", IQN))
    services.TARGETS.create(name="disk1")
    tgtd_shows(replay, recorded("tgt_show_target_session.txt"))
    answer = api.get(f"{BASE}/targets/sessions/")
    assert answer.status_code == 200
    assert answer.json() == {"sessions": [{"target": IQN, "initiator": "iqn.2026-01.org.example:client1",
                                           "addresses": ["127.0.0.1"], "session_id": "2"}]}
    config = api.get(f"{BASE}/targets/generated-config/").json()
    assert config["backend"] == "tgt" and config["path"].endswith("tgt/calypso.conf")
    assert f"<target {IQN}>" in config["text"]


def test_delete_with_live_sessions_needs_the_name_typed(api, replay, browser_for, admin_user):
    empty_tgtd(replay)
    replay.add(tgt("--op", "new", "--mode", "target", "--tid", "1", "-T", IQN))
    target = services.TARGETS.create(name="disk1")
    tgtd_shows(replay, recorded("tgt_show_target_session.txt"), recorded("tgt_show_account.txt"))
    answer = api.delete(f"{BASE}/targets/{target.pk}/")
    assert answer.status_code == 400 and "confirm" in answer.json()["error"]["fields"]
    assert Target.objects.exists()

    page = browser_for(admin_user).get(f"/admin/iscsi/target/{target.pk}/delete/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="iscsi-sessions"' in html and "iqn.2026-01.org.example:client1" in html

    for argv in (tgt("--op", "delete", "--force", "--mode", "target", "--tid", "1"),
                 tgt("--op", "delete", "--force", "--mode", "target", "--tid", "2"),
                 tgt("--op", "delete", "--mode", "account", "--user", "bob"),
                 tgt("--op", "delete", "--mode", "account", "--user", "alice")):
        replay.add(argv)
    assert api.delete(f"{BASE}/targets/{target.pk}/", {"confirm": "disk1"}, format="json").status_code == 204
    assert not Target.objects.exists()


def test_admin_generated_configuration_page(browser_for, admin_user, viewer_user, replay):
    page = browser_for(admin_user).get("/admin/iscsi/target/generated-config/")
    assert page.status_code == 200 and 'id="iscsi-generated-config"' in page.content.decode()
    assert "default-driver iscsi" in page.content.decode()
    assert browser_for(viewer_user).get("/admin/iscsi/target/generated-config/").status_code == 403
    listing = browser_for(admin_user).get("/admin/iscsi/target/")
    assert "/admin/iscsi/target/generated-config/" in listing.content.decode()


def test_the_dashboard_counts_targets_and_luns(db, admin_user, browser_for, tmp_path):
    from apps.iscsi.models import Lun
    from apps.storage.choices import DatasetKind
    from apps.storage.models import Dataset, Pool

    assert "with CHAP" not in browser_for(admin_user).get("/admin/").content.decode()
    pool = Pool.objects.create(name="tank", mountpoint=str(tmp_path))
    dataset = Dataset.objects.create(pool=pool, name="tank", kind=DatasetKind.FILESYSTEM, mountpoint=str(tmp_path))
    target = Target.objects.create(name="vm", iqn="iqn.2026-12.org.calypso:vm")
    Lun.objects.create(target=target, lun=1, dataset=dataset, path=str(tmp_path / "a.img"), size_bytes=2 << 30)
    html = browser_for(admin_user).get("/admin/").content.decode()
    assert "0 with CHAP" in html and "2.0\xa0GB" in html


def test_the_target_list_names_related_objects_by_id_in_constant_queries(db, admin_user, client_for, tmp_path,
                                                                         django_assert_max_num_queries):
    from apps.iscsi.models import InitiatorGroup, Lun, Portal
    from apps.storage.choices import DatasetKind
    from apps.storage.models import Dataset, Pool

    pool = Pool.objects.create(name="tank", mountpoint=str(tmp_path))
    dataset = Dataset.objects.create(pool=pool, name="tank", kind=DatasetKind.FILESYSTEM, mountpoint=str(tmp_path))
    group = InitiatorGroup.objects.create(name="g", networks=["10.0.0.0/8"])
    portal = Portal.objects.create(address="127.0.0.1", port=3260)
    expected = {}
    for i in range(12):
        target = Target.objects.create(name=f"t{i}", iqn=f"iqn.2026-12.org.calypso:t{i}")
        target.initiator_groups.add(group)
        if i % 2:
            target.portals.add(portal)
        luns = [Lun.objects.create(target=target, lun=n, dataset=dataset, path=str(tmp_path / f"{i}-{n}"),
                                   size_bytes=1).pk for n in (1, 2)]
        expected[target.pk] = {"portals": [portal.pk] if i % 2 else [], "initiator_groups": [group.pk], "luns": luns}
    api = client_for(admin_user)
    api.get(f"{BASE}/targets/")
    with django_assert_max_num_queries(8):
        rows = api.get(f"{BASE}/targets/").json()["results"]
    assert {r["id"]: {k: r[k] for k in ("portals", "initiator_groups", "luns")} for r in rows} == expected
    one = api.get(f"{BASE}/targets/{rows[0]['id']}/").json()
    assert {k: one[k] for k in ("portals", "initiator_groups", "luns")} == expected[rows[0]["id"]]


def test_the_generated_configuration_never_shows_a_chap_secret(api, db, settings):
    settings.CALYPSO_ISCSI_BACKEND = "tgt"
    Target.objects.create(name="vm", iqn="iqn.2026-12.org.calypso:vm", chap_user="host1", chap_secret="Secret-Chap-1",
                          mutual_chap_user="target1", mutual_chap_secret="Secret-Chap-2")
    text = api.get(f"{BASE}/targets/generated-config/").json()["text"]
    assert "incominguser host1 ********" in text and "outgoinguser target1 ********" in text
    assert "Secret-Chap" not in text
