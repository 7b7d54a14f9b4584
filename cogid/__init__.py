"""cogid: Amazon Cognito developer-authenticated identities, on AWS or on this machine."""

__version__ = "0.1.0"
