"""Evaluate alert rules and deliver their firings by email, signed webhook or Slack.

A rule's windows are aligned to multiples of ``window_minutes`` since the Unix epoch (UTC), so
"once per rule and window" has one meaning for every evaluator: the ``AlertDelivery`` row's
unique ``(rule, window_start)`` lets exactly one of several concurrent evaluators record a
firing. Usage rules look at the running window and fire as soon as it crosses the threshold;
``key_expiring`` rules use one-day windows, so a warning repeats daily until the key is renewed.

A firing's ``AlertDelivery`` is an outbox row of the webhooks engine (``webhooks.delivery``):
claimed, retried on ``WEBHOOKS_RETRY_SCHEDULE_SECONDS`` and recorded like a job webhook, one
worker at a time per rule; ``alerts.channels`` sends one attempt by the rule's channel.

The app sits above ``jobs`` and ``webhooks``: spend rules read ``jobs`` figures directly
(``alerts.spend``).
"""
