"""How the live feed is split on RabbitMQ: channel blocks and their routing keys.

Channels in requests are 1-based; data columns are 0-based. Block b carries the 0-based
columns [b*CHANNEL_BLOCK_SIZE, (b+1)*CHANNEL_BLOCK_SIZE). The publisher sends one message per
block to LIVE_EXCHANGE with routing key `live.<b>`; a job's queue binds the blocks it covers.
"""

from __future__ import annotations

LIVE_EXCHANGE = "spectrojobs.live"
CHANNEL_BLOCK_SIZE = 256
CONTROL_ROUTING_KEY = "live.control"  # "input changed" messages; every live queue binds it


def block_of(channel: int) -> int:
    """Block index of a 1-based channel."""
    if channel < 1:
        raise ValueError(f"channel {channel} must be >= 1 (channels are 1-based)")
    return (channel - 1) // CHANNEL_BLOCK_SIZE


def blocks_for_channels(channel_min: int, channel_max: int) -> list[int]:
    """Blocks covering the inclusive 1-based channel range."""
    if channel_max < channel_min:
        raise ValueError(f"channel_max {channel_max} must be >= channel_min {channel_min}")
    return list(range(block_of(channel_min), block_of(channel_max) + 1))


def routing_key(block: int) -> str:
    return f"live.{block}"


def routing_keys_for_channels(channel_min: int, channel_max: int) -> list[str]:
    return [routing_key(b) for b in blocks_for_channels(channel_min, channel_max)] + [
        CONTROL_ROUTING_KEY
    ]
