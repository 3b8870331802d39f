"""Job ids (design §3) and the live feed's channel blocks."""

import pytest

from glue.errors import InvalidJobId
from glue.ids import make_job_id, parse_job_id
from glue.labels import job_labels, owner_hash
from streamer.blocks import CHANNEL_BLOCK_SIZE, blocks_for_channels, routing_keys_for_channels


def test_job_id_round_trip():
    job_id = make_job_id(12)
    assert parse_job_id(job_id) == (12, job_id.split("-")[1])
    assert parse_job_id("0-00001") == (0, "00001")


@pytest.mark.parametrize("bad", ["12", "12-7078", "012-70788", "30-70788", "a-12345", "1-123456", None, 12])
def test_bad_job_ids_name_the_value_and_the_rule(bad):
    with pytest.raises(InvalidJobId) as error:
        parse_job_id(bad)
    assert repr(bad) in str(error.value)


def test_owner_label_is_a_hash_not_the_identity():
    labels = job_labels("3-12345", 3, "alice@example.org", "stream", "live")
    assert labels["spectrojobs.io/owner"] == owner_hash("alice@example.org")
    assert len(labels["spectrojobs.io/owner"]) == 16 and "alice" not in labels["spectrojobs.io/owner"]
    assert labels["app"] == "grpc-job-3-12345" and labels["spectrojobs.io/window"] == "3"


def test_blocks_cover_exactly_the_channels():
    assert blocks_for_channels(1, CHANNEL_BLOCK_SIZE) == [0]
    assert blocks_for_channels(CHANNEL_BLOCK_SIZE, CHANNEL_BLOCK_SIZE + 1) == [0, 1]
    assert blocks_for_channels(1, 2222) == list(range(9))
    assert routing_keys_for_channels(300, 300) == ["live.1", "live.control"]
    with pytest.raises(ValueError, match="channel 0"):
        blocks_for_channels(0, 5)
