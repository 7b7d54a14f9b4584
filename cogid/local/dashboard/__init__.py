"""The browser dashboard `cogid serve` serves under /_cogid/: pools, identities and their logins,
Cognito Sync's datasets and records, a token inspector, the Sync outbox and the recent requests.

views.py reads what a page shows from the service's store (store/browse.py has its SQL);
pages.py routes, renders (templates/, static/) and guards; recent.py is the request log that
the server's worker processes share.
"""
