from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('django_smartcar', '0004_command_retry_after'),
    ]

    operations = [
        migrations.AddField(
            model_name='smartcaraccount',
            name='token_exchange_started_at',
            field=models.DateTimeField(blank=True, db_index=True, editable=False, null=True),
        ),
    ]
