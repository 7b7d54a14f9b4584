"""Amazon Cognito Sync: per-identity datasets of records, synchronised across devices
(spec/cognito-sync.md). access.py: who may call, and what every operation checks first;
datasets.py: datasets, records, sync sessions and merges; outbox.py: what AWS would have sent to
SNS, Kinesis and Lambda; model.py: the service, with its pool-level operations."""
