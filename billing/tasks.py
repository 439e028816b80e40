from billing.services import credits_grant_all_plans


def grant_plan_credits():
    return credits_grant_all_plans()
