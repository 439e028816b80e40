"""The key-management and usage API under ``/api/v1/``."""
