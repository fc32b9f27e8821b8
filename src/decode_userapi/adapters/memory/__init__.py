"""In-memory adapters of every port that keeps state: for tests, here and in other
projects (`decode_userapi.testing` builds the app on them). Selected by configuration:
`FILESYSTEM=memory`, `WORKERFACING_API_URL=memory://`, `EMAIL_SENDER_SERVICE=memory`.
"""
