"""The embedded Redis is a real server that other clients reach by URL and that leaves no files behind."""

from __future__ import annotations

import pytest
import redis

from zerosearch.common.connection import EmbeddedRedis, connect, redis_connection
from zerosearch.common.errors import RedisUnavailableError


def test_embedded_redis_serves_other_clients_and_cleans_up() -> None:
    server = EmbeddedRedis().start()
    folder = server._dir
    assert folder is not None and folder.is_dir()
    other = redis.Redis.from_url(server.url)
    other.set("k", "v")
    assert connect(server.url).get("k") == b"v"
    other.close()
    server.stop()
    assert not folder.exists()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(server.url).ping()
    server.stop()  # twice is fine


def test_redis_connection_without_url_starts_and_stops_embedded() -> None:
    with redis_connection(None) as conn:
        assert conn.ping()
        url = f"redis://127.0.0.1:{conn.connection_pool.connection_kwargs['port']}/0"
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url).ping()


def test_unreachable_redis_url_names_the_url() -> None:
    with pytest.raises(RedisUnavailableError, match=r"127\.0\.0\.1:1"):
        connect("redis://127.0.0.1:1/0")
