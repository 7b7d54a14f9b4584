"""IAM and STS, as much as identity pools need: names.py (what both share), policy.py (trust
policies), iam.py (roles and access keys) and sts.py (web-identity sessions)."""
