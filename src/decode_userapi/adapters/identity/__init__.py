"""Identity back-ends: who a caller is (ID tokens shaped like AWS Cognito's)."""
