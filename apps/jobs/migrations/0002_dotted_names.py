"""Job kinds and audit actions follow one pattern, ``app.model.verb``: rename the older ones."""

from django.db import migrations

RENAMED = {
    "storage.scrub": "storage.pool.scrub",
    "storage.sync": "storage.pool.sync",
    "storage.pool.destroy": "storage.pool.delete",
    "storage.policy.run": "storage.snapshotpolicy.run",
    "system.inventory": "system.hostinventory.collect",
    "accounts.apitoken.revoke": "accounts.apitoken.delete",
}


def rename(apps, names: dict[str, str]) -> None:
    for model, field in (("jobs.Job", "kind"), ("audit.AuditEvent", "action")):
        manager = apps.get_model(model)._base_manager  # the historical manager: audit rows may be renamed here
        for old, new in names.items():
            manager.filter(**{field: old}).update(**{field: new})


class Migration(migrations.Migration):
    dependencies = [("jobs", "0001_initial"), ("audit", "0001_initial")]

    operations = [
        migrations.RunPython(lambda apps, schema: rename(apps, RENAMED),
                             lambda apps, schema: rename(apps, {new: old for old, new in RENAMED.items()})),
    ]
