"""Developer Settings: the pages where an organization manages its API keys.

Thin views over ``apikeys.services`` (every change, with the person as the actor and the
audit row written by the service) and ``apikeys.selectors`` (every read, scoped to the
current organization).
"""
