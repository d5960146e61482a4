"""Storage API input: numbers out of any database's range, ids of the wrong type and objects of the wrong
shape are each a 400 naming the field (never a 500, never a host command); a pool or dataset the user may
not see answers exactly like a missing one; and creating under a parent (a dataset in a pool, a snapshot or
a policy of a dataset, a clone in the snapshot's pool) needs the change permission on that parent."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm

from apps.core.testing.contracts import stubbed
from apps.storage import operations
from apps.storage.models import Dataset, Pool, Snapshot

pytestmark = pytest.mark.django_db

BASE = "/api/v1/storage"
MISSING = 10**9


def _refused(response, field: str) -> str:
    """The one error format, a 400 on ``field`` (or on items of it: ``ids.0``): its words."""
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    words = [w for name, ws in error.get("fields", {}).items() if name.split(".")[0] == field for w in ws]
    assert error["status"] == 400 and error["code"] == "invalid" and words, error
    return " ".join(words)


@pytest.mark.parametrize("query", [
    "snapshots/?dataset=6.1e20&pool=-1.8e16",
    "snapshots/?dataset=9223372036854775808",
    "snapshots/?pool=0",
    "snapshots/?held=maybe",
    "snapshot-policies/?dataset=6.1e20&pool=-1",
    "events/?pool=100000000000000000000",
    "events/?pool=1.5",
    "datasets/?pool=100000000000000000000",
    "datasets/?pool=1&pool=2",
    "pools/?gone=",
])
def test_a_filter_out_of_range_or_unreadable_is_a_400_naming_it(query, tank, admin_user, client_for):
    names = {part.split("=")[0] for part in query.split("?")[1].split("&")}
    response = client_for(admin_user).get(f"{BASE}/{query}")
    for name in names:
        _refused(response, name)


def test_a_hidden_pool_in_a_filter_answers_like_a_missing_one(tank, plain_user, client_for):
    assign_perm("storage.view_pool", plain_user, tank)
    assign_perm("storage.view_dataset", plain_user, Dataset.objects.get(name="zrectank/data"))
    hidden = Pool.objects.get(name="zrecbig")
    client = client_for(plain_user)
    answers = [client.get(f"{BASE}/datasets/", {"pool": pk}) for pk in (hidden.pk, MISSING)]
    assert [(a.status_code, a.json()["results"]) for a in answers] == [(200, []), (200, [])]
    assert [d["name"] for d in client.get(f"{BASE}/datasets/", {"pool": tank.pk}).json()["results"]] == \
        ["zrectank/data"]


@pytest.mark.parametrize("ids", [["x"], [10**20], [0], [1.5], [True], ["1"], [None], "x", {"1": 1}, []])
def test_bulk_delete_takes_a_list_of_ids_only(ids, tank, admin_user, client_for, replay):
    response = client_for(admin_user).post(f"{BASE}/snapshots/bulk-delete/", {"ids": ids, "confirm": "1"})
    _refused(response, "ids")
    assert Snapshot.objects.count() == 4 and replay.calls == []


@pytest.mark.parametrize("properties", ["x", ["compression=lz4"], 3, {"user:note": 3}, {"user:\x00": "x"}])
def test_clone_properties_must_be_an_object_of_text(properties, tank, admin_user, client_for, replay):
    snap = Snapshot.objects.get(name="zrectank/data@c2")
    response = client_for(admin_user).post(f"{BASE}/snapshots/{snap.pk}/clone/",
                                           {"target": "zrectank/copy", "properties": properties})
    _refused(response, "properties")
    assert replay.calls == []


def test_json_values_of_the_wrong_type_are_refused_not_converted(tank, admin_user, client_for, replay):
    client = client_for(admin_user)
    data = Dataset.objects.get(name="zrectank/data")
    _refused(client.post(f"{BASE}/snapshots/", {"dataset": str(data.pk), "name": "s9"}), "dataset")
    _refused(client.post(f"{BASE}/snapshots/", {"dataset": data.pk, "name": 9}), "name")
    _refused(client.post(f"{BASE}/snapshots/", {"dataset": data.pk, "name": "s9", "recursive": 1}), "recursive")
    _refused(client.post(f"{BASE}/pools/import/", {"name": "0" * 255}), "name")  # a pool's numeric id: 20 digits
    assert replay.calls == []


def test_an_id_too_large_in_the_path_is_a_404(tank, admin_user, client_for):
    client = client_for(admin_user)
    for url in ("pools/100000000000000000000/", "datasets/100000000000000000000/", "snapshots/9223372036854775808/",
                "snapshot-policies/100000000000000000000/", "events/100000000000000000000/"):
        response = client.get(f"{BASE}/{url}")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", url
    assert client.post(f"{BASE}/snapshots/100000000000000000000/clone/", {"target": "zrectank/x"}).status_code == 404


# ---------------------------------------------------------------- parents the user may see but not change
@pytest.fixture
def looker(tank, make_user):
    """May create datasets, snapshots and policies and clone snapshots, and sees pool zrectank and its
    dataset zrectank/data (and its snapshots); changes nothing."""
    user = make_user("looker", None)
    for perm in ("add_dataset", "add_snapshot", "add_snapshotpolicy", "clone_snapshot"):
        assign_perm(f"storage.{perm}", user)
    data = Dataset.objects.get(name="zrectank/data")
    assign_perm("storage.view_pool", user, tank)
    assign_perm("storage.view_dataset", user, data)
    for snap in data.snapshots.all():
        assign_perm("storage.view_snapshot", user, snap)
    return user


CREATES = [  # (operation, url, input naming the parent, the parent's field, the permission that lets it through)
    (operations.DATASET["create"], "datasets/", lambda pool, data: {"pool": pool.pk, "name": "zrectank/new"}, "pool",
     "change_pool"),
    (operations.SNAPSHOT["create"], "snapshots/", lambda pool, data: {"dataset": data.pk, "name": "s9"}, "dataset",
     "change_dataset"),
    (operations.POLICY["create"], "snapshot-policies/", lambda pool, data: {"dataset": data.pk, "name": "p9"},
     "dataset", "change_dataset"),
]


@pytest.mark.parametrize(("op", "url", "body", "field", "perm"), CREATES, ids=[c[1] for c in CREATES])
def test_a_parent_seen_but_not_changeable_answers_like_a_missing_one(op, url, body, field, perm, tank, looker,
                                                                     client_for, replay):
    client = client_for(looker)
    data = Dataset.objects.get(name="zrectank/data")
    given = body(tank, data)
    hidden = Pool.objects.get(name="zrecbig") if field == "pool" else Dataset.objects.get(name="zrectank/home")
    # The parent the user sees, one the user does not see, and a missing one: the same words.
    answers = {_refused(client.post(f"{BASE}/{url}", {**given, field: pk}), field).replace(str(pk), "#")
               for pk in (given[field], hidden.pk, MISSING)}
    assert len(answers) == 1, answers
    assert replay.calls == [] and not Snapshot.objects.filter(name__endswith="@s9").exists()
    # The change permission on that parent is what lets the same input through.
    assign_perm(f"storage.{perm}", looker, tank if field == "pool" else data)
    with stubbed(op) as calls:
        response = client.post(f"{BASE}/{url}", given)
    assert response.status_code == 201 and len(calls) == 1, response.content


def test_a_clone_needs_change_on_the_snapshots_pool(tank, looker, client_for, replay):
    snap = Snapshot.objects.get(name="zrectank/data@c2")
    client = client_for(looker)
    words = _refused(client.post(f"{BASE}/snapshots/{snap.pk}/clone/", {"target": "zrectank/copy"}), "target")
    assert "zrectank" in words and replay.calls == []
    assign_perm("storage.change_pool", looker, tank)
    with stubbed(operations.SNAPSHOT["clone"]) as calls:
        response = client.post(f"{BASE}/snapshots/{snap.pk}/clone/", {"target": "zrectank/copy"})
    assert response.status_code == 200 and len(calls) == 1, response.content
