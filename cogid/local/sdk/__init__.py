"""What an AWS SDK does on the client side, without botocore: validate a call's parameters
(params), write the request (serialize), read the reply (parse) and page (paging), each as
botocore does it, for the boto3-free client in transport/inprocess.py."""
