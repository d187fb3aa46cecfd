"""Publishes a local message to other components (PublishToTopic), as bytes and as JSON.

Usage: publish_to_topic.py [TOPIC] [MESSAGE]   (default: test/topic "Hello, World!")
"""
import sys
import traceback

from ggipc.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from ggipc.greengrasscoreipc.model import (
    BinaryMessage,
    JsonMessage,
    PublishMessage,
)


def main():
    topic = sys.argv[1] if len(sys.argv) > 1 else "test/topic"
    message = sys.argv[2] if len(sys.argv) > 2 else "Hello, World!"
    try:
        ipc_client = GreengrassCoreIPCClientV2()
        publish_binary_message_to_topic(ipc_client, topic, message)
        print("Published binary message to topic %s: %s" % (topic, message))
        publish_json_message_to_topic(ipc_client, topic, {"message": message})
        print("Published JSON message to topic %s: %s" % (topic, message))
        ipc_client.close()
    except Exception:
        print("Exception occurred when using IPC.", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)


def publish_binary_message_to_topic(ipc_client, topic, message):
    binary_message = BinaryMessage(message=bytes(message, "utf-8"))
    publish_message = PublishMessage(binary_message=binary_message)
    return ipc_client.publish_to_topic(topic=topic, publish_message=publish_message)


def publish_json_message_to_topic(ipc_client, topic, value):
    json_message = JsonMessage(message=value)
    publish_message = PublishMessage(json_message=json_message)
    return ipc_client.publish_to_topic(topic=topic, publish_message=publish_message)


if __name__ == "__main__":
    main()
