"""Identity back-ends (local, AWS Cognito): who a caller is, from Cognito-shaped ID tokens."""
