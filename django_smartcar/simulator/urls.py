app_name = "smartcar_simulator"

urlpatterns: list = []
