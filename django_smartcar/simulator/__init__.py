"""A faithful local Smartcar: Connect pages, token endpoint, vehicle and management APIs, webhooks."""
