"""cogid in your own test suite: the local Cognito Identity, Cognito Sync, STS and IAM, with real
RS512 tokens and AWS's rules, for the code under test.

- `mock_cognito()`: a decorator and context manager under which every boto3/botocore client of
  those four services in the process is served in-process by a fresh backend (moto's `mock_aws`
  is the model; other services pass through, to moto if it is active).
- The pytest plugin (cogid.testing.plugin): fixtures `cogid_local`, `cogid_server`, `cogid_env`.
- `jwks()`: the JWKS that verifies every token the test backends of this process sign.

Names are imported on first use: pytest imports the plugin, and so this package, at every start
wherever cogid is installed, which must cost nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what __getattr__ gives, for type checkers
    from cogid.testing._keys import SetupError as SetupError
    from cogid.testing._keys import jwks as jwks
    from cogid.testing.backend import DEVELOPER_PROVIDER as DEVELOPER_PROVIDER
    from cogid.testing.backend import Backend as Backend
    from cogid.testing.backend import Clock as Clock
    from cogid.testing.mock import MockCognito as MockCognito
    from cogid.testing.mock import MockConflict as MockConflict
    from cogid.testing.mock import current_backend as current_backend
    from cogid.testing.mock import mock_cognito as mock_cognito
    from cogid.testing.server import Server as Server

_WHERE = {
    "SetupError": "_keys",
    "jwks": "_keys",
    "DEVELOPER_PROVIDER": "backend",
    "Backend": "backend",
    "Clock": "backend",
    "MockCognito": "mock",
    "MockConflict": "mock",
    "current_backend": "mock",
    "mock_cognito": "mock",
    "Server": "server",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'cogid.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(f"cogid.testing.{_WHERE[name]}"), name)
