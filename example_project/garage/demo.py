"""The demo's fixed cast: the site user to sign in as, and the simulated cars waiting in Connect.

Used by ``manage.py rundemo``; the sign-in page shows the credentials while the simulator is installed.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model

from django_smartcar.conf import smartcar_settings

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo"
DEMO_DRIVER_EMAIL = "driver@example.com"

# (make, how many): seeded deterministically, so a restarted demo finds the same cars. Teslas are electric,
# the Toyota and the BMW run on fuel (see the simulator's catalogue).
DEMO_CARS = (("TESLA", 2), ("TOYOTA", 1), ("BMW", 1))


def simulator_installed() -> bool:
    return "django_smartcar.simulator" in settings.INSTALLED_APPS


def prepare_simulator() -> None:
    """Register this site with the bundled simulator as a Smartcar application and seed the demo cars."""
    from django_smartcar.simulator.seeding import register_application, seed_vehicles

    register_application(
        smartcar_settings.CLIENT_ID,
        smartcar_settings.CLIENT_SECRET,
        [smartcar_settings.REDIRECT_URI],
        management_token=smartcar_settings.MANAGEMENT_TOKEN,
        name="django-smartcar demo",
        # API V3's credentials: the application token that V3 connections are reached with.
        api_client_id=smartcar_settings.API_CLIENT_ID,
        api_client_secret=smartcar_settings.API_CLIENT_SECRET,
    )
    for make, count in DEMO_CARS:
        seed_vehicles(count, seed=1, email=DEMO_DRIVER_EMAIL, make=make)


def ensure_demo_user() -> None:
    """The demo's superuser (it may use the admin and its actions); an existing one is left as it is."""
    user, created = get_user_model().objects.get_or_create(
        username=DEMO_USERNAME,
        defaults={"is_staff": True, "is_superuser": True, "email": "demo@example.com"},
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
