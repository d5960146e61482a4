# Initial schema of the storage app (pools, vdevs, datasets, snapshots, events, snapshot policies).

import apps.storage.models
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
    ]

    operations = [
        migrations.CreateModel(
            name='Pool',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('updated', models.DateTimeField(auto_now=True)),
                ('backend', models.CharField(choices=[('zfs', 'ZFS'), ('btrfs', 'Btrfs')], default='zfs', max_length=8)),
                ('name', models.CharField(max_length=255)),
                ('guid', models.CharField(blank=True, max_length=64)),
                ('health', models.CharField(choices=[('ONLINE', 'Online'), ('DEGRADED', 'Degraded'), ('FAULTED', 'Faulted'), ('OFFLINE', 'Offline'), ('UNAVAIL', 'Unavailable'), ('REMOVED', 'Removed'), ('SUSPENDED', 'Suspended'), ('UNKNOWN', 'Unknown')], default='UNKNOWN', max_length=16)),
                ('size_bytes', models.BigIntegerField(blank=True, null=True)),
                ('allocated_bytes', models.BigIntegerField(blank=True, null=True)),
                ('free_bytes', models.BigIntegerField(blank=True, null=True)),
                ('fragmentation_percent', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('capacity_percent', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('dedup_ratio', models.FloatField(blank=True, null=True)),
                ('scan_function', models.CharField(choices=[('none', 'None'), ('scrub', 'Scrub'), ('resilver', 'Resilver')], default='none', max_length=16)),
                ('scan_state', models.CharField(choices=[('none', 'Never'), ('scanning', 'Running'), ('paused', 'Paused'), ('finished', 'Finished'), ('canceled', 'Canceled')], default='none', max_length=16)),
                ('scan_percent', models.FloatField(default=0)),
                ('scan_errors', models.PositiveIntegerField(default=0)),
                ('scan_finished_at', models.DateTimeField(blank=True, null=True)),
                ('scan_text', models.TextField(blank=True)),
                ('checksum_errors', models.PositiveBigIntegerField(default=0, help_text='Sum over all devices.')),
                ('status_text', models.TextField(blank=True)),
                ('errors_text', models.TextField(blank=True)),
                ('mountpoint', models.CharField(blank=True, help_text='Btrfs: the top-level mount.', max_length=4096)),
                ('extra', models.JSONField(blank=True, default=dict)),
                ('gone', models.BooleanField(default=False, help_text='No longer reported by the host (exported or lost).')),
                ('last_seen', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'ordering': ('name',),
                'permissions': [('scrub_pool', 'Can scrub a pool'), ('export_pool', 'Can export a pool'), ('import_pool', 'Can import a pool'), ('maintain_pool', 'Can offline, online, replace, detach and add pool devices')],
                'constraints': [models.UniqueConstraint(fields=('backend', 'name'), name='storage_pool_unique_name')],
            },
            bases=(apps.storage.models.Named, models.Model),
        ),
        migrations.CreateModel(
            name='Dataset',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('updated', models.DateTimeField(auto_now=True)),
                ('name', models.CharField(max_length=1024)),
                ('kind', models.CharField(choices=[('filesystem', 'Filesystem'), ('volume', 'Volume'), ('subvolume', 'Subvolume')], default='filesystem', max_length=16)),
                ('used_bytes', models.BigIntegerField(blank=True, null=True)),
                ('available_bytes', models.BigIntegerField(blank=True, null=True)),
                ('referenced_bytes', models.BigIntegerField(blank=True, null=True)),
                ('mountpoint', models.CharField(blank=True, max_length=4096)),
                ('properties', models.JSONField(blank=True, default=dict, help_text='{name: {value, source}}')),
                ('extra', models.JSONField(blank=True, default=dict)),
                ('gone', models.BooleanField(default=False)),
                ('last_seen', models.DateTimeField(blank=True, null=True)),
                ('pool', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='datasets', to='storage.pool')),
            ],
            options={
                'ordering': ('name',),
            },
            bases=(apps.storage.models.Named, models.Model),
        ),
        migrations.CreateModel(
            name='Snapshot',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('updated', models.DateTimeField(auto_now=True)),
                ('name', models.CharField(max_length=1024)),
                ('short_name', models.CharField(db_index=True, max_length=255)),
                ('created_at', models.DateTimeField(blank=True, db_index=True, null=True)),
                ('used_bytes', models.BigIntegerField(blank=True, null=True)),
                ('referenced_bytes', models.BigIntegerField(blank=True, null=True)),
                ('holds', models.JSONField(blank=True, default=list)),
                ('userrefs', models.PositiveIntegerField(default=0)),
                ('guid', models.CharField(blank=True, max_length=64)),
                ('extra', models.JSONField(blank=True, default=dict)),
                ('dataset', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='snapshots', to='storage.dataset')),
            ],
            options={
                'ordering': ('-created_at', '-id'),
                'permissions': [('rollback_snapshot', 'Can roll a dataset back to a snapshot'), ('hold_snapshot', 'Can hold and release a snapshot'), ('clone_snapshot', 'Can clone a snapshot')],
            },
            bases=(apps.storage.models.Named, models.Model),
        ),
        migrations.CreateModel(
            name='SnapshotPolicy',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('updated', models.DateTimeField(auto_now=True)),
                ('name', models.CharField(max_length=100, unique=True)),
                ('recursive', models.BooleanField(default=False, help_text='ZFS: snapshot the whole subtree atomically (zfs snapshot -r) and prune each dataset in it.')),
                ('enabled', models.BooleanField(default=True)),
                ('naming_template', models.CharField(default='calypso_{frequency}_{time:%Y-%m-%d_%H:%M:%S}', help_text='{frequency} and {time:%Y-%m-%d_%H:%M:%S}; letters, digits, _ . : - only.', max_length=255, validators=[apps.storage.models.validate_naming_template])),
                ('frequent_count', models.PositiveIntegerField(default=0, help_text='Frequent snapshots to keep (0: none).')),
                ('frequent_period_minutes', models.PositiveSmallIntegerField(default=15, help_text='Divides a day: 5, 15, 30...')),
                ('hourly', models.PositiveIntegerField(default=36)),
                ('daily', models.PositiveIntegerField(default=30)),
                ('weekly', models.PositiveIntegerField(default=0)),
                ('monthly', models.PositiveIntegerField(default=3)),
                ('yearly', models.PositiveIntegerField(default=0)),
                ('protected_snapshots', models.JSONField(blank=True, default=list, help_text="Snapshot names (the part after @) never to prune, e.g. a replication task's incremental base.")),
                ('last_run_at', models.DateTimeField(blank=True, null=True)),
                ('last_error', models.TextField(blank=True)),
                ('next_due_at', models.DateTimeField(blank=True, help_text='Empty: due at the next beat tick.', null=True)),
                ('dataset', models.ForeignKey(help_text='ZFS dataset or Btrfs subvolume.', on_delete=django.db.models.deletion.CASCADE, related_name='snapshot_policies', to='storage.dataset')),
            ],
            options={
                'verbose_name_plural': 'snapshot policies',
                'ordering': ('name',),
                'permissions': [('run_snapshotpolicy', 'Can run a snapshot policy now')],
            },
            bases=(apps.storage.models.Named, models.Model),
        ),
        migrations.CreateModel(
            name='StorageEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('updated', models.DateTimeField(auto_now=True)),
                ('kind', models.CharField(choices=[('health_changed', 'Health changed'), ('checksum_errors', 'New checksum errors'), ('scrub_errors', 'Scrub found errors'), ('capacity_80', 'Capacity above 80 %'), ('capacity_90', 'Capacity above 90 %'), ('pool_gone', 'Pool disappeared'), ('pool_appeared', 'Pool appeared')], max_length=32)),
                ('severity', models.CharField(choices=[('info', 'Info'), ('warning', 'Warning'), ('critical', 'Critical')], default='info', max_length=10)),
                ('message', models.TextField()),
                ('details', models.JSONField(blank=True, default=dict)),
                ('time', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('acknowledged', models.BooleanField(default=False)),
                ('pool', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='events', to='storage.pool')),
            ],
            options={
                'ordering': ('-time', '-id'),
            },
        ),
        migrations.CreateModel(
            name='Vdev',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=1024)),
                ('kind', models.CharField(max_length=16)),
                ('role', models.CharField(choices=[('data', 'Data'), ('log', 'Log'), ('cache', 'Cache'), ('spare', 'Spare'), ('special', 'Special'), ('dedup', 'Dedup')], default='data', max_length=8)),
                ('state', models.CharField(choices=[('ONLINE', 'Online'), ('DEGRADED', 'Degraded'), ('FAULTED', 'Faulted'), ('OFFLINE', 'Offline'), ('UNAVAIL', 'Unavailable'), ('REMOVED', 'Removed'), ('AVAIL', 'Available (spare)'), ('INUSE', 'In use (spare)'), ('UNKNOWN', 'Unknown')], default='UNKNOWN', max_length=16)),
                ('read_errors', models.PositiveBigIntegerField(default=0)),
                ('write_errors', models.PositiveBigIntegerField(default=0)),
                ('checksum_errors', models.PositiveBigIntegerField(default=0)),
                ('note', models.CharField(blank=True, max_length=255)),
                ('position', models.PositiveIntegerField(default=0)),
                ('parent', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='children', to='storage.vdev')),
                ('pool', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='vdevs', to='storage.pool')),
            ],
            options={
                'ordering': ('pool', 'position'),
            },
            bases=(apps.storage.models.Named, models.Model),
        ),
        migrations.AddConstraint(
            model_name='dataset',
            constraint=models.UniqueConstraint(fields=('pool', 'name'), name='storage_dataset_unique_name'),
        ),
        migrations.AddIndex(
            model_name='snapshot',
            index=models.Index(fields=['dataset', '-created_at'], name='storage_sna_dataset_1958bf_idx'),
        ),
        migrations.AddConstraint(
            model_name='snapshot',
            constraint=models.UniqueConstraint(fields=('dataset', 'name'), name='storage_snapshot_unique_name'),
        ),
    ]
