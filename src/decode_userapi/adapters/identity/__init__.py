"""Who a caller is: the local identity provider and AWS Cognito."""
