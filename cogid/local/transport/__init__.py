"""How a request gets in: inprocess.py (botocore's requests answered in this process),
direct.py (the boto3-free client) and server.py (`cogid serve`: HTTP, SigV4-checked)."""
