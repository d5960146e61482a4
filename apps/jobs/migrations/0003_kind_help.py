# Job.kind names follow app.model.verb.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0002_dotted_names'),
    ]

    operations = [
        migrations.AlterField(
            model_name='job',
            name='kind',
            field=models.CharField(db_index=True, help_text='app.model.verb, e.g. storage.pool.scrub (the operation that queued it).', max_length=64),
        ),
    ]
