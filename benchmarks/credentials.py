"""Benchmark-only credentials of the simulated Smartcar application; they exist nowhere else."""

CLIENT_ID = "bench-client-id"
CLIENT_SECRET = "bench-client-secret"
MANAGEMENT_TOKEN = "bench-management-token"
REDIRECT_URI = "http://127.0.0.1:9/callback"
API_CLIENT_ID = "bench-api-client-id"
API_CLIENT_SECRET = "bench-api-client-secret"
