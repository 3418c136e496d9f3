"""django-smartcar: connect your Django users' cars through Smartcar."""

__version__ = "0.1.0"
