"""Fan-out: a slow client loses its oldest rows and is told how many; others get everything."""

from __future__ import annotations

from streamer.fanout import ClientQueue, Fanout


def test_a_full_queue_drops_the_oldest_and_counts():
    q = ClientQueue(stream_id=-1, maxlen=3)
    for i in range(5):
        q.put(bytes([i]))
    assert q.dropped == 2
    assert [q.get(0), q.get(0), q.get(0), q.get(0)] == [b"\x02", b"\x03", b"\x04", None]
    assert q.sent == 3


def test_slow_client_never_holds_back_a_fast_one():
    fan = Fanout(queue_rows=4)
    slow, fast = fan.subscribe(-1), fan.subscribe(-1)
    got = []
    for i in range(100):
        fan.publish({-1: bytes([i])})
        got.append(fast.get(0))
    assert got == [bytes([i]) for i in range(100)] and fast.dropped == 0
    assert slow.dropped == 96 and slow.get(0) == bytes([96])
    assert fan.totals() == (101, 96)


def test_rows_go_only_to_clients_of_their_stream():
    fan = Fanout()
    a, b = fan.subscribe(0), fan.subscribe(1)
    fan.publish({0: b"zero"})
    assert (a.get(0), b.get(0)) == (b"zero", None)
    assert fan.stream_ids() == {0, 1}


def test_finish_ends_clients_after_they_drained_and_leaving_keeps_totals():
    fan = Fanout()
    q = fan.subscribe(-1)
    fan.publish({-1: b"x"})
    fan.finish()
    assert not q.exhausted
    assert q.get(0) == b"x" and q.get(0.01) is None and q.exhausted
    fan.unsubscribe(q)
    assert fan.n_clients == 0 and fan.clients_seen == 1 and fan.totals() == (1, 0)
    assert fan.subscribe(-1).exhausted  # a client joining after the end gets the end at once
