"""Key-management and usage endpoints under ``/api/v1/``."""

urlpatterns = []
