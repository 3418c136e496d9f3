"""The simulator's HTTP endpoints: Connect pages, token endpoint, vehicle and management APIs, control API."""
