"""Bytes <-> calls: request.py (Request, Response, error replies), caller.py (who is calling),
sigv4.py, one module per wire protocol (json11.py, query.py), and shapes.py with validate.py
(botocore's service models and their constraints)."""
