"""Amazon Cognito Sync: per-identity datasets of records, synchronised across devices
(spec/cognito-sync.md). access.py: who may call and what every operation checks first;
datasets.py: datasets, records and merges; model.py: the service, with push sync, streams,
events and bulk publish written to the local outbox."""
