"""The app's rules, each in one place. Views, admin actions, tasks, the REST API and commands call these.

- ``tokens``: token access (lazy refresh under a row lock) and rotation.
- ``connect``: Connect URLs, ``state`` checking, and turning a callback into an account.
- ``vehicles``: vehicle sync, data refresh (one batch request per vehicle) and the newer-data-wins rule.
- ``commands``: lock, unlock and charge, each with an audit row.
- ``clients``: the configured Smartcar client objects, sharing one pooled HTTP session.
"""
