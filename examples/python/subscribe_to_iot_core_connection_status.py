"""Follows the nucleus' connection to AWS IoT Core (SubscribeToIoTCoreConnectionStatus): prints the current
status, then each change, until stopped."""
import sys
import threading
import traceback

from ggipc.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from ggipc.greengrasscoreipc.model import IoTCoreConnectionStatusEvent

# The first event arrives on the handler thread while the main thread may still be printing: print() writes
# the text and the newline separately, so each line is printed under one lock to keep lines whole.
_output_lock = threading.Lock()


def say(text: str) -> None:
    with _output_lock:
        print(text, flush=True)


def on_stream_event(event: IoTCoreConnectionStatusEvent) -> None:
    status = event.connection_status_event.status if event.connection_status_event else None
    say("IoT Core connection status: %s" % status)


def main():
    closed = threading.Event()

    def on_stream_error(error: Exception) -> bool:
        with _output_lock:
            print("Received a stream error.", file=sys.stderr)
            traceback.print_exception(type(error), error, error.__traceback__)
        return False  # Return True to close the stream, False to keep it open.

    def on_stream_closed() -> None:
        say("Connection status stream closed.")
        closed.set()

    try:
        ipc_client = GreengrassCoreIPCClientV2()
        _, operation = ipc_client.subscribe_to_iot_core_connection_status(
            on_stream_event=on_stream_event,
            on_stream_error=on_stream_error,
            on_stream_closed=on_stream_closed,
        )
        say("Successfully subscribed to the IoT Core connection status")
        try:
            closed.wait()
        except KeyboardInterrupt:
            say("Subscribe interrupted.")
        operation.close()
        ipc_client.close()
    except Exception:
        print("Exception occurred when using IPC.", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)


if __name__ == "__main__":
    main()
