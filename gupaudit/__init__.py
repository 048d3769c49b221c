"""gupaudit: audit a Linux kernel tree for get_user_pages() sites that should pin."""

__version__ = "0.1.0"
