# The data half of 0006, in a migration of its own: on PostgreSQL, rows updated in the migration that adds
# ``last_command`` would leave pending constraint triggers, and its index could not be created after them.

from django.db import migrations
from django.db.models import OuterRef, Subquery

# Stored as 0-1 fractions (Smartcar's v2 convention) before this migration, as 0-100 percents after it.
PERCENT_FIELDS = ("fuel_percent_remaining", "battery_percent_remaining", "oil_life_remaining")
CHUNK = 1000


def _scale(apps, schema_editor, convert):
    Vehicle = apps.get_model("django_smartcar", "Vehicle")
    vehicles = Vehicle.objects.using(schema_editor.connection.alias).only("pk", *PERCENT_FIELDS).order_by("pk")
    batch = []
    for vehicle in vehicles.iterator(chunk_size=CHUNK):
        for name in PERCENT_FIELDS:
            value = getattr(vehicle, name)
            if value is not None:
                setattr(vehicle, name, convert(value))
        batch.append(vehicle)
        if len(batch) == CHUNK:
            Vehicle.objects.using(schema_editor.connection.alias).bulk_update(batch, PERCENT_FIELDS)
            batch = []
    if batch:
        Vehicle.objects.using(schema_editor.connection.alias).bulk_update(batch, PERCENT_FIELDS)


def fractions_to_percents(apps, schema_editor):
    _scale(apps, schema_editor, lambda fraction: round(fraction * 100, 6))


def percents_to_fractions(apps, schema_editor):
    _scale(apps, schema_editor, lambda percent: round(percent / 100, 8))


def set_last_commands(apps, schema_editor):
    Vehicle = apps.get_model("django_smartcar", "Vehicle")
    VehicleCommand = apps.get_model("django_smartcar", "VehicleCommand")
    latest = VehicleCommand.objects.filter(vehicle=OuterRef("pk")).order_by("-requested_at", "-pk")
    Vehicle.objects.using(schema_editor.connection.alias).update(last_command=Subquery(latest.values("pk")[:1]))


class Migration(migrations.Migration):

    dependencies = [
        ('django_smartcar', '0006_vehicle_percents_and_last_command'),
    ]

    operations = [
        migrations.RunPython(fractions_to_percents, percents_to_fractions),
        migrations.RunPython(set_last_commands, migrations.RunPython.noop),
    ]
