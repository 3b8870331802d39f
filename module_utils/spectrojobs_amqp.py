"""RabbitMQ access for the spectrojobs modules: one blocking connection, passive checks that
answer None/False on 404 instead of leaving a closed channel behind."""

from __future__ import annotations

try:
    import pika
    from pika.exceptions import AMQPError, ChannelClosedByBroker

    HAS_PIKA = True
except ImportError:  # reported by the module through fail_json
    HAS_PIKA = False
    AMQPError = ChannelClosedByBroker = Exception


class Broker:
    """One blocking connection; a channel closed by a passive 404 is reopened."""

    def __init__(self, url, timeout):
        parameters = pika.URLParameters(url)
        parameters.socket_timeout = timeout
        parameters.blocked_connection_timeout = timeout
        parameters.connection_attempts = 1
        self.connection = pika.BlockingConnection(parameters)
        self.channel = self.connection.channel()

    def close(self):
        if self.connection.is_open:
            self.connection.close()

    def passive_queue(self, name):
        """(messages, consumers) or None when the queue does not exist."""
        try:
            ok = self.channel.queue_declare(queue=name, passive=True)
        except ChannelClosedByBroker as exc:
            if exc.reply_code != 404:
                raise
            self.channel = self.connection.channel()
            return None
        return ok.method.message_count, ok.method.consumer_count

    def exchange_exists(self, name):
        try:
            self.channel.exchange_declare(exchange=name, passive=True)
        except ChannelClosedByBroker as exc:
            if exc.reply_code != 404:
                raise
            self.channel = self.connection.channel()
            return False
        return True

    def delete_queue(self, name, check_mode=False):
        """True when the queue existed (and, outside check mode, is now deleted)."""
        if self.passive_queue(name) is None:
            return False
        if not check_mode:
            self.channel.queue_delete(queue=name)
        return True
