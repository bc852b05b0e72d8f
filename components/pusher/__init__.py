"""VersionedPusher: the atomic, versioned filesystem push of blessed models."""

from components.pusher.component import VersionedPusher

__all__ = ["VersionedPusher"]
