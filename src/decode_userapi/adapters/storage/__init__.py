"""File storage adapters: a local folder or an S3 bucket, both through obstore."""
