"""Follows the nucleus' connection to AWS IoT Core (SubscribeToIoTCoreConnectionStatus): prints the current
status, then each change, until stopped."""
import sys
import threading
import traceback

from ggipc.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from ggipc.greengrasscoreipc.model import IoTCoreConnectionStatusEvent


def on_stream_event(event: IoTCoreConnectionStatusEvent) -> None:
    status = event.connection_status_event.status if event.connection_status_event else None
    print("IoT Core connection status: %s" % status, flush=True)


def main():
    closed = threading.Event()

    def on_stream_error(error: Exception) -> bool:
        print("Received a stream error.", file=sys.stderr)
        traceback.print_exception(type(error), error, error.__traceback__)
        return False  # Return True to close the stream, False to keep it open.

    def on_stream_closed() -> None:
        print("Connection status stream closed.")
        closed.set()

    try:
        ipc_client = GreengrassCoreIPCClientV2()
        _, operation = ipc_client.subscribe_to_iot_core_connection_status(
            on_stream_event=on_stream_event,
            on_stream_error=on_stream_error,
            on_stream_closed=on_stream_closed,
        )
        print("Successfully subscribed to the IoT Core connection status", flush=True)
        try:
            closed.wait()
        except KeyboardInterrupt:
            print("Subscribe interrupted.")
        operation.close()
        ipc_client.close()
    except Exception:
        print("Exception occurred when using IPC.", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)


if __name__ == "__main__":
    main()
