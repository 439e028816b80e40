"""People: sign-in (django-allauth), two-factor, sessions, passwords and invitations.

Sign-in is by email address; there is no public sign-up (operators create people). Failed
sign-ins are limited per account (the address typed, whether or not it exists) and per client
IP; once over, the right password is refused too until the window has passed.
"""

from perceptis.settings.base import env
from perceptis.settings.security import TRUSTED_PROXY_COUNT

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["allauth.account.auth_backends.AuthenticationBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "developer-settings"
LOGOUT_REDIRECT_URL = "account_login"

ACCOUNT_ADAPTER = "accounts.signin.AccountAdapter"
ACCOUNT_FORMS = {"login": "accounts.forms.LoginForm"}
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
# How recent a password or two-factor code must be to create or rotate a key.
REAUTHENTICATION_TIMEOUT_SECONDS = env.int("REAUTHENTICATION_TIMEOUT_SECONDS", default=600)
ACCOUNT_REAUTHENTICATION_TIMEOUT = REAUTHENTICATION_TIMEOUT_SECONDS
SIGNIN_FAILURES_PER_ACCOUNT = env.int("SIGNIN_FAILURES_PER_ACCOUNT", default=5)
SIGNIN_FAILURES_PER_IP = env.int("SIGNIN_FAILURES_PER_IP", default=20)
SIGNIN_FAILURE_WINDOW_SECONDS = env.int("SIGNIN_FAILURE_WINDOW_SECONDS", default=15 * 60)
ACCOUNT_RATE_LIMITS = {
    "login_failed": (
        f"{SIGNIN_FAILURES_PER_IP}/{SIGNIN_FAILURE_WINDOW_SECONDS}s/ip,"
        f"{SIGNIN_FAILURES_PER_ACCOUNT}/{SIGNIN_FAILURE_WINDOW_SECONDS}s/key"
    ),
    "login": "30/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reauthenticate": "10/m/user",
}
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT

MFA_ADAPTER = "accounts.signin.MfaAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Perceptis"
MFA_RECOVERY_CODE_COUNT = 10
# A code from the period before or after the server's is accepted (RFC 6238's allowance for a
# code typed as its period ends, or a phone's clock a little off); each code works once.
MFA_TOTP_TOLERANCE = 1
USERSESSIONS_TRACK_ACTIVITY = False

# Idle timeout: the session is saved on every request and expires this long after the last
# one. The absolute lifetime is SessionLifetimeMiddleware's. (Cookie names: security.py.)
SESSION_IDLE_TIMEOUT_SECONDS = env.int("SESSION_IDLE_TIMEOUT_SECONDS", default=3600)
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT_SECONDS
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = False
SESSION_ABSOLUTE_LIFETIME_SECONDS = env.int("SESSION_ABSOLUTE_LIFETIME_SECONDS", default=12 * 3600)

# Days an emailed invitation to an organization stays valid.
ACCOUNTS_INVITATION_DAYS = env.int("ACCOUNTS_INVITATION_DAYS", default=7)
