"""Evaluate alert rules and deliver their firings by email, signed webhook or Slack.

A rule's windows are aligned to multiples of ``window_minutes`` since the Unix epoch (UTC), so
"once per rule and window" has one meaning for every evaluator: the ``AlertDelivery`` row's
unique ``(rule, window_start)`` lets exactly one of several concurrent evaluators record a
firing. Usage rules look at the running window and fire as soon as it crosses the threshold;
``key_expiring`` rules use one-day windows, so a warning repeats daily until the key is renewed.

A delivery is claimed with a conditional UPDATE that counts the attempt and sets the time of
the next one (exponential backoff), so a worker that dies mid-send leaves it due again, and two
workers never send the same attempt. After ``APIKEYS_ALERT_MAX_ATTEMPTS`` it is ``failed``.
"""
