#!/usr/bin/python
"""A job's live queue on RabbitMQ: declare (bound to its channel blocks), inspect, delete."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.spectrojobs_amqp import HAS_PIKA, AMQPError, Broker, ChannelClosedByBroker
from ansible.module_utils.spectrojobs_common import queue_arguments

DOCUMENTATION = r"""
module: spectrojobs_queue
short_description: Manage the live RabbitMQ queue of a spectrogram job
description:
  - C(present) declares the queue with C(x-expires), C(x-max-length) and C(x-overflow=drop-head)
    and binds it to the topic exchange O(exchange) (declared durable) with O(routing_keys), or
    with the channel-block keys of O(channel_min)..O(channel_max) (streamer.blocks).
  - C(absent) deletes the queue; a missing queue counts as deleted.
  - C(info) reports whether the queue exists, its depth and consumers; without O(name) it only
    checks that the broker answers and whether the exchange exists.
  - C(changed) is true only when the queue is created or deleted. Check mode changes nothing.
  - O(names) handles several queues over one connection (C(absent) or C(info)); the cleanup of
    many jobs then costs one module run instead of one per job.
options:
  url: {description: AMQP URL (never logged)., type: str, required: true}
  name: {description: Queue name., type: str, default: ""}
  names: {description: Several queue names (state absent or info; not with O(name))., type: list, elements: str, default: []}
  state: {description: Desired state., type: str, choices: [present, absent, info], default: present}
  exchange: {description: Topic exchange of the live feed., type: str, default: spectrojobs.live}
  routing_keys: {description: Binding keys; empty derives them from the channel range., type: list, elements: str, default: []}
  channel_min: {description: First 1-based channel., type: int}
  channel_max: {description: Last 1-based channel., type: int}
  expires_ms: {description: x-expires of the queue in ms., type: int, default: 600000}
  max_length: {description: x-max-length of the queue in messages., type: int, default: 256}
  connect_timeout: {description: Connection timeout in seconds., type: float, default: 5}
author: spectrojobs
"""

EXAMPLES = r"""
- name: Declare a live queue
  spectrojobs_queue:
    url: "{{ broker_queue_amqp_url }}"
    name: grpc-job-3-01234-live
    channel_min: 1
    channel_max: 600
"""

RETURN = r"""
exists: {description: Whether the queue exists after the call (before, in check mode)., returned: always, type: bool}
messages: {description: Ready messages in the queue., returned: when the queue exists, type: int}
consumers: {description: Consumers of the queue., returned: when the queue exists, type: int}
routing_keys: {description: The binding keys used., returned: state=present, type: list}
queues:
  description: With O(names), per queue - name, changed, exists (and messages, consumers when it exists).
  returned: when O(names) is given
  type: list
"""

def routing_keys(params):
    if params["routing_keys"]:
        return list(params["routing_keys"])
    if params["channel_min"] is None or params["channel_max"] is None:
        raise ValueError("routing_keys or both channel_min and channel_max are required for state=present")
    from streamer.blocks import routing_keys_for_channels

    return routing_keys_for_channels(params["channel_min"], params["channel_max"])


def run_many(module, broker):
    """state absent or info for each of params["names"], over the one connection."""
    queues = []
    for name in module.params["names"]:
        params = dict(module.params, name=name)
        queues.append(dict(run_one(params, broker, module.check_mode), name=name))
    return dict(changed=any(q["changed"] for q in queues), queues=queues)


def run(module, broker):
    params = module.params
    if params["names"]:
        if params["name"] or params["state"] == "present":
            module.fail_json(msg="names={} is for state absent or info without name (got state={}, name={!r})".format(
                params["names"], params["state"], params["name"]), reason="Invalid:names")
        return run_many(module, broker)
    name = params["name"]
    if params["state"] == "info" and not name:
        return dict(changed=False, exists=False, broker_ok=True, exchange_exists=broker.exchange_exists(params["exchange"]))
    if not name:
        module.fail_json(msg="name is required for state={}".format(params["state"]))
    return run_one(params, broker, module.check_mode)


def run_one(params, broker, check_mode):
    name, state = params["name"], params["state"]
    before = broker.passive_queue(name)
    result = dict(changed=False, exists=before is not None)
    if before is not None:
        result.update(messages=before[0], consumers=before[1])
    if state == "info":
        return result
    if state == "absent":
        if before is not None and not check_mode:
            broker.channel.queue_delete(queue=name)
        return dict(result, changed=before is not None, exists=before is not None and check_mode)
    keys = routing_keys(params)
    result.update(routing_keys=keys, changed=before is None)
    if check_mode:
        return result
    arguments = queue_arguments(params["expires_ms"], params["max_length"])
    broker.channel.exchange_declare(exchange=params["exchange"], exchange_type="topic", durable=True)
    broker.channel.queue_declare(queue=name, durable=False, arguments=arguments)
    for key in keys:
        broker.channel.queue_bind(queue=name, exchange=params["exchange"], routing_key=key)
    return dict(result, exists=True)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True, no_log=True),
            name=dict(type="str", default=""),
            names=dict(type="list", elements="str", default=[]),
            state=dict(type="str", choices=["present", "absent", "info"], default="present"),
            exchange=dict(type="str", default="spectrojobs.live"),
            routing_keys=dict(type="list", elements="str", default=[], no_log=False),
            channel_min=dict(type="int"),
            channel_max=dict(type="int"),
            expires_ms=dict(type="int", default=600000),
            max_length=dict(type="int", default=256),
            connect_timeout=dict(type="float", default=5),
        ),
        supports_check_mode=True,
    )
    if not HAS_PIKA:
        module.fail_json(msg="the pika Python package is required")
    try:
        broker = Broker(module.params["url"], module.params["connect_timeout"])
    except AMQPError as exc:
        module.fail_json(msg=f"broker unreachable: {type(exc).__name__}", reason="BrokerUnreachable")
    try:
        result = run(module, broker)
    except ChannelClosedByBroker as exc:
        module.fail_json(msg=f"broker refused: {exc.reply_code} {exc.reply_text}", reason="BrokerError")
    except ValueError as exc:
        module.fail_json(msg=str(exc), reason="Invalid:channels")
    finally:
        broker.close()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
