"""Subscribes to local messages from other components (SubscribeToTopic) and prints each one until stopped.

Usage: subscribe_to_topic.py [TOPIC]   (default: test/topic)
"""
import sys
import threading
import traceback

from ggipc.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from ggipc.greengrasscoreipc.model import SubscriptionResponseMessage, UnauthorizedError


def main():
    topic = sys.argv[1] if len(sys.argv) > 1 else "test/topic"
    closed = threading.Event()

    def on_stream_error(error: Exception) -> bool:
        print("Received a stream error.", file=sys.stderr)
        traceback.print_exception(type(error), error, error.__traceback__)
        return False  # Return True to close the stream, False to keep it open.

    def on_stream_closed() -> None:
        print("Subscribe to topic stream closed.")
        closed.set()

    try:
        ipc_client = GreengrassCoreIPCClientV2()
        _, operation = ipc_client.subscribe_to_topic(
            topic=topic,
            on_stream_event=on_stream_event,
            on_stream_error=on_stream_error,
            on_stream_closed=on_stream_closed,
        )
        print("Successfully subscribed to topic: " + topic, flush=True)
        # Keep the main thread alive, or the process will exit; the handlers run on another thread.
        try:
            closed.wait()
        except KeyboardInterrupt:
            print("Subscribe interrupted.")
        operation.close()
        ipc_client.close()
    except UnauthorizedError:
        print("Unauthorized error while subscribing to topic: " + topic, file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
    except Exception:
        print("Exception occurred when using IPC.", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)


def on_stream_event(event: SubscriptionResponseMessage) -> None:
    try:
        if event.binary_message is not None:
            message = str(event.binary_message.message, "utf-8")
            topic = event.binary_message.context.topic
            print("Received new message on topic %s: %s" % (topic, message), flush=True)
        elif event.json_message is not None:
            message = event.json_message.message
            topic = event.json_message.context.topic
            print("Received new JSON message on topic %s: message=%s" % (topic, message.get("message")), flush=True)
    except Exception:
        traceback.print_exc()


if __name__ == "__main__":
    main()
