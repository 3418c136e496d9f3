# Management API V3: webhook attributes, subscriptions with a public id, a user and times.
import uuid

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

import django_smartcar.simulator.models


def give_subscriptions_ids(apps, schema_editor):
    """Every existing subscription gets its own id (a unique column cannot take one default for all rows)."""
    subscription_model = apps.get_model("smartcar_simulator", "WebhookSubscription")
    for subscription in subscription_model.objects.filter(subscription_id__isnull=True):
        subscription.subscription_id = str(uuid.uuid4())
        subscription.save(update_fields=["subscription_id"])


class Migration(migrations.Migration):
    dependencies = [
        ("smartcar_simulator", "0006_api_v3"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhook",
            name="auto_subscribe",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="webhook",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="webhook",
            name="data_signals",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="webhook",
            name="error_url",
            field=models.URLField(blank=True, default="", max_length=2000),
        ),
        migrations.AddField(
            model_name="webhook",
            name="is_enabled",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="webhook",
            name="triggers",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="webhooksubscription",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="webhooksubscription",
            name="updated_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="webhooksubscription",
            name="user",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="webhook_subscriptions",
                to="smartcar_simulator.simulateduser",
            ),
        ),
        migrations.AddField(
            model_name="webhooksubscription",
            name="subscription_id",
            field=models.CharField(max_length=36, null=True),
        ),
        migrations.RunPython(give_subscriptions_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="webhooksubscription",
            name="subscription_id",
            field=models.CharField(
                default=django_smartcar.simulator.models.new_subscription_id, max_length=36, unique=True
            ),
        ),
    ]
