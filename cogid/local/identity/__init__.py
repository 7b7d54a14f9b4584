"""Amazon Cognito Identity: pool.py (the records and constants other services share), model.py
(one method per operation) and federation.py (verifying external logins)."""
