"""Argon2 with tiny costs, so that tests which create many users stay fast.

Still the Argon2 hasher (hashes start ``argon2$``), only cheaper; production uses Django's
default costs.
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 64
    parallelism = 1
